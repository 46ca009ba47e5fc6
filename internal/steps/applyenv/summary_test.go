package applyenv

import (
	"strings"
	"testing"

	"github.com/driftless-dev/driftless/internal/apply"
	"github.com/driftless-dev/driftless/internal/spec"
	"github.com/driftless-dev/driftless/internal/step"
)

// TestSummaryLinks: on GitHub the summary links the commit, the run and
// the environment; locally it names the commit without a link.
func TestSummaryLinks(t *testing.T) {
	t.Parallel()
	env := &spec.Environment{Name: "prod", Namespace: "shop", URL: "https://shop.example.com"}
	d := apply.Deployment{Digest: "sha256:abc", Version: "v1.2.3", GitSHA: "0123456789abcdef0123456789abcdef01234567"}
	gh := step.CI{Provider: step.ProviderGitHub, ServerURL: "https://github.com", Repository: "acme/shop", RunURL: "https://github.com/acme/shop/actions/runs/7"}
	got := summary(env, d, gh, &apply.Outcome{Revision: 3, Previous: 2}, nil)
	for _, want := range []string{
		"| commit | [`0123456789ab`](https://github.com/acme/shop/commit/0123456789abcdef0123456789abcdef01234567) |",
		"| run | [https://github.com/acme/shop/actions/runs/7](https://github.com/acme/shop/actions/runs/7) |",
		"| environment | <https://shop.example.com> |",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("summary lacks %q:\n%s", want, got)
		}
	}
	local := summary(env, d, step.CI{Provider: step.ProviderLocal}, &apply.Outcome{}, nil)
	if !strings.Contains(local, "| commit | `0123456789abcdef0123456789abcdef01234567` |") || strings.Contains(local, "| run |") {
		t.Errorf("local summary:\n%s", local)
	}
	gl := step.CI{Provider: step.ProviderGitLab, ServerURL: "https://gitlab.example.com", Repository: "team/shop"}
	if u := gl.CommitURL("abc"); u != "https://gitlab.example.com/team/shop/-/commit/abc" {
		t.Errorf("GitLab commit URL %q", u)
	}
}
