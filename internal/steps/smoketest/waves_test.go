package smoketest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/driftless-dev/driftless/internal/smoke/smoketest"
	"github.com/driftless-dev/driftless/internal/step/steptest"
)

// TestWavesEachCluster: with waves, each cluster is checked at its own
// url and reported on its own; a cluster running another release fails
// the step naming it; input wave checks one wave, and evidence waits for
// the last; a cluster reached through its API server that cannot be
// reached exits 2 naming it. The kubeconfigs point at a closed port: with
// a url, a cluster only tells what to expect, so that is a warning.
func TestWavesEachCluster(t *testing.T) {
	t.Parallel()
	good := smoketest.Start(t, smoketest.Options{Version: version, GitSHA: gitSHA})
	stale := smoketest.Start(t, smoketest.Options{Version: "v1.4.1", GitSHA: gitSHA})
	dir := t.TempDir()
	kubeconfig := func(name string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: x}}]
contexts: [{name: `+name+`, context: {cluster: c, user: u}}]
current-context: `+name+`
`), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ka, kb, kc := kubeconfig("a"), kubeconfig("b"), kubeconfig("c")
	waves := func(bURL string) string {
		return "    waves:\n" +
			"      - {name: canary, clusters: [{name: a, kubeconfig: " + ka + ", url: \"" + good.URL + "\"}]}\n" +
			"      - {name: main, clusters: [{name: b, kubeconfig: " + kb + ", url: \"" + bURL + "\"}]}"
	}
	smokeYAML := "      timeout: 3s\n      service: api:80"
	img := image(t)
	run := func(spec string, args ...string) steptest.Result {
		t.Helper()
		return steptest.Run(t, Definition, Run, nil, append([]string{"--spec", spec, "--env", "test", "--release", version, "--git-sha", gitSHA, "--image", img, "--output", "json"}, args...)...)
	}

	mixed := project(t, waves(stale.URL), smokeYAML)
	r := run(mixed)
	if r.Code != 1 || !strings.Contains(r.Stderr, "failed in cluster(s) b;") || !strings.Contains(r.Stderr, `smoke-test: warning: cluster "a"`) {
		t.Fatalf("a stale cluster: exit %d, want 1 naming b\n%s", r.Code, r.Stderr)
	}
	if o := outputs(t, r.Stdout); o["passed"] != "1" || o["failed"] != "1" || o["evidence"] != "" {
		t.Errorf("a stale cluster: outputs %v", o)
	}
	r = run(mixed, "--wave", "canary")
	if r.Code != 0 || !strings.Contains(r.Stderr, `evidence not recorded: wave "canary" is not the environment's last`) {
		t.Fatalf("wave canary: exit %d\n%s", r.Code, r.Stderr)
	}
	if _, ok := findEvidence(t, img, nil).Newest(); ok {
		t.Error("evidence recorded though not every cluster was checked")
	}
	if r := run(mixed, "--wave", "eu"); r.Code != 2 || !strings.Contains(r.Stderr, `wave "eu" is not in environment "test"; valid waves: canary, main`) {
		t.Errorf("unknown wave: exit %d\n%s", r.Code, r.Stderr)
	}

	r = run(project(t, waves(good.URL), smokeYAML), "--junit", filepath.Join(dir, "junit.xml"))
	if r.Code != 0 {
		t.Fatalf("both good: exit %d\n%s", r.Code, r.Stderr)
	}
	if o := outputs(t, r.Stdout); o["passed"] != "2" || o["evidence"] == "" {
		t.Errorf("both good: outputs %v", o)
	}
	if j := readJUnit(t, filepath.Join(dir, "junit.xml")); j.Tests != 2 || len(j.Suites) != 1 || j.Suites[0].Cases[1].Name != "b: version" {
		t.Errorf("junit %+v", j)
	}

	through := project(t, waves(good.URL)+"\n      - {name: far, clusters: [{name: c, kubeconfig: "+kc+"}]}", smokeYAML)
	r = run(through)
	if r.Code != 2 || !strings.Contains(r.Stderr, `cluster "c" (wave "far"): cannot reach the cluster (context "c" at https://127.0.0.1:1)`) {
		t.Errorf("an unreachable cluster without url: exit %d, want 2 naming c\n%s", r.Code, r.Stderr)
	}
}
