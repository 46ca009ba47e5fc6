// Command kustomize-render renders each environment's overlay with the
// pipeline's image pinned by digest and traceability metadata, one file per
// environment. See docs/steps/kustomize-render.md.
package main

import (
	"github.com/driftless-dev/driftless/internal/step"
	"github.com/driftless-dev/driftless/internal/steps/kustomizerender"
)

func main() { step.Main(kustomizerender.Definition, kustomizerender.Run) }
