package release

import "fmt"

// Refusal is a release that must not go ahead: a tag that is not a release,
// a version tag that already names something else, a tag on another commit.
// The message says what was found and what to do. Steps exit 1 on it; any
// other error means the check could not be made.
type Refusal struct {
	Msg string
}

func (r *Refusal) Error() string { return r.Msg }

func refusef(format string, args ...any) error {
	return &Refusal{Msg: fmt.Sprintf(format, args...)}
}
