package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"

	"github.com/driftless-dev/driftless/internal/cluster"
	"github.com/driftless-dev/driftless/internal/cluster/clustertest"
)

func TestMain(m *testing.M) { clustertest.Main(m) }

// TestStop starts a cluster of its own, finds it again as scripts/cluster
// does, and stops it: no process may be left, nor the directory.
func TestStop(t *testing.T) {
	c, err := cluster.Start(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Stop() })
	procs := c.Processes()
	var names []string
	var rss int64
	for _, p := range procs {
		names = append(names, p.Name)
		rss += p.RSS()
	}
	if want := "[etcd kube-apiserver kube-controller-manager kube-scheduler kwok]"; fmt.Sprint(names) != want {
		t.Errorf("processes %v, want %s", names, want)
	}
	t.Logf("control plane: %d MiB resident", rss>>20)

	opened, err := cluster.Open(c.Dir())
	if err != nil {
		t.Fatal(err)
	}
	if !opened.Running() {
		t.Fatal("Open(dir).Running() = false for a running cluster")
	}
	if err := opened.Ready(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := opened.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	for _, p := range procs {
		if p.Running() {
			t.Errorf("%s (pid %d) still runs after Stop", p.Name, p.PID)
		}
		// Not even a zombie: the cluster reaped what it started.
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.PID)); err == nil {
			t.Logf("pid %d now belongs to: %s", p.PID, b)
		}
	}
	if c.Running() {
		t.Error("Running() = true after Stop")
	}
	if _, err := os.Stat(c.Dir()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the temporary directory %s is still there after Stop (%v)", c.Dir(), err)
	}
	if err := c.Stop(); err != nil {
		t.Errorf("a second Stop: %v", err)
	}
}

func TestNamespace(t *testing.T) {
	t.Parallel()
	c := clustertest.Shared(t)
	ns := clustertest.Namespace(t, c) // waits for the default ServiceAccount
	core := client(t, c, corev1.SchemeGroupVersion)
	var sa corev1.ServiceAccount
	if err := core.Get().Namespace(ns).Resource("serviceaccounts").Name("default").Do(t.Context()).Into(&sa); err != nil {
		t.Fatal(err)
	}
	// kube-controller-manager's root-ca-cert-publisher works too.
	eventually(t, 10*time.Second, "ConfigMap/"+ns+"/kube-root-ca.crt", func(ctx context.Context) error {
		return core.Get().Namespace(ns).Resource("configmaps").Name("kube-root-ca.crt").Do(ctx).Error()
	})
}

func TestDeployment(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		labels map[string]string
		// want is the condition the rollout ends with.
		want appsv1.DeploymentCondition
	}{
		{
			name: "becomes available",
			want: appsv1.DeploymentCondition{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable"},
		},
		{
			name:   "unready pods fail the rollout",
			labels: map[string]string{cluster.UnreadyLabel: "true"},
			want:   appsv1.DeploymentCondition{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse, Reason: "ProgressDeadlineExceeded"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := clustertest.Shared(t)
			ns := clustertest.Namespace(t, c)
			apps := client(t, c, appsv1.SchemeGroupVersion)
			core := client(t, c, corev1.SchemeGroupVersion)

			labels := map[string]string{"app": "web"}
			podLabels := map[string]string{"app": "web"}
			for k, v := range tc.labels {
				podLabels[k] = v
			}
			replicas, deadline := int32(2), int32(10)
			d := &appsv1.Deployment{
				ObjectMeta: metav1.ObjectMeta{Name: "web"},
				Spec: appsv1.DeploymentSpec{
					Replicas:                &replicas,
					ProgressDeadlineSeconds: &deadline,
					Selector:                &metav1.LabelSelector{MatchLabels: labels},
					Template: corev1.PodTemplateSpec{
						ObjectMeta: metav1.ObjectMeta{Labels: podLabels},
						Spec: corev1.PodSpec{Containers: []corev1.Container{{
							Name:  "web",
							Image: "registry.example.com/web:v1",
						}}},
					},
				},
			}
			if err := apps.Post().Namespace(ns).Resource("deployments").Body(d).Do(t.Context()).Error(); err != nil {
				t.Fatalf("creating Deployment/%s/web: %v", ns, err)
			}

			eventually(t, 45*time.Second, fmt.Sprintf("Deployment/%s/web to be %s=%s", ns, tc.want.Type, tc.want.Status), func(ctx context.Context) error {
				d = &appsv1.Deployment{}
				if err := apps.Get().Namespace(ns).Resource("deployments").Name("web").Do(ctx).Into(d); err != nil {
					return err
				}
				got := condition(d.Status.Conditions, tc.want.Type)
				if got == nil || got.Status != tc.want.Status || got.Reason != tc.want.Reason {
					return fmt.Errorf("conditions %+v", d.Status.Conditions)
				}
				return nil
			})

			var pods corev1.PodList
			err := core.Get().Namespace(ns).Resource("pods").
				VersionedParams(&metav1.ListOptions{LabelSelector: "app=web"}, scheme.ParameterCodec).
				Do(t.Context()).Into(&pods)
			if err != nil {
				t.Fatal(err)
			}
			if len(pods.Items) != 2 {
				t.Fatalf("%d pods, want 2", len(pods.Items))
			}
			ready := tc.labels[cluster.UnreadyLabel] != "true"
			for _, p := range pods.Items {
				if p.Spec.NodeName != cluster.NodeName || p.Status.Phase != corev1.PodRunning || podReady(p) != ready {
					t.Errorf("Pod/%s/%s on %q, %s, ready %t; want on %q, Running, ready %t", ns, p.Name, p.Spec.NodeName, p.Status.Phase, podReady(p), cluster.NodeName, ready)
				}
			}
			if ready {
				if d.Status.AvailableReplicas != 2 {
					t.Errorf("%d available replicas, want 2", d.Status.AvailableReplicas)
				}
			} else {
				if a := condition(d.Status.Conditions, appsv1.DeploymentAvailable); a == nil || a.Status != corev1.ConditionFalse {
					t.Errorf("Available condition %+v, want False", a)
				}
				if d.Status.AvailableReplicas != 0 {
					t.Errorf("%d available replicas, want 0", d.Status.AvailableReplicas)
				}
			}
		})
	}
}

