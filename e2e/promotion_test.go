package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/driftless-dev/driftless/internal/cluster/clustertest"
	"github.com/driftless-dev/driftless/internal/registry/registrytest"
	"github.com/driftless-dev/driftless/internal/smoke/smoketest"
	"github.com/driftless-dev/driftless/internal/testtool"
)

func TestMain(m *testing.M) { clustertest.Main(m) }

// build compiles the named step binaries into dir.
func build(t *testing.T, dir string, steps ...string) {
	t.Helper()
	for _, s := range steps {
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, s), "./cmd/"+s)
		cmd.Dir = testtool.Root(t)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("building %s: %v\n%s", s, err, out)
		}
	}
}

type result struct {
	code           int
	stdout, stderr string
}

func step(t *testing.T, bin string, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code, out.String(), errb.String()}
}

// TestPromotion: prod refuses a digest nobody verified; smoke-test passes
// in test and records the evidence on the digest; then prod admits it.
func TestPromotion(t *testing.T) {
	c := clustertest.Shared(t)
	ns := clustertest.Namespace(t, c)
	bin := t.TempDir()
	build(t, bin, "smoke-test", "apply-env")

	host := registrytest.New(t)
	img, _ := random.Image(64, 1)
	image := registrytest.Push(t, host+"/pssp/api:build", img)
	live := smoketest.Start(t, smoketest.Options{Version: "v1.4.2", GitSHA: strings.Repeat("c", 40)})

	dir := t.TempDir()
	files := map[string]string{
		"driftless.yaml": fmt.Sprintf(`apiVersion: driftless.dev/v1alpha1
kind: Pipeline
name: pssp-api
image: {repository: %s/pssp/api, base: scratch}
static: {dir: %s, path: /var/portal-api/static}
environments:
  - name: test
    overlay: k
    namespace: %s-test
    smoke:
      url: %s
      checks: [{name: catalog, path: /apis/catalog, json: {name: catalog}}]
  - name: prod
    overlay: k
    namespace: %s
    promotion: {from: test, gitTag: required}
`, host, smoketest.ExampleStatic(t), ns, live.URL, ns),
		"k/kustomization.yaml": "resources: []\n",
		"prod.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: api, namespace: " + ns + "}\ndata: {LOG_LEVEL: info}\n---\n" +
			"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api, namespace: " + ns + "}\n" +
			"spec:\n  selector: {matchLabels: {app: api}}\n  template:\n    metadata: {labels: {app: api}}\n    spec: {containers: [{name: api, image: \"" + image + "\"}]}\n",
	}
	for n, content := range files {
		p := filepath.Join(dir, n)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	spec := filepath.Join(dir, "driftless.yaml")
	// A release tag build on GitHub Actions (no token: no deployments API).
	env := []string{"KUBECONFIG=" + c.Kubeconfig(), "GITHUB_ACTIONS=true", "GITHUB_REF=refs/tags/v1.4.2",
		"GITHUB_SHA=" + strings.Repeat("c", 40), "GITHUB_REPOSITORY=o/r", "GITHUB_TOKEN=", "GITHUB_OUTPUT=", "GITHUB_STEP_SUMMARY="}
	prod := []string{"--spec", spec, "--env", "prod", "--manifests", filepath.Join(dir, "prod.yaml"), "--image", image, "--output", "json"}

	r := step(t, filepath.Join(bin, "apply-env"), env, prod...)
	if r.code != 1 || !strings.Contains(r.stderr, "from: test") || !strings.Contains(r.stderr, "nothing was applied") {
		t.Fatalf("prod before verification: exit %d\n%s", r.code, r.stderr)
	}

	r = step(t, filepath.Join(bin, "smoke-test"), env, "--spec", spec, "--env", "test", "--image", image, "--output", "json")
	if r.code != 0 {
		t.Fatalf("smoke-test in test: exit %d\n%s", r.code, r.stderr)
	}
	var smoke map[string]string
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &smoke); err != nil || smoke["evidence"] == "" || smoke["failed"] != "0" {
		t.Fatalf("smoke-test outputs %q: %v", r.stdout, err)
	}

	r = step(t, filepath.Join(bin, "apply-env"), env, prod...)
	if r.code != 0 {
		t.Fatalf("prod after verification in test: exit %d\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "from: test") || !strings.Contains(r.stdout, `"revision":"1"`) {
		t.Errorf("apply-env prod:\n%s\n%s", r.stdout, r.stderr)
	}
}
