package smoke_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/driftless-dev/driftless/internal/meta"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/driftless-dev/driftless/internal/cluster/clustertest"
	"github.com/driftless-dev/driftless/internal/smoke"
)

func TestMain(m *testing.M) { clustertest.Main(m) }

// TestServiceProxyNoEndpoints: what the API server says about a Service
// without endpoints is what the check reports.
func TestServiceProxyNoEndpoints(t *testing.T) {
	t.Parallel()
	c := clustertest.Shared(t)
	ns := clustertest.Namespace(t, c)
	kube := kubernetes.NewForConfigOrDie(c.RESTConfig())
	_, err := kube.CoreV1().Services(ns).Create(t.Context(), &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "api"},
		Spec:       corev1.ServiceSpec{Selector: map[string]string{"app": "none"}, Ports: []corev1.ServicePort{{Name: "http", Port: 80}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	target, err := smoke.ServiceTarget(c.RESTConfig(), ns, "api:80")
	if err != nil {
		t.Fatal(err)
	}
	var clk clock
	rep := runner(&clk).Run(t.Context(), smoke.Suite{Environment: "test", Target: target, Checks: []smoke.Check{{Name: "health", Path: "/healthz"}}, Timeout: time.Second})
	msg := rep.Results[0].Message()
	if rep.Failed() != 1 || !strings.Contains(msg, "status: want 200, got 503") || !strings.Contains(msg, `no endpoints available for service \"api\"`) {
		t.Errorf("got %q", msg)
	}
}

func TestServiceTargetRefuses(t *testing.T) {
	t.Parallel()
	c := clustertest.Shared(t)
	for _, s := range []string{"api", "api:", "Api:80", "ftp:api:80", ":80"} {
		if _, err := smoke.ServiceTarget(c.RESTConfig(), "ns", s); err == nil || !strings.Contains(err.Error(), "is not name:port") {
			t.Errorf("%q: %v", s, err)
		}
	}
}

// TestRecorded: the release kustomize-render recorded is read from the
// Deployment behind the Service.
func TestRecorded(t *testing.T) {
	t.Parallel()
	c := clustertest.Shared(t)
	ns := clustertest.Namespace(t, c)
	kube := kubernetes.NewForConfigOrDie(c.RESTConfig())
	ctx := t.Context()
	api := meta.Release{Version: "v1.4.2", GitSHA: gitSHA, Image: "127.0.0.1:5000/pssp/api@sha256:" + strings.Repeat("a", 64), ConfigRevision: "sha256:" + strings.Repeat("b", 64)}
	older := meta.Release{Version: "v1.4.1"}
	deploy(t, kube, ns, "aaa-unrelated", "other", older)
	deploy(t, kube, ns, "pssp-api", "api", api)
	deploy(t, kube, ns, "plain", "api", meta.Release{})

	rel, src, err := smoke.Recorded(ctx, kube, ns, "")
	if err != nil || rel != older || src != "Deployment/"+ns+"/aaa-unrelated" {
		t.Errorf("without a service: %+v from %q, %v; want the first annotated Deployment by name", rel, src, err)
	}
	if _, err := kube.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "pssp-api"},
		Spec:       corev1.ServiceSpec{Selector: map[string]string{"app": "api"}, Ports: []corev1.ServicePort{{Name: "http", Port: 80}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	rel, src, err = smoke.Recorded(ctx, kube, ns, "pssp-api:http")
	if err != nil || rel != api || src != "Deployment/"+ns+"/pssp-api" {
		t.Errorf("with the service: %+v from %q, %v; want %+v from the Service's Deployment", rel, src, err, api)
	}
	empty := clustertest.Namespace(t, c)
	if rel, src, err := smoke.Recorded(ctx, kube, empty, "pssp-api:80"); err != nil || rel != (meta.Release{}) || src != "" {
		t.Errorf("empty namespace: %+v %q %v", rel, src, err)
	}
}

func deploy(t *testing.T, kube kubernetes.Interface, ns, name, app string, rel meta.Release) {
	t.Helper()
	ann := map[string]string{}
	for k, v := range map[string]string{
		meta.AnnotationVersion: rel.Version, meta.AnnotationGitSHA: rel.GitSHA,
		meta.AnnotationImage: rel.Image, meta.AnnotationConfigRevision: rel.ConfigRevision,
	} {
		if v != "" {
			ann[k] = v
		}
	}
	labels := map[string]string{"app": app, "name": name}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, err := kube.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: ann},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "127.0.0.1:5000/x@sha256:" + strings.Repeat("c", 64)}}},
			},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
}
