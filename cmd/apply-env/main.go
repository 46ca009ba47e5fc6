// Command apply-env applies a rendered environment to a cluster: staged
// server-side apply, health, prune, release history and rollback. See
// docs/steps/apply-env.md.
package main

import (
	"github.com/driftless-dev/driftless/internal/step"
	"github.com/driftless-dev/driftless/internal/steps/applyenv"
)

func main() { step.Main(applyenv.Definition, applyenv.Run) }
