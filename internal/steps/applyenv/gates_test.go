package applyenv

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/driftless-dev/driftless/internal/apply"
	"github.com/driftless-dev/driftless/internal/cluster/clustertest"
	"github.com/driftless-dev/driftless/internal/evidence"
	"github.com/driftless-dev/driftless/internal/kube"
	"github.com/driftless-dev/driftless/internal/registry"
	"github.com/driftless-dev/driftless/internal/registry/registrytest"
	"github.com/driftless-dev/driftless/internal/step/steptest"
)

// TestPromotionGates: prod takes only a digest verified in test, and
// nothing is applied when a gate refuses.
func TestPromotionGates(t *testing.T) {
	c := clustertest.Shared(t)
	ns := clustertest.Namespace(t, c)
	host := registrytest.New(t)
	img, _ := random.Image(64, 1)
	digest := registrytest.Push(t, host+"/team/api:build", img)
	image := host + "/team/api@" + digest[strings.LastIndex(digest, "@")+1:]

	dir := t.TempDir()
	now := time.Now().UTC()
	files := map[string]string{
		"driftless.yaml": `apiVersion: driftless.dev/v1alpha1
kind: Pipeline
name: api
image: {repository: ` + host + `/team/api, base: scratch}
environments:
  - {name: test, overlay: k, namespace: ` + ns + `-unused}
  - name: prod
    overlay: k
    namespace: ` + ns + `
    promotion:
      from: test
      gitTag: optional
      freeze:
        - {name: now, start: "` + now.Add(-time.Hour).Format(time.RFC3339) + `", end: "` + now.Add(time.Hour).Format(time.RFC3339) + `"}
`,
		"k/kustomization.yaml": "resources: []\n",
		"m.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: " + ns + "}\ndata: {a: b}\n---\n" +
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
	env := map[string]string{"KUBECONFIG": c.Kubeconfig()}
	args := []string{"--spec", filepath.Join(dir, "driftless.yaml"), "--env", "prod", "--manifests", filepath.Join(dir, "m.yaml"), "--image", image, "--release", "v1.0.0"}
	clients, err := kube.NewClients(c.RESTConfig(), "")
	if err != nil {
		t.Fatal(err)
	}
	applied := func() bool {
		_, err := clients.Kube.CoreV1().ConfigMaps(ns).Get(context.Background(), "c", metav1.GetOptions{})
		return err == nil
	}

	r := steptest.Run(t, Definition, Run, env, args...)
	if r.Code != 1 || !strings.Contains(r.Stderr, "from: test") || !strings.Contains(r.Stderr, "nothing was applied") || applied() {
		t.Fatalf("no evidence: exit %d, applied %v\n%s", r.Code, applied(), r.Stderr)
	}

	// smoke-test passed in test: evidence on the digest.
	d, _ := name.NewDigest(image)
	st := evidence.NewStatement(d, evidence.Predicate{Environment: "test", VerifiedAt: now.Add(-time.Minute), Version: "v1.0.0"})
	if _, err := evidence.Attach(context.Background(), d, st, nil, registry.Options{}.Remote(context.Background())); err != nil {
		t.Fatal(err)
	}
	r = steptest.Run(t, Definition, Run, env, args...)
	if r.Code != 1 || !strings.Contains(r.Stderr, "freeze") || applied() {
		t.Fatalf("inside the freeze window: exit %d, applied %v\n%s", r.Code, applied(), r.Stderr)
	}
	r = steptest.Run(t, Definition, Run, env, append(args, "--override-freeze", "hotfix for INC-42")...)
	if r.Code != 0 || !applied() {
		t.Fatalf("overridden: exit %d, applied %v\n%s", r.Code, applied(), r.Stderr)
	}
	h, err := apply.History(context.Background(), clients, apply.Owner{Pipeline: "api", Env: "prod", Namespace: ns}, nil)
	if err != nil || len(h) != 1 || h[0].Override != "hotfix for INC-42" || h[0].Digest != d.DigestStr() {
		t.Errorf("release %+v %v: the override reason and digest must be recorded", h, err)
	}
}
