package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/driftless-dev/driftless/internal/apply"
	"github.com/driftless-dev/driftless/internal/cluster/clustertest"
	"github.com/driftless-dev/driftless/internal/corpus"
	"github.com/driftless-dev/driftless/internal/kube"
)

// clusterWide are kinds whose objects, once applied, change how the whole
// API server answers (a webhook for every matching request, an aggregated
// API in discovery). Pointing at services with no real pods behind them,
// they would break the cluster every other test of this binary shares, so
// applications holding them are rendered, validated and dry-run
// (internal/corpus) but not deployed here.
var clusterWide = []string{"kind: APIService", "kind: ValidatingWebhookConfiguration", "kind: MutatingWebhookConfiguration"}

// TestCorpusDeploys: each application of the corpus, rendered by
// kustomize-render with its image pinned, deploys healthy with apply-env;
// the same manifests again change nothing; a hand edit of a field the
// manifests set shows in a dry run, which exits 1.
func TestCorpusDeploys(t *testing.T) {
	c := clustertest.Shared(t)
	bin := t.TempDir()
	build(t, bin, "kustomize-render", "apply-env")
	clients, err := kube.NewClients(c.RESTConfig(), "")
	if err != nil {
		t.Fatal(err)
	}
	env := []string{"KUBECONFIG=" + c.Kubeconfig(), "GITHUB_ACTIONS=", "GITHUB_OUTPUT=", "GITHUB_STEP_SUMMARY="}
	deployed := 0
	for _, app := range corpus.Apps(t) {
		t.Run(app.Name, func(t *testing.T) {
			image := app.Spec.Image.Repository + "@sha256:" + strings.Repeat("0123456789abcdef", 4)
			out := t.TempDir()
			r := step(t, filepath.Join(bin, "kustomize-render"), env, "--spec", filepath.Join(app.Dir, "driftless.yaml"), "--env", app.Env.Name,
				"--image", image, "--out", out, "--release", "v1.0.0", "--git-sha", strings.Repeat("a", 40), "--config-revision", "sha256:corpus")
			if r.code != 0 {
				t.Fatalf("kustomize-render: exit %d\n%s", r.code, r.stderr)
			}
			manifests := filepath.Join(out, app.Env.Name+".yaml")
			b, err := os.ReadFile(manifests)
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range clusterWide {
				if strings.Contains(string(b), "\n"+k+"\n") {
					t.Skipf("holds %s, which would reach beyond this test's namespace in the shared cluster", strings.TrimPrefix(k, "kind: "))
				}
			}
			args := []string{"--spec", filepath.Join(app.Dir, "driftless.yaml"), "--env", app.Env.Name, "--manifests", manifests, "--timeout", "2m", "--output", "json"}
			outputs := func(r result) map[string]string {
				var m map[string]string
				if err := json.Unmarshal([]byte(r.stdout), &m); err != nil {
					t.Fatalf("output %q: %v", r.stdout, err)
				}
				return m
			}
			// An application validate-config finds errors in (the
			// corpus's deliberate mistakes) is refused before anything is
			// written.
			if golden, err := os.ReadFile(filepath.Join(app.Dir, "findings.golden")); err == nil && strings.Contains(string(golden), ": error: ") {
				r = step(t, filepath.Join(bin, "apply-env"), env, args...)
				if r.code != 2 || !strings.Contains(r.stderr, "nothing was applied") {
					t.Fatalf("an application with errors: exit %d, want 2 and nothing applied\n%s", r.code, r.stderr)
				}
				if _, err := clients.Kube.CoreV1().Secrets(app.Env.Namespace).Get(context.Background(), (apply.Owner{Pipeline: app.Spec.Name, Env: app.Env.Name, Namespace: app.Env.Namespace}).ApplySet().Name, metav1.GetOptions{}); err == nil {
					t.Error("a refused deployment left its ApplySet parent")
				}
				return
			}
			r = step(t, filepath.Join(bin, "apply-env"), env, args...)
			if r.code != 0 || outputs(r)["changed"] != "true" || outputs(r)["revision"] != "1" {
				t.Fatalf("first deploy: exit %d %s\n%s", r.code, r.stdout, r.stderr)
			}
			r = step(t, filepath.Join(bin, "apply-env"), env, args...)
			if r.code != 0 || outputs(r)["changed"] != "false" || outputs(r)["revision"] != "1" {
				t.Fatalf("re-apply: exit %d %s, want changed=false at revision 1\n%s", r.code, r.stdout, r.stderr)
			}
			// A hand edit of a field the manifests set: a workload's replicas.
			objs, err := apply.Parse(b)
			if err != nil {
				t.Fatal(err)
			}
			var edited string
			for _, u := range objs {
				if _, set, _ := unstructured.NestedFieldNoCopy(u.Object, "spec", "replicas"); set && (u.GetKind() == "Deployment" || u.GetKind() == "StatefulSet") {
					ctx := context.Background()
					patch := []byte(`{"spec":{"replicas":7}}`)
					res := clients.Dynamic.Resource(mustGVR(t, clients, u.GetAPIVersion(), u.GetKind())).Namespace(u.GetNamespace())
					if _, err := res.Patch(ctx, u.GetName(), types.MergePatchType, patch, metav1.PatchOptions{FieldManager: "kubectl-edit"}); err != nil {
						t.Fatal(err)
					}
					edited = apply.ID(u)
					break
				}
			}
			want := "replicas: 7"
			if edited == "" {
				// Replicas left to an autoscaler: edit the first workload's
				// first container image instead.
				for _, u := range objs {
					if u.GetKind() == "Deployment" || u.GetKind() == "StatefulSet" {
						patch := []byte(`[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"edited.example.com/by-hand:1"}]`)
						res := clients.Dynamic.Resource(mustGVR(t, clients, u.GetAPIVersion(), u.GetKind())).Namespace(u.GetNamespace())
						if _, err := res.Patch(context.Background(), u.GetName(), types.JSONPatchType, patch, metav1.PatchOptions{FieldManager: "kubectl-edit"}); err != nil {
							t.Fatal(err)
						}
						edited, want = apply.ID(u), "edited.example.com/by-hand:1"
						break
					}
				}
			}
			if edited == "" {
				t.Fatal("no workload to edit")
			}
			r = step(t, filepath.Join(bin, "apply-env"), env, append(args, "--dry-run")...)
			if r.code != 1 || !strings.Contains(r.stderr, edited+" would be configured") || !strings.Contains(r.stderr, want) {
				t.Fatalf("dry run after a hand edit of %s: exit %d, want 1 showing it\n%s", edited, r.code, r.stderr)
			}
			deployed++
		})
	}
	t.Logf("%d corpus application(s) deployed", deployed)
}

func mustGVR(t *testing.T, c *kube.Clients, apiVersion, kind string) schema.GroupVersionResource {
	t.Helper()
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		t.Fatal(err)
	}
	m, err := c.Mapper.RESTMapping(gv.WithKind(kind).GroupKind(), gv.Version)
	if err != nil {
		t.Fatal(err)
	}
	return m.Resource
}
