package gate

import (
	"fmt"
	"strings"
	"time"

	"github.com/driftless-dev/driftless/internal/spec"
)

// maxCronSteps bounds the walk over a recurring window's starts: a window
// started every minute and lasting a year is more than anyone configures.
const maxCronSteps = 1_000_000

// window is one occurrence of a freeze window.
type window struct {
	start, end time.Time
}

// freezeGate is one freeze window: refused inside it unless overridden.
func freezeGate(in Input, f spec.Freeze, now time.Time) Result {
	r := Result{Name: fmt.Sprintf("freeze: %s", f.Name)}
	w, inside, next, err := occurrence(f, now)
	if err != nil {
		r.Detail = fmt.Sprintf("cannot evaluate freeze window %q: %v", f.Name, err)
		return r
	}
	if !inside {
		r.Passed = true
		switch {
		case !next.IsZero():
			r.Detail = fmt.Sprintf("outside the window; the next starts %s", stamp(next))
		case f.Cron == "" && !now.Before(w.end):
			r.Detail = fmt.Sprintf("the window %s – %s is over", stamp(w.start), stamp(w.end))
		default:
			r.Detail = "outside the window"
		}
		return r
	}
	r.Detail = fmt.Sprintf("inside freeze window %q (%s – %s, %s to go)", f.Name, stamp(w.start), stamp(w.end), human(w.end.Sub(now)))
	if reason := strings.TrimSpace(in.Override.Reason); reason != "" {
		r.Passed = true
		r.Override = reason
		by := ""
		if in.CI.Actor != "" {
			by = " by " + in.CI.Actor
		}
		r.Detail += fmt.Sprintf("; overridden%s: %s", by, reason)
		return r
	}
	r.Detail += "; nothing deploys to " + in.Environment.Name + " until then, unless an override gives the reason why it must"
	return r
}

// occurrence finds the occurrence of f that now is inside (inside true),
// or else the next start of a recurring window (zero when there is none)
// and, for a fixed window, the window.
//
// A recurring window starts at each time its cron expression names, in its
// time zone, and ends duration later on the wall clock of that zone: "0 18
// * * FRI" for 62h ends Monday 08:00 local time, also when the clocks
// changed over the weekend.
func occurrence(f spec.Freeze, now time.Time) (w window, inside bool, next time.Time, err error) {
	if f.Cron == "" {
		start, err1 := time.Parse(time.RFC3339, f.Start)
		end, err2 := time.Parse(time.RFC3339, f.End)
		if err1 != nil || err2 != nil {
			return window{}, false, time.Time{}, fmt.Errorf("start %q and end %q must be RFC 3339 times (2026-12-20T00:00:00Z)", f.Start, f.End)
		}
		w = window{start, end}
		if now.Before(start) {
			next = start
		}
		return w, !now.Before(start) && now.Before(end), next, nil
	}
	tz := f.TimeZone
	if tz == "" {
		tz = "UTC"
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return window{}, false, time.Time{}, fmt.Errorf("time zone %q: %w", tz, err)
	}
	sched, err := spec.CronParser.Parse(f.Cron)
	if err != nil {
		return window{}, false, time.Time{}, fmt.Errorf("cron expression %q: %w", f.Cron, err)
	}
	d := f.Duration.Duration
	if d <= 0 {
		return window{}, false, time.Time{}, fmt.Errorf("a recurring window needs a positive duration, not %s", d)
	}
	// Every occurrence that may still last started after now - d; a wall
	// clock end can be up to two hours off an elapsed-time end (DST).
	t := now.In(loc).Add(-d - 2*time.Hour)
	for range maxCronSteps {
		s := sched.Next(t)
		if s.IsZero() {
			return w, inside, time.Time{}, nil
		}
		if s.After(now) {
			return w, inside, s, nil
		}
		if e := wallAdd(s, d); e.After(now) && (!inside || e.After(w.end)) {
			w, inside = window{s, e}, true
		}
		t = s
	}
	return window{}, false, time.Time{}, fmt.Errorf("%q starts more than %d times within %s", f.Cron, maxCronSteps, d)
}

// wallAdd adds d to t's wall clock in t's location.
func wallAdd(t time.Time, d time.Duration) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second()+int(d/time.Second), t.Nanosecond()+int(d%time.Second), t.Location())
}

func stamp(t time.Time) string {
	return t.Format("Mon 2006-01-02 15:04 MST")
}
