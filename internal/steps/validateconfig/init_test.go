package validateconfig

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/driftless-dev/driftless/internal/testtool"
)

// writeFiles lays out files under dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

const (
	deployment = `apiVersion: apps/v1
kind: Deployment
metadata: {name: shop}
spec:
  selector: {matchLabels: {app: shop}}
  template:
    metadata: {labels: {app: shop}}
    spec:
      containers:
        - name: shop
          image: ghcr.io/acme/shop:1.0.0
          resources: {requests: {cpu: 10m, memory: 32Mi}}
`
	service = "apiVersion: v1\nkind: Service\nmetadata: {name: shop}\nspec: {selector: {app: shop}, ports: [{port: 80}]}\n"
	redis   = `apiVersion: apps/v1
kind: Deployment
metadata: {name: redis}
spec:
  selector: {matchLabels: {app: redis}}
  template:
    metadata: {labels: {app: redis}}
    spec:
      containers:
        - name: redis
          image: redis:7.2.5
          resources: {requests: {cpu: 10m, memory: 32Mi}}
`
)

// TestInit: a repository with plain manifests adopts driftless with
// --init, which validate-config then accepts; a second --init overwrites
// nothing; an ambiguous image is asked for, with nothing written.
func TestInit(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"k8s/deployment.yaml": deployment, "k8s/service.yaml": service, "k8s/README.md": "not a manifest\n"})
	spec := filepath.Join(dir, "driftless.yaml")
	code, _, stderr := runStep(t, nil, "--spec", spec, "--init", "--init-manifests", filepath.Join(dir, "k8s"))
	if code != 0 {
		t.Fatalf("init: exit %d\n%s", code, stderr)
	}
	for _, want := range []string{"wrote driftless.yaml", "wrote k8s/kustomization.yaml", "wrote kustomize/overlays/test/kustomization.yaml", "wrote kustomize/overlays/prod/kustomization.yaml", "image ghcr.io/acme/shop, pushed to ghcr.io/acme/shop"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	// What was written is a pipeline validate-config accepts as it is.
	if code, _, stderr := runStep(t, nil, "--spec", spec, "--strict"); code != 0 {
		t.Errorf("validating the scaffold: exit %d\n%s", code, stderr)
	}
	before, _ := os.ReadFile(spec)
	if code, _, stderr := runStep(t, nil, "--spec", spec, "--init", "--init-manifests", filepath.Join(dir, "k8s")); code != 2 || !strings.Contains(stderr, "exists already") {
		t.Errorf("second init: exit %d, want 2 refusing to overwrite\n%s", code, stderr)
	}
	if after, _ := os.ReadFile(spec); string(after) != string(before) {
		t.Error("the second init changed the spec")
	}

	// Two images: which one is the service's must be said.
	two := t.TempDir()
	writeFiles(t, two, map[string]string{"deploy/app.yaml": deployment, "deploy/redis.yaml": redis})
	spec2 := filepath.Join(two, "driftless.yaml")
	code, _, stderr = runStep(t, nil, "--spec", spec2, "--init", "--init-manifests", filepath.Join(two, "deploy"))
	if code != 2 || !strings.Contains(stderr, "the manifests run 2 images (ghcr.io/acme/shop, redis): pass init-image") {
		t.Errorf("ambiguous image: exit %d\n%s", code, stderr)
	}
	if entries, _ := os.ReadDir(two); len(entries) != 1 {
		t.Errorf("a refused init wrote files: %v", entries)
	}
	code, _, stderr = runStep(t, nil, "--spec", spec2, "--init", "--init-manifests", filepath.Join(two, "deploy"), "--init-image", "ghcr.io/acme/shop:1.0.0", "--init-repository", "registry.example.com/acme/shop")
	if code != 0 {
		t.Fatalf("init with init-image: exit %d\n%s", code, stderr)
	}
	b, _ := os.ReadFile(spec2)
	if !strings.Contains(string(b), "repository: \"registry.example.com/acme/shop\"\n  name: \"ghcr.io/acme/shop\"") {
		t.Errorf("spec:\n%s", b)
	}
}

// TestInitOnAKustomizeBase: an existing kustomize directory (the corpus's
// webshop base) is used as it is, not rewritten.
func TestInitOnAKustomizeBase(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	src := filepath.Join(testtool.Root(t), "testdata", "corpus", "webshop", "base")
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files["base/"+e.Name()] = string(b)
	}
	writeFiles(t, dir, files)
	spec := filepath.Join(dir, "driftless.yaml")
	code, _, stderr := runStep(t, nil, "--spec", spec, "--init", "--init-manifests", filepath.Join(dir, "base"), "--init-image", "webshop")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if strings.Contains(stderr, "wrote base/kustomization.yaml") {
		t.Error("the existing kustomization was rewritten")
	}
}
