// Package steptest runs a step in-process for tests: a fake environment,
// captured stdout and stderr, the real step.Run.
package steptest

import (
	"bytes"
	"context"
	"testing"

	"github.com/driftless-dev/driftless/internal/step"
)

// Result is what a step run produced.
type Result struct {
	Code           int
	Stdout, Stderr string
}

// Run runs the step with the given environment variables and arguments.
// The local Git context is read from an empty directory.
func Run(t *testing.T, def step.Definition, fn step.Func, env map[string]string, args ...string) Result {
	t.Helper()
	var out, errb bytes.Buffer
	code := step.Run(context.Background(), def, fn, step.IO{
		Args: args, Getenv: func(k string) string { return env[k] }, Stdout: &out, Stderr: &errb, Dir: t.TempDir(),
	})
	return Result{code, out.String(), errb.String()}
}
