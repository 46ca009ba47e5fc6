package smoke

import (
	"context"
	"fmt"
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"

	"github.com/driftless-dev/driftless/internal/meta"
)

// Recorded returns the release kustomize-render recorded on the live
// Deployment in namespace, and that Deployment as Deployment/ns/name. With
// service (name:port, as ServiceTarget takes it) the Deployments whose
// pods the Service selects come first, the one named like the Service
// before the others; otherwise the first annotated Deployment by name. An
// empty Release and an empty source mean no Deployment carries the
// annotations.
func Recorded(ctx context.Context, kube kubernetes.Interface, namespace, service string) (meta.Release, string, error) {
	list, err := kube.AppsV1().Deployments(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return meta.Release{}, "", fmt.Errorf("reading the Deployments of namespace %q for the release recorded on them: %w", namespace, err)
	}
	var annotated []appsv1.Deployment
	for _, d := range list.Items {
		if meta.Recorded(d.Annotations) != (meta.Release{}) {
			annotated = append(annotated, d)
		}
	}
	if len(annotated) == 0 {
		return meta.Release{}, "", nil
	}
	name, _ := ServiceName(service)
	var sel labels.Selector
	if name != "" {
		svc, err := kube.CoreV1().Services(namespace).Get(ctx, name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			return meta.Release{}, "", fmt.Errorf("reading Service/%s/%s: %w", namespace, name, err)
		case len(svc.Spec.Selector) > 0:
			sel = labels.SelectorFromSet(svc.Spec.Selector)
		}
	}
	rank := func(d appsv1.Deployment) int {
		r := 2
		if sel != nil && sel.Matches(labels.Set(d.Spec.Template.Labels)) {
			r = 1
			if d.Name == name {
				r = 0
			}
		}
		return r
	}
	sort.SliceStable(annotated, func(i, j int) bool {
		if ri, rj := rank(annotated[i]), rank(annotated[j]); ri != rj {
			return ri < rj
		}
		return annotated[i].Name < annotated[j].Name
	})
	d := annotated[0]
	return meta.Recorded(d.Annotations), fmt.Sprintf("Deployment/%s/%s", namespace, d.Name), nil
}
