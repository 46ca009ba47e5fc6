package waves

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/driftless-dev/driftless/internal/apply"
)

// Result is what happened in one cluster.
type Result string

// Results.
const (
	// Deployed: the release was deployed and recorded as a new revision.
	Deployed Result = "deployed"
	// Unchanged: the cluster already held the release (a re-run); it was
	// applied again, putting back any drift, and no release recorded.
	Unchanged Result = "unchanged"
	// Failed: the rollout failed; apply rolled the cluster back to its
	// previous release when there was one (Err says).
	Failed Result = "failed"
	// Refused: checked again before its wave started, the cluster refused
	// the deployment; nothing was written to it.
	Refused Result = "refused"
	// RolledBack: healthy, then rolled back with its failing wave
	// (rollback-wave).
	RolledBack Result = "rolled back"
	// NotStarted: a cluster after the failure; nothing was written to it.
	NotStarted Result = "not started"
	// Held: a cluster of a wave before the one deployed (Options.Wave,
	// Options.Cluster), read only: it holds the release.
	Held Result = "held"
)

// Report is what a run did, wave by wave.
type Report struct {
	Version, Digest, Namespace string
	Waves                      []WaveReport
}

// WaveReport is one wave's part of a run.
type WaveReport struct {
	Name string
	// Started and Finished bound the wave's deployment (rollbacks of
	// rollback-wave come after Finished); zero when it did not start.
	Started, Finished time.Time
	Bake              time.Duration
	// BakedSince is when the last of the wave's clusters got the release,
	// the start of its bake; BakeWaited how long this run waited for it
	// (0 when a re-run found the bake served already).
	BakedSince time.Time
	BakeWaited time.Duration
	Clusters   []ClusterReport
}

// ClusterReport is one cluster's part of a run.
type ClusterReport struct {
	Wave, Cluster string
	// Where names the cluster's context and API server.
	Where  string
	Result Result
	// Revision is the cluster's release now live: the one deployed, or
	// the one restored after a failure.
	Revision, Previous int
	Changed            bool
	// Since is the time of the live release's record.
	Since            time.Time
	Started          time.Time
	Duration         time.Duration
	Err              error
	Outcome          *apply.Outcome
	RolledBackTo     int
	RollbackDuration time.Duration
	RollbackErr      error
}

// fill records a cluster's outcome.
func (c *ClusterReport) fill(out *apply.Outcome, err error) {
	c.Outcome, c.Err = out, err
	if out != nil {
		c.Revision, c.Previous, c.Changed, c.Since = out.Revision, out.Previous, out.Changed, out.Since
	}
	switch {
	case err != nil:
		c.Result = Failed
		if out != nil && out.RolledBack {
			c.Revision = out.Previous
		}
	case out.Revision == out.Previous:
		c.Result = Unchanged
	default:
		c.Result = Deployed
	}
}

// Changed reports whether any cluster changed.
func (r *Report) Changed() bool {
	for _, w := range r.Waves {
		for _, c := range w.Clusters {
			if c.Changed || c.Result == RolledBack {
				return true
			}
		}
	}
	return false
}

