// Command smoke-test runs HTTP checks against a deployed environment,
// verifies that the live service is the release just deployed, and records
// verified-in-environment evidence on the image digest. See
// docs/steps/smoke-test.md.
package main

import (
	"github.com/driftless-dev/driftless/internal/step"
	"github.com/driftless-dev/driftless/internal/steps/smoketest"
)

func main() { step.Main(smoketest.Definition, smoketest.Run) }
