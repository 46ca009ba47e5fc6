package smoketest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/driftless-dev/driftless/internal/cluster/clustertest"
	"github.com/driftless-dev/driftless/internal/configrev"
	"github.com/driftless-dev/driftless/internal/kube/kubetest"
	"github.com/driftless-dev/driftless/internal/meta"
	"github.com/driftless-dev/driftless/internal/smoke/smoketest"
	"github.com/driftless-dev/driftless/internal/step/steptest"
	"github.com/driftless-dev/driftless/internal/testtool"
)

// TestDocumentedRoleIsEnough: with only the Role docs/clusters.md gives
// (read from the document), smoke-test reads what to expect from the live
// Deployment, finds the Service and goes through the API server's service
// proxy.
func TestDocumentedRoleIsEnough(t *testing.T) {
	t.Parallel()
	c := clustertest.Shared(t)
	ns := clustertest.Namespace(t, c)
	rbac := kubetest.Block(t, filepath.Join(testtool.Root(t), "docs", "clusters.md"), "rbac: namespace")
	kubetest.Grant(t, c.RESTConfig(), strings.ReplaceAll(rbac, "hello-prod", ns))
	kubeconfig := kubetest.Kubeconfig(t, c.RESTConfig(), ns, "driftless")

	live := smoketest.Start(t, smoketest.Options{Version: version, GitSHA: gitSHA})
	img := image(t)
	rev, _ := configrev.Dir(smoketest.ExampleStatic(t))
	admin := kubernetes.NewForConfigOrDie(c.RESTConfig())
	labels := map[string]string{"app": "pssp-api"}
	if _, err := admin.AppsV1().Deployments(ns).Create(t.Context(), &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "pssp-api", Annotations: map[string]string{
			meta.AnnotationVersion: version, meta.AnnotationGitSHA: gitSHA, meta.AnnotationImage: img, meta.AnnotationConfigRevision: rev,
		}},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "api", Image: img}}}},
		},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CoreV1().Services(ns).Create(t.Context(), &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "api"},
		Spec:       corev1.ServiceSpec{Selector: map[string]string{"app": "nothing-runs-this"}, Ports: []corev1.ServicePort{{Port: 80}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	inNamespace := func(spec string) string {
		b, _ := os.ReadFile(spec)
		os.WriteFile(spec, []byte(strings.Replace(string(b), "namespace: pssp-test", "namespace: "+ns, 1)), 0o644)
		return spec
	}
	env := map[string]string{"KUBECONFIG": kubeconfig}

	// What to expect, read from the live Deployment.
	spec := inNamespace(project(t, "", "      url: "+live.URL+"\n      timeout: 20s"))
	r := steptest.Run(t, Definition, Run, env, "--spec", spec, "--env", "test", "--output", "json")
	if r.Code != 0 {
		t.Fatalf("with the documented Role: exit %d\n%s", r.Code, r.Stderr)
	}
	if want := "version: v1.4.2 (from Deployment/" + ns + "/pssp-api)"; !strings.Contains(r.Stderr, want) {
		t.Errorf("stderr lacks %q:\n%s", want, r.Stderr)
	}

	// Through the service proxy: the Service is read and the proxy is
	// allowed; it answers 503 only because nothing serves the Service
	// (the API server refuses loopback endpoints, and tests reach nothing
	// else).
	proxied := inNamespace(project(t, "", "      service: api:80\n      timeout: 2s"))
	r = steptest.Run(t, Definition, Run, env, "--spec", proxied, "--env", "test")
	if strings.Contains(strings.ToLower(r.Stderr), "forbidden") || !strings.Contains(r.Stderr, `no endpoints available for service \"api\"`) {
		t.Errorf("through the service proxy with the documented Role: exit %d\n%s", r.Code, r.Stderr)
	}
}
