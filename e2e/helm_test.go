package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/random"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/driftless-dev/driftless/internal/cluster/clustertest"
	"github.com/driftless-dev/driftless/internal/registry/registrytest"
	"github.com/driftless-dev/driftless/internal/smoke/smoketest"
	"github.com/driftless-dev/driftless/internal/testtool"
)

// TestHelmExampleToProd: the example's chart-based pipeline
// (example/helm/driftless.yaml, environments rendered from example/chart)
// goes the whole way on the local control plane: kustomize-render renders
// both environments from the chart, apply-env deploys test (rendering it
// itself), smoke-test
// verifies it and records the evidence on the digest, and prod, which
// only admits a digest verified in test, then takes it. The cluster ends
// up with the chart's objects, pinned and recorded like an overlay's, and
// nothing of Helm's: no release Secrets, no test hook.
func TestHelmExampleToProd(t *testing.T) {
	c := clustertest.Shared(t)
	testNS, prodNS := clustertest.Namespace(t, c), clustertest.Namespace(t, c)
	bin := t.TempDir()
	build(t, bin, "kustomize-render", "apply-env", "smoke-test")

	host := registrytest.New(t)
	img, _ := random.Image(64, 1)
	image := registrytest.Push(t, host+"/pssp/api:build", img)
	sha := strings.Repeat("c", 40)
	live := smoketest.Start(t, smoketest.Options{Version: "v1.4.2", GitSHA: sha})

	// The example's spec as it is, but for what points at this machine:
	// the registry, the namespaces, where smoke-test finds the service
	// (the pods of KWOK's node do not run), and absolute paths to the
	// static configuration. The chart is beside it, as in the example.
	root := testtool.Root(t)
	b, err := os.ReadFile(filepath.Join(root, "example", "helm", "driftless.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for old, repl := range map[string]string{
		"127.0.0.1:5000":                  host,
		"namespace: pssp-helm-test":       "namespace: " + testNS,
		"namespace: pssp-helm-prod":       "namespace: " + prodNS,
		"service: pssp-api:80":            "url: " + live.URL,
		"dir: ../static":                  "dir: " + smoketest.ExampleStatic(t),
		" ../schemas/":                    " " + filepath.Join(root, "example", "schemas") + "/",
		"maxLatency: 500ms":               "maxLatency: 5s",
		"yaml-language-server: $schema=.": "",
	} {
		if !strings.Contains(s, old) {
			t.Fatalf("the example spec no longer has %q", old)
		}
		s = strings.ReplaceAll(s, old, repl)
	}
	dir := t.TempDir()
	if err := os.CopyFS(filepath.Join(dir, "chart"), os.DirFS(filepath.Join(root, "example", "chart"))); err != nil {
		t.Fatal(err)
	}
	spec := filepath.Join(dir, "helm", "driftless.yaml")
	if err := os.MkdirAll(filepath.Dir(spec), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(spec, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	// A release tag build on GitHub Actions (no token: no deployments API).
	env := []string{"KUBECONFIG=" + c.Kubeconfig(), "GITHUB_ACTIONS=true", "GITHUB_REF=refs/tags/v1.4.2",
		"GITHUB_SHA=" + sha, "GITHUB_REPOSITORY=o/r", "GITHUB_TOKEN=", "GITHUB_OUTPUT=", "GITHUB_STEP_SUMMARY="}

	r := step(t, filepath.Join(bin, "kustomize-render"), env, "--spec", spec, "--image", image, "--out", out)
	if r.code != 0 {
		t.Fatalf("kustomize-render: exit %d\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "chart test hook Pod/pssp-api-test-connection") {
		t.Errorf("kustomize-render did not say it left the test hook out:\n%s", r.stderr)
	}
	// prod applies kustomize-render's file; test is rendered by apply-env
	// itself from the spec, as when it runs without kustomize-render.
	apply := func(e string) result {
		args := []string{"--spec", spec, "--env", e, "--image", image, "--timeout", "2m", "--output", "json"}
		if e == "prod" {
			args = append(args, "--manifests", filepath.Join(out, e+".yaml"))
		}
		return step(t, filepath.Join(bin, "apply-env"), env, args...)
	}
	r = apply("prod")
	if r.code != 1 || !strings.Contains(r.stderr, "from: test") {
		t.Fatalf("prod before test verified the digest: exit %d\n%s", r.code, r.stderr)
	}
	if r = apply("test"); r.code != 0 {
		t.Fatalf("apply-env test: exit %d\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "apply-env: test: chart test hook Pod/pssp-api-test-connection") {
		t.Errorf("apply-env did not say it left the test hook out:\n%s", r.stderr)
	}
	r = step(t, filepath.Join(bin, "smoke-test"), env, "--spec", spec, "--env", "test", "--image", image, "--output", "json")
	if r.code != 0 {
		t.Fatalf("smoke-test in test: exit %d\n%s", r.code, r.stderr)
	}
	if r = apply("prod"); r.code != 0 {
		t.Fatalf("apply-env prod after test: exit %d\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, `"revision":"1"`) {
		t.Errorf("apply-env prod: %s\n%s", r.stdout, r.stderr)
	}

	core, err := c.REST(corev1.SchemeGroupVersion)
	if err != nil {
		t.Fatal(err)
	}
	var secrets corev1.SecretList
	if err := core.Get().Namespace(prodNS).Resource("secrets").Do(t.Context()).Into(&secrets); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range secrets.Items {
		if s.Type == "helm.sh/release.v1" {
			t.Errorf("Secret/%s is a Helm release: driftless records its own releases", s.Name)
		}
		names = append(names, s.Name)
	}
	if !strings.Contains(strings.Join(names, ","), "pssp-signing-key") {
		t.Errorf("prod's Secrets %v lack the chart's pssp-signing-key", names)
	}
	var pods corev1.PodList
	if err := core.Get().Namespace(testNS).Resource("pods").Do(t.Context()).Into(&pods); err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		if p.Name == "pssp-api-test-connection" {
			t.Error("the chart's test hook was deployed")
		}
	}
	apps, err := c.REST(appsv1.SchemeGroupVersion)
	if err != nil {
		t.Fatal(err)
	}
	var d appsv1.Deployment
	if err := apps.Get().Namespace(prodNS).Resource("deployments").Name("pssp-api").Do(t.Context()).Into(&d); err != nil {
		t.Fatal(err)
	}
	if got := d.Spec.Template.Spec.Containers[0].Image; *d.Spec.Replicas != 3 || got != image || d.Annotations["driftless.dev/image"] != image {
		t.Errorf("Deployment/%s/pssp-api: replicas %d (values-prod.yaml says 3), image %q, recorded %q; want %s", prodNS, *d.Spec.Replicas, got, d.Annotations["driftless.dev/image"], image)
	}
}
