package apply

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/driftless-dev/driftless/internal/kube"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	applycorev1 "k8s.io/client-go/applyconfigurations/core/v1"
)

// ApplySet labels and annotations (KEP-3659, as kubectl apply --prune
// --applyset uses them), so pruning never touches what driftless did not
// apply and other tools can read the set.
const (
	LabelApplySetID       = "applyset.kubernetes.io/id"
	LabelPartOf           = "applyset.kubernetes.io/part-of"
	AnnotationTooling     = "applyset.kubernetes.io/tooling"
	AnnotationGroupKinds  = "applyset.kubernetes.io/contains-group-kinds"
	AnnotationNamespaces  = "applyset.kubernetes.io/additional-namespaces"
	applySetParentKind    = "Secret"
	applySetParentVersion = "v1"
)

// ApplySet is the set of objects driftless applied to one environment,
// recorded on a parent Secret in the environment's namespace.
type ApplySet struct {
	Name      string // the parent Secret
	Namespace string
}

// ID is the ApplySet id: applyset-<base64url(sha256(name.namespace.kind.group))>-v1.
func (s ApplySet) ID() string {
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s.%s.%s.%s", s.Name, s.Namespace, applySetParentKind, "")))
	return "applyset-" + base64.RawURLEncoding.EncodeToString(sum[:]) + "-v1"
}

// Label marks objects as members of the set.
func (s ApplySet) Label(objs []*unstructured.Unstructured) {
	for _, u := range objs {
		l := u.GetLabels()
		if l == nil {
			l = map[string]string{}
		}
		l[LabelPartOf] = s.ID()
		u.SetLabels(l)
	}
}

// groupKind is how ApplySet annotations spell a GroupKind: Kind.group.
func groupKind(gk schema.GroupKind) string {
	if gk.Group == "" {
		return gk.Kind
	}
	return gk.Kind + "." + gk.Group
}

func parseGroupKind(s string) schema.GroupKind {
	kind, group, _ := strings.Cut(s, ".")
	return schema.GroupKind{Group: group, Kind: kind}
}

// members are the group kinds and namespaces recorded on the parent.
type members struct {
	groupKinds []string
	namespaces []string
}

func (s ApplySet) read(ctx context.Context, c *kube.Clients) (members, error) {
	sec, err := c.Kube.CoreV1().Secrets(s.Namespace).Get(ctx, s.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return members{}, nil
	}
	if err != nil {
		return members{}, fmt.Errorf("reading the ApplySet parent Secret/%s/%s: %w", s.Namespace, s.Name, err)
	}
	if sec.Labels[LabelApplySetID] != s.ID() {
		return members{}, fmt.Errorf("Secret/%s/%s is not driftless's ApplySet parent (label %s is %q, want %q): rename or remove it", s.Namespace, s.Name, LabelApplySetID, sec.Labels[LabelApplySetID], s.ID())
	}
	return members{groupKinds: splitNonEmpty(sec.Annotations[AnnotationGroupKinds]), namespaces: splitNonEmpty(sec.Annotations[AnnotationNamespaces])}, nil
}