// Markdown is the report as a step summary table: wave, cluster, result,
// revision, duration; then why each failed cluster failed.
func (r *Report) Markdown() string {
	var b strings.Builder
	b.WriteString("| wave | cluster | result | revision | duration |\n|---|---|---|---:|---:|\n")
	var why []string
	for _, w := range r.Waves {
		for _, c := range w.Clusters {
			result := string(c.Result)
			switch c.Result {
			case Deployed, Unchanged, Held:
				result = "✅ " + result
			case Failed, Refused:
				result = "❌ " + result
			case RolledBack:
				result = "↩️ " + result
			}
			rev, took := "", ""
			if c.Revision > 0 {
				rev = fmt.Sprint(c.Revision)
			}
			if c.Duration > 0 {
				took = c.Duration.Round(100 * time.Millisecond).String()
			}
			if c.Result == RolledBack {
				rev = fmt.Sprintf("%d → %d", c.Revision, c.RolledBackTo)
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", w.Name, c.Cluster, result, rev, took)
			if c.Err != nil {
				why = append(why, fmt.Sprintf("- **%s** (wave %s, %s): %s", c.Cluster, w.Name, c.Where, oneLine(c.Err)))
			}
			if c.RollbackErr != nil {
				why = append(why, fmt.Sprintf("- **%s**: rolling back with its wave failed: %s", c.Cluster, oneLine(c.RollbackErr)))
			}
		}
		if w.BakeWaited > 0 {
			fmt.Fprintf(&b, "| %s | | baked %s | | |\n", w.Name, w.BakeWaited.Round(time.Second))
		} else if w.Bake > 0 && !w.BakedSince.IsZero() {
			fmt.Fprintf(&b, "| %s | | bake %s served since %s | | |\n", w.Name, w.Bake, w.BakedSince.UTC().Format(time.RFC3339))
		}
	}
	if len(why) > 0 {
		b.WriteString("\n" + strings.Join(why, "\n") + "\n")
	}
	return b.String()
}

func oneLine(err error) string {
	return strings.ReplaceAll(strings.ReplaceAll(err.Error(), "\n", " "), "|", "\\|")
}

// ClusterError is a problem in one cluster, named with its wave.
type ClusterError struct {
	Wave, Cluster string
	// Where names the context and API server, when connected.
	Where string
	Err   error
}

func (e *ClusterError) Error() string {
	if e.Where != "" {
		return fmt.Sprintf("cluster %q (wave %q, %s): %v", e.Cluster, e.Wave, e.Where, e.Err)
	}
	return fmt.Sprintf("cluster %q (wave %q): %v", e.Cluster, e.Wave, e.Err)
}

func (e *ClusterError) Unwrap() error { return e.Err }

// UnreachableError is one or more clusters that could not be reached
// before anything was written: nothing was.
type UnreachableError struct {
	Clusters []error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("%d cluster(s) could not be reached; nothing was applied to any cluster: %v", len(e.Clusters), errors.Join(e.Clusters...))
}

func (e *UnreachableError) Unwrap() []error { return e.Clusters }

// NotHeldError is a wave deployed alone (Options.Wave, Options.Cluster)
// whose earlier waves do not hold the release yet.
type NotHeldError struct {
	Wave, Cluster, Version string
	// Live is the cluster's live release, nil when none.
	Live *apply.ReleaseRecord
	// Next is the wave asked for.
	Next string
}

func (e *NotHeldError) Error() string {
	live := "has no release"
	if e.Live != nil {
		live = fmt.Sprintf("is at release %d (%s, %s)", e.Live.Revision, e.Live.Version, e.Live.Digest)
	}
	return fmt.Sprintf("wave %q comes before wave %q and does not hold %s: cluster %q %s; deploy wave %q first; nothing was applied", e.Wave, e.Next, e.Version, e.Cluster, live, e.Wave)
}

// WaveError is a wave in which a cluster failed: the waves after it were
// not touched.
type WaveError struct {
	Wave   string
	Policy Policy
	// Failed are the clusters that failed, with why; RolledBack those
	// rolled back with the wave (rollback-wave).
	Failed, RolledBack []*ClusterReport
	// Untouched are the later waves.
	Untouched []string
}

func (e *WaveError) Error() string {
	var parts []string
	for _, c := range e.Failed {
		parts = append(parts, fmt.Sprintf("cluster %q (%s): %v", c.Cluster, c.Where, c.Err))
	}
	msg := fmt.Sprintf("wave %q failed: %s", e.Wave, strings.Join(parts, "; "))
	if len(e.RolledBack) > 0 {
		msg += fmt.Sprintf("; rolled back with the wave (onFailure: %s): %s", e.Policy, strings.Join(names(e.RolledBack), ", "))
	}
	for _, c := range e.RolledBack {
		if c.RollbackErr != nil {
			msg += fmt.Sprintf("; rolling back cluster %q failed: %v", c.Cluster, c.RollbackErr)
		}
	}
	if len(e.Untouched) > 0 {
		msg += "; later waves were not touched: " + strings.Join(e.Untouched, ", ")
	}
	return msg
}

// Unwrap gives the clusters' errors, so callers find an
// *apply.RolloutError (or another apply error) in it.
func (e *WaveError) Unwrap() []error {
	var out []error
	for _, c := range e.Failed {
		out = append(out, c.Err)
	}
	return out
}
