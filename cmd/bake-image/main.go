// Command bake-image turns a base image plus the static configuration and
// binaries into a reproducible, labelled image pushed by digest. See
// docs/steps/bake-image.md.
package main

import (
	"github.com/driftless-dev/driftless/internal/step"
	"github.com/driftless-dev/driftless/internal/steps/bakeimage"
)

func main() { step.Main(bakeimage.Definition, bakeimage.Run) }
