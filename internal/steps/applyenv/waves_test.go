package applyenv

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/driftless-dev/driftless/internal/cluster/clustertest"
	"github.com/driftless-dev/driftless/internal/kube"
	"github.com/driftless-dev/driftless/internal/step/steptest"
)

// TestWaves: apply-env on an environment in waves maps the inputs to one
// waves run and its report to outputs and summary. An unreachable
// cluster exits 2 naming it, with nothing applied to the reachable one;
// one wave alone deploys; a failed rollout exits 1 saying which cluster
// failed and why. (Three clusters in ordered waves are internal/waves'
// tests; here one real cluster is enough.)
func TestWaves(t *testing.T) {
	c := clustertest.Shared(t)
	ns := clustertest.Namespace(t, c)
	dir := t.TempDir()
	writeSpec(t, dir, ns)
	closed := filepath.Join(dir, "closed.yaml")
	write := func(path, content string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(closed, `apiVersion: v1
kind: Config
clusters: [{name: ap, cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: x}}]
contexts: [{name: prod-ap, context: {cluster: ap, user: u}}]
current-context: prod-ap
`)
	spec := filepath.Join(dir, "driftless.yaml")
	write(spec, "apiVersion: driftless.dev/v1alpha1\nkind: Pipeline\nname: x\nimage: {repository: r.example.com/x, base: scratch}\nenvironments:\n"+
		"  - name: test\n    overlay: k\n    namespace: "+ns+"\n    waves:\n"+
		"      - {name: canary, clusters: [{name: local, kubeconfig: "+c.Kubeconfig()+"}]}\n"+
		"      - {name: far, clusters: [{name: ap-1, kubeconfig: closed.yaml}]}\n")
	manifests := filepath.Join(dir, "m.yaml")
	summary := filepath.Join(dir, "summary.md")
	env := map[string]string{"GITHUB_STEP_SUMMARY": summary, "GITHUB_ACTIONS": "true"}
	run := func(args ...string) (steptest.Result, string) {
		t.Helper()
		write(summary, "")
		r := steptest.Run(t, Definition, Run, env, append([]string{"--spec", spec, "--env", "test", "--manifests", manifests, "--output", "json"}, args...)...)
		b, _ := os.ReadFile(summary)
		return r, string(b)
	}
	clients, err := kube.NewClients(c.RESTConfig(), "")
	if err != nil {
		t.Fatal(err)
	}
	applied := func() bool {
		_, err := clients.Kube.CoreV1().ConfigMaps(ns).Get(t.Context(), "c", metav1.GetOptions{})
		return err == nil
	}

	r, _ := run("--release", "v1.0.0")
	if r.Code != 2 || !strings.Contains(r.Stderr, `cluster "ap-1" (wave "far"): cannot reach the cluster (context "prod-ap" at https://127.0.0.1:1)`) || !strings.Contains(r.Stderr, "nothing was applied to any cluster") {
		t.Fatalf("unreachable: exit %d, want 2 naming ap-1\n%s", r.Code, r.Stderr)
	}
	if applied() {
		t.Fatal("the reachable cluster was written to though another was unreachable")
	}
	if r, _ := run("--release", "v1.0.0", "--context", "prod-ap"); r.Code != 2 || !strings.Contains(r.Stderr, `input "context" names one cluster`) {
		t.Errorf("context with waves: exit %d\n%s", r.Code, r.Stderr)
	}

	r, sum := run("--release", "v1.0.0", "--wave", "canary")
	if r.Code != 0 {
		t.Fatalf("wave canary: exit %d\n%s", r.Code, r.Stderr)
	}
	if o := outputs(t, r.Stdout); o["revision"] != "local=1" || o["changed"] != "true" || o["failed_clusters"] != "" || o["rolled_back"] != "false" {
		t.Errorf("wave canary: outputs %v", o)
	}
	if !strings.Contains(sum, "| wave | cluster | result | revision | duration |") || !strings.Contains(sum, "| canary | local | ✅ deployed | 1 |") {
		t.Errorf("summary:\n%s", sum)
	}

	r, sum = run("--release", "v1.0.0", "--wave", "canary", "--dry-run")
	if r.Code != 0 || outputs(t, r.Stdout)["changed"] != "false" || !strings.Contains(sum, "#### wave canary, cluster local") {
		t.Errorf("dry run of wave canary: exit %d\n%s\n%s", r.Code, r.Stderr, sum)
	}
	if r, _ := run("--release", "v1.0.0", "--dry-run"); r.Code != 2 || !strings.Contains(r.Stderr, `cluster "ap-1" (wave "far")`) {
		t.Errorf("dry run with an unreachable cluster: exit %d, want 2 naming ap-1\n%s", r.Code, r.Stderr)
	}

	// The next release cannot start its pod there (a quota keeps the
	// namespace at the one pod it runs): exit 1, the cluster named.
	q := &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: "one-pod"}, Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("1")}}}
	if _, err := clients.Kube.CoreV1().ResourceQuotas(ns).Create(t.Context(), q, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for {
		got, err := clients.Kube.CoreV1().ResourceQuotas(ns).Get(t.Context(), q.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if used, ok := got.Status.Used[corev1.ResourcePods]; ok && used.Value() == 1 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	m, err := os.ReadFile(manifests)
	if err != nil {
		t.Fatal(err)
	}
	write(manifests, strings.Replace(string(m), "    metadata: {labels: {app: x}}", "    metadata: {labels: {app: x}, annotations: {v: \"2\"}}", 1))
	r, sum = run("--release", "v1.1.0", "--wave", "canary", "--timeout", "4s")
	if r.Code != 1 {
		t.Fatalf("failing wave: exit %d, want 1\n%s", r.Code, r.Stderr)
	}
	if o := outputs(t, r.Stdout); o["failed_clusters"] != "local" || o["rolled_back"] != "true" || o["revision"] != "local=1" {
		t.Errorf("failing wave: outputs %v", o)
	}
	for _, want := range []string{`wave "canary" failed: cluster "local"`, "Deployment/" + ns + "/x not ready in time", "rolled back: release 1"} {
		if !strings.Contains(r.Stderr, want) || !strings.Contains(sum, want) {
			t.Errorf("stderr or summary lacks %q:\n%s\n%s", want, r.Stderr, sum)
		}
	}
	if !strings.Contains(sum, "| canary | local | ❌ failed | 1 |") || !strings.Contains(sum, "- **local** (wave canary") {
		t.Errorf("summary:\n%s", sum)
	}
}
