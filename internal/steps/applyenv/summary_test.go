package applyenv

import (
	"path/filepath"
	"testing"

	"github.com/driftless-dev/driftless/internal/apply"
	"github.com/driftless-dev/driftless/internal/spec"
	"github.com/driftless-dev/driftless/internal/step"
	"github.com/driftless-dev/driftless/internal/testtool"
)

// TestSummaryLinks: on GitHub the summary links the commit, the run and
// the environment; locally it names the commit without a link.
func TestSummaryLinks(t *testing.T) {
	t.Parallel()
	env := &spec.Environment{Name: "prod", Namespace: "shop", URL: "https://shop.example.com"}
	d := apply.Deployment{Digest: "sha256:abc", Version: "v1.2.3", GitSHA: "0123456789abcdef0123456789abcdef01234567"}
	gh := step.CI{Provider: step.ProviderGitHub, ServerURL: "https://github.com", Repository: "acme/shop", RunURL: "https://github.com/acme/shop/actions/runs/7"}
	out := &apply.Outcome{Revision: 3, Previous: 2, Changed: true, Results: []apply.Result{
		{Object: "Deployment/shop/api", Change: apply.Configured},
		{Object: "ConfigMap/shop/api-config-5kch646856", Change: apply.Created},
		{Object: "ConfigMap/shop/api-config-447c4kmhfd", Change: apply.Pruned},
		{Object: "Service/shop/api", Change: apply.Unchanged},
	}}
	got := summary(env, d, gh, out, nil)
	testtool.Golden(t, filepath.Join("testdata", "golden", "summary-github.md"), []byte(got))
	local := summary(env, d, step.CI{Provider: step.ProviderLocal}, &apply.Outcome{}, nil)
	testtool.Golden(t, filepath.Join("testdata", "golden", "summary-local.md"), []byte(local))
	gl := step.CI{Provider: step.ProviderGitLab, ServerURL: "https://gitlab.example.com", Repository: "team/shop"}
	if u := gl.CommitURL("abc"); u != "https://gitlab.example.com/team/shop/-/commit/abc" {
		t.Errorf("GitLab commit URL %q", u)
	}
}
