package applyenv

import (
	"fmt"
	"strings"

	"github.com/driftless-dev/driftless/internal/apply"
)

// podReports renders what the failed workloads' pods said before the
// rollback (apply.RolloutError.Pods) for the step summary: the events
// folded away, the end of each container's log in view.
func podReports(pods []apply.PodReport) string {
	var b strings.Builder
	b.WriteString("#### Why it failed\n\nWhat the failed release's pods said before the rollback took them away (Secret values masked):\n\n")
	for _, r := range pods {
		fmt.Fprintf(&b, "**`%s`**, pod `%s`: %s\n\n", r.Workload, r.Pod, r.State)
		if len(r.Events) > 0 {
			fmt.Fprintf(&b, "<details><summary>recent events (%d)</summary>\n\n```\n%s\n```\n</details>\n\n", len(r.Events), fence(strings.Join(r.Events, "\n")))
		}
		for _, l := range r.Logs {
			fmt.Fprintf(&b, "%s:\n\n", l.What())
			switch {
			case l.Err != "":
				fmt.Fprintf(&b, "(no log: %s)\n\n", l.Err)
			case len(l.Lines) == 0:
				b.WriteString("(empty)\n\n")
			default:
				fmt.Fprintf(&b, "```\n%s\n```\n\n", fence(strings.Join(l.Lines, "\n")))
			}
		}
	}
	return b.String()
}

// fence keeps a log line from closing the code block it is shown in.
func fence(s string) string { return strings.ReplaceAll(s, "```", "`\u200b``") }
