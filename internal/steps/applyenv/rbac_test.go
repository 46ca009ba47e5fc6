package applyenv

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/driftless-dev/driftless/internal/cluster/clustertest"
	"github.com/driftless-dev/driftless/internal/kube/kubetest"
	"github.com/driftless-dev/driftless/internal/step/steptest"
	"github.com/driftless-dev/driftless/internal/testtool"
)

// TestDocumentedRoleIsEnough: a kubeconfig whose ServiceAccount holds only
// the Role docs/clusters.md gives, in one namespace, deploys, re-applies,
// prunes and rolls back. The Role is read from the document, so the two
// cannot drift apart.
func TestDocumentedRoleIsEnough(t *testing.T) {
	t.Parallel()
	c := clustertest.Shared(t)
	ns := clustertest.Namespace(t, c)
	rbac := kubetest.Block(t, filepath.Join(testtool.Root(t), "docs", "clusters.md"), "rbac: namespace")
	kubetest.Grant(t, c.RESTConfig(), strings.ReplaceAll(rbac, "hello-prod", ns))
	kubeconfig := kubetest.Kubeconfig(t, c.RESTConfig(), ns, "driftless")

	// The kubeconfig is limited to its namespace.
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	limited := kubernetes.NewForConfigOrDie(cfg)
	if _, err := limited.CoreV1().Namespaces().List(t.Context(), metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("listing namespaces with the documented Role: %v, want forbidden", err)
	}

	dir := t.TempDir()
	writeSpec(t, dir, ns)
	deployment := "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x, namespace: " + ns + ", annotations: {driftless.dev/image: \"" + testImage + "\"}}\n" +
		"spec:\n  selector: {matchLabels: {app: x}}\n  template:\n    metadata: {labels: {app: x}, annotations: {rev: \"REV\"}}\n    spec: {containers: [{name: x, image: \"" + testImage + "\"}]}\n"
	manifests := func(rev string, withConfigMap bool) string {
		d := strings.Replace(deployment, "REV", rev, 1)
		if rev == "crashloop" {
			// KWOK's pod-crashloop stage: the health check must read the
			// pods of the new ReplicaSet to see it fail.
			d = strings.Replace(d, "labels: {app: x}, annotations", "labels: {app: x, driftless.dev/test-unready: crashloop}, annotations", 1)
		}
		docs := []string{
			d,
			"apiVersion: v1\nkind: Service\nmetadata: {name: x, namespace: " + ns + "}\nspec: {selector: {app: x}, ports: [{port: 80}]}\n",
			"apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: " + ns + "}\nstringData: {token: rev-" + rev + "}\n",
			"apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: x, namespace: " + ns + "}\nspec: {maxUnavailable: 1, selector: {matchLabels: {app: x}}}\n",
		}
		if withConfigMap {
			docs = append(docs, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: "+ns+"}\ndata: {a: b}\n")
		}
		f := filepath.Join(dir, "m-"+rev+".yaml")
		if err := os.WriteFile(f, []byte(strings.Join(docs, "---\n")), 0o644); err != nil {
			t.Fatal(err)
		}
		return f
	}
	admin := kubernetes.NewForConfigOrDie(c.RESTConfig())
	configMap := func() bool {
		_, err := admin.CoreV1().ConfigMaps(ns).Get(t.Context(), "c", metav1.GetOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			t.Fatal(err)
		}
		return err == nil
	}
	env := map[string]string{"KUBECONFIG": kubeconfig}
	spec := filepath.Join(dir, "driftless.yaml")
	for _, step := range []struct {
		name          string
		args          []string
		code          int
		want          map[string]string
		wantConfigMap bool
	}{
		{"deploy", []string{"--manifests", manifests("1", true), "--release", "v1.0.0"}, 0, map[string]string{"revision": "1", "changed": "true"}, true},
		{"re-apply", []string{"--manifests", manifests("1", true), "--release", "v1.0.0"}, 0, map[string]string{"revision": "1", "changed": "false"}, true},
		{"prune", []string{"--manifests", manifests("2", false), "--release", "v1.1.0"}, 0, map[string]string{"revision": "2", "changed": "true"}, false},
		{"rollback", []string{"--rollback"}, 0, map[string]string{"changed": "true"}, true},
		{"failed rollout", []string{"--manifests", manifests("crashloop", false), "--release", "v1.2.0"}, 1, map[string]string{"rolled_back": "true"}, true},
	} {
		r := steptest.Run(t, Definition, Run, env, append([]string{"--spec", spec, "--env", "test", "--output", "json", "--timeout", "1m"}, step.args...)...)
		if r.Code != step.code {
			t.Fatalf("%s with the documented Role: exit %d, want %d\n%s", step.name, r.Code, step.code, r.Stderr)
		}
		// A permission missing where the step carries on (a warning)
		// is still a permission missing.
		if strings.Contains(strings.ToLower(r.Stderr), "forbidden") {
			t.Errorf("%s with the documented Role: a permission missing?\n%s", step.name, r.Stderr)
		}
		if step.code == 1 && !strings.Contains(r.Stderr, "CrashLoopBackOff") {
			t.Errorf("%s: the crash loop is not named:\n%s", step.name, r.Stderr)
		}
		o := outputs(t, r.Stdout)
		for k, v := range step.want {
			if o[k] != v {
				t.Errorf("%s: output %s = %q, want %q (outputs %v)", step.name, k, o[k], v, o)
			}
		}
		if got := configMap(); got != step.wantConfigMap {
			t.Errorf("%s: ConfigMap/%s/c exists: %v, want %v", step.name, ns, got, step.wantConfigMap)
		}
	}

	// A cluster-scoped kind needs more than the Role: the refusal names
	// the permission, and nothing is applied.
	clusterScoped := filepath.Join(dir, "cluster-scoped.yaml")
	os.WriteFile(clusterScoped, []byte("apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: "+ns+"-reader}\nrules: []\n---\n"+strings.Replace(deployment, "REV", "4", 1)), 0o644)
	r := steptest.Run(t, Definition, Run, env, "--spec", spec, "--env", "test", "--manifests", clusterScoped, "--release", "v1.3.0")
	if want := `cannot list resource "clusterroles" in API group "rbac.authorization.k8s.io" at the cluster scope`; r.Code != 2 || !strings.Contains(r.Stderr, want) {
		t.Errorf("a ClusterRole with the namespace's Role: exit %d, want 2 and %q\n%s", r.Code, want, r.Stderr)
	}
	if d, err := admin.AppsV1().Deployments(ns).Get(t.Context(), "x", metav1.GetOptions{}); err != nil || d.Spec.Template.Annotations["rev"] == "4" {
		t.Errorf("Deployment/%s/x after the refusal: %v, template annotations %v", ns, err, d.Spec.Template.Annotations)
	}
}
