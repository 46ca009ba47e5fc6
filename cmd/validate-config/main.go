// Command validate-config checks the pipeline spec, the static
// configuration, every environment's rendered overlay and every object in
// it. See docs/steps/validate-config.md.
package main

import (
	"github.com/driftless-dev/driftless/internal/step"
	"github.com/driftless-dev/driftless/internal/steps/validateconfig"
)

func main() { step.Main(validateconfig.Definition, validateconfig.Run) }
