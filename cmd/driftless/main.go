// Command driftless is every step in one binary (multi-call, busybox-style):
// a link to it named after a step is that step (the container image's
// /usr/local/bin/apply-env), and `driftless <step> [flags]` runs the step
// named. Each step behaves exactly as its own binary; see docs/steps/.
package main

import (
	"github.com/driftless-dev/driftless/internal/step"
	"github.com/driftless-dev/driftless/internal/steps/applyenv"
	"github.com/driftless-dev/driftless/internal/steps/bakeimage"
	"github.com/driftless-dev/driftless/internal/steps/kustomizerender"
	"github.com/driftless-dev/driftless/internal/steps/smoketest"
	"github.com/driftless-dev/driftless/internal/steps/tagsync"
	"github.com/driftless-dev/driftless/internal/steps/validateconfig"
)

// The steps in the order the pipeline runs them, as --help lists them.
var programs = []step.Program{
	{Definition: validateconfig.Definition, Run: validateconfig.Run},
	{Definition: bakeimage.Definition, Run: bakeimage.Run},
	{Definition: tagsync.Definition, Run: tagsync.Run},
	{Definition: kustomizerender.Definition, Run: kustomizerender.Run},
	{Definition: applyenv.Definition, Run: applyenv.Run},
	{Definition: smoketest.Definition, Run: smoketest.Run},
}

func main() { step.MultiMain("driftless", programs...) }