func splitNonEmpty(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

// write records the group kinds and namespaces of objs on the parent,
// merged with what it recorded before (so a failed prune can be retried).
func (s ApplySet) write(ctx context.Context, c *kube.Clients, objs []*unstructured.Unstructured, keep members) error {
	gks, nss := map[string]bool{}, map[string]bool{}
	for _, g := range keep.groupKinds {
		gks[g] = true
	}
	for _, n := range keep.namespaces {
		nss[n] = true
	}
	for _, u := range objs {
		gks[groupKind(u.GroupVersionKind().GroupKind())] = true
		if ns := u.GetNamespace(); ns != "" && ns != s.Namespace {
			nss[ns] = true
		}
	}
	ann := map[string]string{
		AnnotationTooling:    "driftless/v1",
		AnnotationGroupKinds: strings.Join(sortedSet(gks), ","),
	}
	if len(nss) > 0 {
		ann[AnnotationNamespaces] = strings.Join(sortedSet(nss), ",")
	}
	cfg := applycorev1.Secret(s.Name, s.Namespace).
		WithLabels(map[string]string{LabelApplySetID: s.ID()}).
		WithAnnotations(ann).
		WithType(corev1.SecretTypeOpaque)
	if _, err := c.Kube.CoreV1().Secrets(s.Namespace).Apply(ctx, cfg, metav1.ApplyOptions{FieldManager: FieldManager, Force: true}); err != nil {
		return fmt.Errorf("recording the ApplySet on Secret/%s/%s: %w", s.Namespace, s.Name, err)
	}
	return nil
}

func sortedSet(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// neverPruned are kinds whose deletion would take much more with them:
// a Namespace deletes everything in it, a CRD every custom resource.
var neverPruned = []string{"Namespace", "CustomResourceDefinition"}

// Prune deletes the set's members that objs no longer contains, except
// kinds in keep (and Namespaces and CRDs). It runs only after every apply
// and the health check succeeded.
func (a *Applier) Prune(ctx context.Context, s ApplySet, objs []*unstructured.Unstructured, keep []string) ([]Result, error) {
	prev, err := s.read(ctx, a.C)
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, u := range objs {
		want[ID(u)] = true
	}
	namespaces := append([]string{s.Namespace}, prev.namespaces...)
	var results []Result
	for _, g := range prev.groupKinds {
		gk := parseGroupKind(g)
		if slices.Contains(keep, gk.Kind) || slices.Contains(neverPruned, gk.Kind) {
			continue
		}
		m, err := a.C.Mapper.RESTMapping(gk)
		if err != nil {
			a.logf("  prune: skipping %s, which the cluster no longer serves: %v", g, err)
			continue
		}
		scopes := namespaces
		if m.Scope.Name() != "namespace" {
			scopes = []string{""}
		}
		for _, ns := range scopes {
			list, err := a.C.Dynamic.Resource(m.Resource).Namespace(ns).List(ctx, metav1.ListOptions{LabelSelector: LabelPartOf + "=" + s.ID()})
			if err != nil {
				return results, fmt.Errorf("listing %s in %q to prune: %w", g, ns, err)
			}
			for i := range list.Items {
				u := &list.Items[i]
				if want[ID(u)] {
					continue
				}
				bg := metav1.DeletePropagationBackground
				err := a.C.Dynamic.Resource(m.Resource).Namespace(u.GetNamespace()).Delete(ctx, u.GetName(), metav1.DeleteOptions{PropagationPolicy: &bg})
				if err != nil && !apierrors.IsNotFound(err) {
					return results, fmt.Errorf("%s: pruning: %w", ID(u), err)
				}
				a.logf("  %s pruned", ID(u))
				results = append(results, Result{Object: ID(u), Change: Pruned})
			}
		}
	}
	// The set now holds exactly what was applied (and the kinds kept).
	kept := members{}
	for _, g := range prev.groupKinds {
		if gk := parseGroupKind(g); slices.Contains(keep, gk.Kind) || slices.Contains(neverPruned, gk.Kind) {
			kept.groupKinds = append(kept.groupKinds, g)
		}
	}
	return results, s.write(ctx, a.C, objs, kept)
}

// Begin records the group kinds about to be applied together with those
// recorded before, so that a run killed mid-apply leaves a parent that
// still names every kind its members may have.
func (s ApplySet) Begin(ctx context.Context, c *kube.Clients, objs []*unstructured.Unstructured) error {
	prev, err := s.read(ctx, c)
	if err != nil {
		return err
	}
	return s.write(ctx, c, objs, prev)
}

// retireLegacy ends the ApplySet driftless used before names carried the
// pipeline. The new set's apply relabelled every object these manifests
// contain; what still carries the old label is left alone — another
// pipeline sharing the environment name may own it, and a rename must
// never prune — and named. The old parent goes once nothing refers to it.
func (a *Applier) retireLegacy(ctx context.Context, o Owner) ([]string, error) {
	old := o.legacyApplySet()
	sec, err := a.C.Kube.CoreV1().Secrets(old.Namespace).Get(ctx, old.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the former ApplySet parent Secret/%s/%s: %w", old.Namespace, old.Name, err)
	}
	if sec.Labels[LabelApplySetID] != old.ID() {
		return nil, nil // not driftless's
	}
	prev := members{groupKinds: splitNonEmpty(sec.Annotations[AnnotationGroupKinds]), namespaces: splitNonEmpty(sec.Annotations[AnnotationNamespaces])}
	var left []string
	for _, g := range prev.groupKinds {
		m, err := a.C.Mapper.RESTMapping(parseGroupKind(g))
		if err != nil {
			continue
		}
		scopes := append([]string{old.Namespace}, prev.namespaces...)
		if m.Scope.Name() != meta.RESTScopeNameNamespace {
			scopes = []string{""}
		}
		for _, ns := range scopes {
			list, err := a.C.Dynamic.Resource(m.Resource).Namespace(ns).List(ctx, metav1.ListOptions{LabelSelector: LabelPartOf + "=" + old.ID()})
			if err != nil {
				return nil, fmt.Errorf("listing %s still in the former ApplySet %s: %w", g, old.Name, err)
			}
			for i := range list.Items {
				left = append(left, ID(&list.Items[i]))
			}
		}
	}
	if len(left) == 0 {
		uid := sec.UID
		if err := a.C.Kube.CoreV1().Secrets(old.Namespace).Delete(ctx, old.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}}); err != nil && !apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("removing the former ApplySet parent Secret/%s/%s: %w", old.Namespace, old.Name, err)
		}
		a.logf("apply-env: adopted the former ApplySet %s as %s", old.Name, o.ApplySet().Name)
	}
	sort.Strings(left)
	return left, nil
}
