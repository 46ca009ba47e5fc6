package cluster

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// nodeAnnotation marks the nodes KWOK manages (--manage-nodes-with-annotation-selector).
const nodeAnnotation = "kwok.x-k8s.io/node"

// createObjects creates what a storage provisioner would otherwise bring,
// a default StorageClass and the pool of volumes claims bind to, and, for
// KWOK, the node a kubelet would register.
func (c *Cluster) createObjects(ctx context.Context, volumes int, size resource.Quantity, kwokNode bool) error {
	core, err := c.REST(corev1.SchemeGroupVersion)
	if err != nil {
		return err
	}
	storage, err := c.REST(storagev1.SchemeGroupVersion)
	if err != nil {
		return err
	}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{
		Name:        NodeName,
		Annotations: map[string]string{nodeAnnotation: "fake"},
		Labels: map[string]string{
			"kubernetes.io/hostname": NodeName,
			"kubernetes.io/os":       "linux",
			"kubernetes.io/arch":     "amd64",
			"type":                   "kwok",
		},
	}}
	if kwokNode {
		if err := core.Post().Resource("nodes").Body(node).Do(ctx).Error(); err != nil {
			return fmt.Errorf("creating Node/%s: %w", NodeName, err)
		}
	}

	immediate, retain := storagev1.VolumeBindingImmediate, corev1.PersistentVolumeReclaimRetain
	sc := &storagev1.StorageClass{
		ObjectMeta: metav1.ObjectMeta{
			Name:        StorageClass,
			Annotations: map[string]string{"storageclass.kubernetes.io/is-default-class": "true"},
		},
		// Claims bind to the pool; nothing provisions.
		Provisioner:       "kubernetes.io/no-provisioner",
		ReclaimPolicy:     &retain,
		VolumeBindingMode: &immediate,
	}
	if err := storage.Post().Resource("storageclasses").Body(sc).Do(ctx).Error(); err != nil {
		return fmt.Errorf("creating StorageClass/%s: %w", StorageClass, err)
	}

	for i := range volumes {
		name := fmt.Sprintf("pool-%02d", i+1)
		path := filepath.Join(c.dir, "volumes", name)
		if err := os.MkdirAll(path, 0o755); err != nil {
			return fmt.Errorf("creating PersistentVolume/%s: %w", name, err)
		}
		// Whatever user a pod runs as writes to it (fsGroup does not
		// apply to hostPath volumes).
		if err := os.Chmod(path, 0o777); err != nil {
			return fmt.Errorf("creating PersistentVolume/%s: %w", name, err)
		}
		pv := &corev1.PersistentVolume{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{VolumePoolLabel: "true"}},
			Spec: corev1.PersistentVolumeSpec{
				Capacity:    corev1.ResourceList{corev1.ResourceStorage: size},
				AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				// The volume-recycle Stage makes Released volumes
				// Available again.
				PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
				StorageClassName:              StorageClass,
				PersistentVolumeSource: corev1.PersistentVolumeSource{
					HostPath: &corev1.HostPathVolumeSource{Path: path},
				},
			},
		}
		if err := core.Post().Resource("persistentvolumes").Body(pv).Do(ctx).Error(); err != nil {
			return fmt.Errorf("creating PersistentVolume/%s: %w", name, err)
		}
	}
	return nil
}

// createDNSRole lets CoreDNS (dnsUser) read what it answers from, as the
// system:coredns ClusterRole of a kubeadm cluster does.
func (c *Cluster) createDNSRole(ctx context.Context) error {
	rbac, err := c.REST(rbacv1.SchemeGroupVersion)
	if err != nil {
		return err
	}
	role := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: dnsUser},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"endpoints", "services", "pods", "namespaces"}, Verbs: []string{"list", "watch"}},
			{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: []string{"list", "watch"}},
		},
	}
	if err := rbac.Post().Resource("clusterroles").Body(role).Do(ctx).Error(); err != nil {
		return fmt.Errorf("creating ClusterRole/%s: %w", dnsUser, err)
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: dnsUser},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: dnsUser},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: dnsUser}},
	}
	if err := rbac.Post().Resource("clusterrolebindings").Body(binding).Do(ctx).Error(); err != nil {
		return fmt.Errorf("creating ClusterRoleBinding/%s: %w", dnsUser, err)
	}
	return nil
}

// waitReady waits until workloads run: KWOK has made the node Ready and
// the node lifecycle controller has lifted its not-ready taint,
// kube-controller-manager has given the default namespace its
// ServiceAccount (pods are refused without one), and the scheduler says
// it is healthy.
func (c *Cluster) waitReady(ctx context.Context, schedulerPort int, nodeName string) error {
	core, err := c.REST(corev1.SchemeGroupVersion)
	if err != nil {
		return err
	}
	err = c.waitFor(ctx, "Node/"+nodeName+" to be Ready", func(ctx context.Context) error {
		var node corev1.Node
		if err := core.Get().Resource("nodes").Name(nodeName).Do(ctx).Into(&node); err != nil {
			return err
		}
		if len(node.Spec.Taints) > 0 {
			return fmt.Errorf("Node/%s is tainted %s", nodeName, node.Spec.Taints[0].ToString())
		}
		for _, cond := range node.Status.Conditions {
			if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
				return nil
			}
		}
		return fmt.Errorf("Node/%s is not Ready", nodeName)
	})
	if err != nil {
		return err
	}
	err = c.waitFor(ctx, "ServiceAccount/default/default", func(ctx context.Context) error {
		return core.Get().Namespace("default").Resource("serviceaccounts").Name("default").Do(ctx).Error()
	})
	if err != nil {
		return err
	}
	// Its serving certificate is self-signed, made up when it starts; it
	// listens on 127.0.0.1 and only says "ok".
	insecure := &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
	}
	defer insecure.CloseIdleConnections()
	return c.waitFor(ctx, "kube-scheduler to be healthy", func(ctx context.Context) error {
		return httpOK(ctx, insecure, "https://127.0.0.1:"+strconv.Itoa(schedulerPort)+"/healthz")
	})
}
