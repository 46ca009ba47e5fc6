package step

import (
	"errors"
	"flag"
)

// Exit codes of the step contract.
const (
	// ExitOK means the step did its work.
	ExitOK = 0
	// ExitFailed means the step ran and the check or deployment failed: a
	// gate refused, validation found errors, a rollout failed.
	ExitFailed = 1
	// ExitUnusable means the step could not run: bad flags, a bad spec, an
	// unreachable cluster or registry.
	ExitUnusable = 2
)

// ExitError carries the exit code an error should end the step with.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// Failed marks err as a failed check (exit code 1), as opposed to a step
// that could not run.
func Failed(err error) error {
	if err == nil {
		return nil
	}
	return &ExitError{Code: ExitFailed, Err: err}
}

// Unusable marks err explicitly as "could not run" (exit code 2). Unmarked
// errors get this code too; use it where a wrapped error might otherwise carry
// a different code.
func Unusable(err error) error {
	if err == nil {
		return nil
	}
	return &ExitError{Code: ExitUnusable, Err: err}
}

// ExitCode maps an error returned by a step to the contract's exit code.
func ExitCode(err error) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	return ExitUnusable
}
