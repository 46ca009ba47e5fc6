package applyenv

import (
	"path/filepath"
	"testing"

	"github.com/driftless-dev/driftless/internal/cluster/clustertest"
	"github.com/driftless-dev/driftless/internal/githubdeploy"
	"github.com/driftless-dev/driftless/internal/githubtest"
	"github.com/driftless-dev/driftless/internal/step/steptest"
)

// TestReusesTheJobsDeployment: in a job that declares its environment,
// GitHub Actions has made the Deployment already: apply-env adds its
// statuses to that one (found by the run's ID) and creates none; without
// such a job it creates one.
func TestReusesTheJobsDeployment(t *testing.T) {
	t.Parallel()
	c := clustertest.Shared(t)
	ns := clustertest.Namespace(t, c)
	dir := t.TempDir()
	writeSpec(t, dir, ns)
	const sha = "0123456789abcdef0123456789abcdef01234567"
	run := func(apiURL string) steptest.Result {
		env := map[string]string{
			"KUBECONFIG": c.Kubeconfig(), "GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "o/r", "GITHUB_SHA": sha, "GITHUB_REF": "refs/tags/v1.0.0",
			"GITHUB_API_URL": apiURL, "GITHUB_TOKEN": "gh-token-123", "GITHUB_RUN_ID": "42", "GITHUB_SERVER_URL": "https://github.com",
		}
		r := steptest.Run(t, Definition, Run, env, "--spec", filepath.Join(dir, "driftless.yaml"), "--env", "test", "--manifests", filepath.Join(dir, "m.yaml"), "--image", testImage, "--output", "json")
		if r.Code != 0 {
			t.Fatalf("exit %d\n%s", r.Code, r.Stderr)
		}
		return r
	}

	actions := githubtest.New(t, "o", "r", "gh-token-123")
	actions.StartJob(githubtest.ActionsJob{Environment: "test", SHA: sha, Ref: "v1.0.0", RunID: 4, JobID: 1}) // another run
	job := actions.StartJob(githubtest.ActionsJob{Environment: "test", SHA: sha, Ref: "v1.0.0", RunID: 42, JobID: 7})
	run(actions.URL)
	ds := actions.Deployments()
	if len(ds) != 2 {
		t.Fatalf("deployments %+v; want the two GitHub made, none of apply-env's", ds)
	}
	for _, d := range ds {
		st := d.Statuses
		switch {
		case d.ID == job && (len(st) < 2 || st[len(st)-1].State != githubdeploy.StateSuccess):
			t.Errorf("this run's deployment: statuses %+v; want apply-env's success last", st)
		case d.ID != job && len(st) != 2: // queued, in_progress: GitHub's own
			t.Errorf("another run's deployment got statuses %+v", st)
		}
	}

	plain := githubtest.New(t, "o", "r", "gh-token-123")
	run(plain.URL)
	if ds := plain.Deployments(); len(ds) != 1 || ds[0].Task != githubdeploy.Task || ds[0].Environment != "test" {
		t.Errorf("deployments %+v; want one apply-env made", ds)
	}
}
