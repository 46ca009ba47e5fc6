package applyenv

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/driftless-dev/driftless/internal/cluster/clustertest"
	"github.com/driftless-dev/driftless/internal/githubtest"
	"github.com/driftless-dev/driftless/internal/prcomment"
	"github.com/driftless-dev/driftless/internal/step/steptest"
)

// TestDryRunCommentsOnThePullRequest: on a pull request the dry run is one
// comment per environment, edited in place by the next run, with Secret
// values masked as in the summary.
func TestDryRunCommentsOnThePullRequest(t *testing.T) {
	c := clustertest.Shared(t)
	ns := clustertest.Namespace(t, c)
	dir := t.TempDir()
	writeSpec(t, dir, ns)
	spec, manifests := filepath.Join(dir, "driftless.yaml"), filepath.Join(dir, "m.yaml")
	if r := steptest.Run(t, Definition, Run, map[string]string{"KUBECONFIG": c.Kubeconfig()}, "--spec", spec, "--env", "test", "--manifests", manifests); r.Code != 0 {
		t.Fatalf("deploy: exit %d\n%s", r.Code, r.Stderr)
	}
	m, _ := os.ReadFile(manifests)
	secret := "apiVersion: v1\nkind: Secret\nmetadata: {name: key, namespace: " + ns + "}\nstringData: {key: hunter2-s3cret}\n---\n"
	changed := filepath.Join(dir, "changed.yaml")
	if err := os.WriteFile(changed, []byte(secret+strings.Replace(string(m), "data: {a: b}", "data: {a: c}", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	fake := githubtest.New(t, "o", "r", "gh-token")
	env := map[string]string{
		"KUBECONFIG": c.Kubeconfig(), "GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": "pull_request", "GITHUB_REF": "refs/pull/5/merge",
		"GITHUB_REPOSITORY": "o/r", "GITHUB_SHA": strings.Repeat("a", 40), "GITHUB_TOKEN": "gh-token", "GITHUB_API_URL": fake.URL,
	}
	for i := range 2 {
		r := steptest.Run(t, Definition, Run, env, "--spec", spec, "--env", "test", "--manifests", changed, "--dry-run")
		if r.Code != 1 || !strings.Contains(r.Stderr, "dry run commented on pull request #5") {
			t.Fatalf("dry run %d: exit %d, want 1 and a comment\n%s", i+1, r.Code, r.Stderr)
		}
	}
	comments := fake.Comments(5)
	if len(comments) != 1 {
		t.Fatalf("%d comments, want one edited in place", len(comments))
	}
	body := comments[0].Body
	if !strings.HasPrefix(body, prcomment.Marker("x/test")) || !strings.Contains(body, "ConfigMap/"+ns+"/c") || !strings.Contains(body, "Secret/"+ns+"/key") {
		t.Errorf("comment:\n%s", body)
	}
	if strings.Contains(body, "hunter2-s3cret") {
		t.Errorf("the comment shows a Secret value:\n%s", body)
	}
}