// TestVolume binds a claim to one of the pool's volumes, runs a pod that
// mounts it, and checks the volume comes back to the pool once the claim
// is gone.
func TestVolume(t *testing.T) {
	t.Parallel()
	c := clustertest.Shared(t)
	ns := clustertest.Namespace(t, c)
	core := client(t, c, corev1.SchemeGroupVersion)

	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "data"},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		},
	}
	if err := core.Post().Namespace(ns).Resource("persistentvolumeclaims").Body(pvc).Do(t.Context()).Error(); err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "db"},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{
				Name:         "db",
				Image:        "registry.example.com/redis:7",
				VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}},
			}},
			Volumes: []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data"},
			}}},
		},
	}
	if err := core.Post().Namespace(ns).Resource("pods").Body(pod).Do(t.Context()).Error(); err != nil {
		t.Fatal(err)
	}

	eventually(t, 30*time.Second, "PersistentVolumeClaim/"+ns+"/data to be Bound", func(ctx context.Context) error {
		pvc = &corev1.PersistentVolumeClaim{}
		if err := core.Get().Namespace(ns).Resource("persistentvolumeclaims").Name("data").Do(ctx).Into(pvc); err != nil {
			return err
		}
		if pvc.Status.Phase != corev1.ClaimBound {
			return fmt.Errorf("phase %s", pvc.Status.Phase)
		}
		return nil
	})
	if sc := pvc.Spec.StorageClassName; sc == nil || *sc != cluster.StorageClass {
		t.Errorf("storage class %v, want the default %q", sc, cluster.StorageClass)
	}
	var pv corev1.PersistentVolume
	if err := core.Get().Resource("persistentvolumes").Name(pvc.Spec.VolumeName).Do(t.Context()).Into(&pv); err != nil {
		t.Fatal(err)
	}
	if pv.Labels[cluster.VolumePoolLabel] != "true" {
		t.Errorf("claim bound to PersistentVolume/%s, not one of the pool", pv.Name)
	}
	eventually(t, 30*time.Second, "Pod/"+ns+"/db to be Running", func(ctx context.Context) error {
		pod = &corev1.Pod{}
		if err := core.Get().Namespace(ns).Resource("pods").Name("db").Do(ctx).Into(pod); err != nil {
			return err
		}
		if pod.Spec.NodeName != cluster.NodeName || pod.Status.Phase != corev1.PodRunning {
			return fmt.Errorf("on %q, %s", pod.Spec.NodeName, pod.Status.Phase)
		}
		return nil
	})

	for _, r := range []struct{ resource, name string }{{"pods", "db"}, {"persistentvolumeclaims", "data"}} {
		if err := core.Delete().Namespace(ns).Resource(r.resource).Name(r.name).Do(t.Context()).Error(); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 30*time.Second, "PersistentVolume/"+pv.Name+" to be Available again", func(ctx context.Context) error {
		// Into a fresh object: decoding leaves fields the JSON omits
		// (claimRef, once cleared) as they were.
		pv = corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: pv.Name}}
		if err := core.Get().Resource("persistentvolumes").Name(pv.Name).Do(ctx).Into(&pv); err != nil {
			return err
		}
		if pv.Status.Phase != corev1.VolumeAvailable || pv.Spec.ClaimRef != nil {
			return fmt.Errorf("phase %s, claim %v", pv.Status.Phase, pv.Spec.ClaimRef)
		}
		return nil
	})
}

func client(t *testing.T, c *cluster.Cluster, gv schema.GroupVersion) *rest.RESTClient {
	t.Helper()
	rc, err := c.REST(gv)
	if err != nil {
		t.Fatal(err)
	}
	return rc
}

// eventually polls check until it succeeds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, check func(context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	for {
		err := check(ctx)
		if err == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting %s for %s: %v", timeout, what, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func condition(conds []appsv1.DeploymentCondition, typ appsv1.DeploymentConditionType) *appsv1.DeploymentCondition {
	for i := range conds {
		if conds[i].Type == typ {
			return &conds[i]
		}
	}
	return nil
}

func podReady(p corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
