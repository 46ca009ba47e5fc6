package apply

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/driftless-dev/driftless/internal/kube"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
)

// FieldManager is the server-side apply field manager driftless applies as.
const FieldManager = "driftless"

// Change is what applying did to an object.
type Change string

// Changes.
const (
	Created    Change = "created"
	Configured Change = "configured"
	Unchanged  Change = "unchanged"
	Recreated  Change = "recreated"
	Pruned     Change = "pruned"
)

// Result is one object's outcome.
type Result struct {
	Object string `json:"object"`
	Change Change `json:"change"`
}

// ObjectError is the API server's refusal of one object; it keeps the
// API error so callers can branch on it (apierrors.IsInvalid, ...).
type ObjectError struct {
	Object string
	Op     string
	Err    error
	// secrets are the object's Secret values: the API server quotes a
	// wrongly typed one in its error text, which must never print it.
	secrets []string
}

func (e *ObjectError) Error() string {
	return e.Object + ": " + e.Op + ": " + maskValues(describe(e.Err), e.secrets)
}

// secretValues are the values of a Secret as the API server may quote them
// in an error (a number the YAML held unquoted as its digits), longest
// first; nil for other objects.
func secretValues(u *unstructured.Unstructured) []string {
	if u.GetKind() != "Secret" || u.GroupVersionKind().Group != "" {
		return nil
	}
	var out []string
	for _, field := range []string{"data", "stringData"} {
		m, _, _ := unstructured.NestedFieldNoCopy(u.Object, field)
		values, _ := m.(map[string]any)
		for _, v := range values {
			switch t := v.(type) {
			case string:
				out = append(out, t)
				if field == "data" {
					if b, err := base64.StdEncoding.DecodeString(t); err == nil {
						out = append(out, string(b))
					}
				}
			case float64:
				out = append(out, strconv.FormatFloat(t, 'f', -1, 64), fmt.Sprint(t))
			default:
				out = append(out, fmt.Sprint(t))
				if b, err := json.Marshal(t); err == nil {
					out = append(out, string(b))
				}
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

// maskValues replaces every value in text with "***".
func maskValues(text string, values []string) string {
	for _, v := range values {
		if v != "" {
			text = strings.ReplaceAll(text, v, "***")
		}
	}
	return text
}

func (e *ObjectError) Unwrap() error { return e.Err }

// ImmutableError is a change the API server refuses because a field cannot
// change after creation.
type ImmutableError struct {
	Object string
	Detail string
}

func (e *ImmutableError) Error() string {
	return fmt.Sprintf("%s: the API server refuses the change because a field is immutable: %s; pass force-recreate to delete and recreate it (never done for PersistentVolumeClaims)", e.Object, e.Detail)
}

// Applier applies objects to a cluster.
type Applier struct {
	C *kube.Clients
	// ForceRecreate deletes and recreates objects whose change touches an
	// immutable field (never PersistentVolumeClaims).
	ForceRecreate bool
	// Workers is how many objects of a stage are applied at once;
	// DefaultWorkers when zero.
	Workers int
	// PollInterval is how often health is read while waiting;
	// DefaultPollInterval when zero.
	PollInterval time.Duration
	// CancelGrace bounds how long a deployment cancelled mid-rollout takes
	// to put the last deployed release back; DefaultCancelGrace when zero.
	CancelGrace time.Duration
	// LeaseDuration is how long the environment's Lease holds without
	// renewal; DefaultLeaseDuration when zero.
	LeaseDuration time.Duration
	// Logf prints progress.
	Logf func(format string, args ...any)
}

func (a *Applier) logf(format string, args ...any) {
	if a.Logf != nil {
		a.Logf(format, args...)
	}
}

// mapping finds the resource of a kind, reading discovery again when the
// kind is new (a CRD applied in an earlier stage).
func (a *Applier) mapping(gvk schema.GroupVersionKind) (*meta.RESTMapping, error) {
	return a.mappingRefresh(gvk, true)
}

// mappingRefresh is mapping that reads discovery again only if refresh:
// a check of many custom resources whose CRD is not applied yet reads it
// once, not once per object.
func (a *Applier) mappingRefresh(gvk schema.GroupVersionKind, refresh bool) (*meta.RESTMapping, error) {
	m, err := a.C.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil && refresh && meta.IsNoMatchError(err) {
		a.C.Mapper.Reset()
		m, err = a.C.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	}
	return m, err
}

// resource returns the client for an object's resource.
func (a *Applier) resource(u *unstructured.Unstructured) (dynamic.ResourceInterface, *meta.RESTMapping, error) {
	gvk := u.GroupVersionKind()
	m, err := a.mapping(gvk)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: the cluster does not serve %s: %w", ID(u), gvk.GroupVersion().WithKind(gvk.Kind), err)
	}
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		return a.C.Dynamic.Resource(m.Resource).Namespace(u.GetNamespace()), m, nil
	}
	return a.C.Dynamic.Resource(m.Resource), m, nil
}

// Apply server-side applies one object and says what changed. With dryRun
// the server computes the result without persisting it; the returned
// object is what the cluster would hold, existing what it holds now.
func (a *Applier) Apply(ctx context.Context, u *unstructured.Unstructured, dryRun bool) (change Change, result, existing *unstructured.Unstructured, err error) {
	ri, _, err := a.resource(u)
	if err != nil {
		return "", nil, nil, err
	}
	existing, err = ri.Get(ctx, u.GetName(), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		existing, err = nil, nil
	}
	if err != nil {
		return "", nil, nil, &ObjectError{Object: ID(u), Op: "reading", Err: err}
	}
	return a.applyKnown(ctx, u, existing, dryRun)
}

// applyKnown is Apply with the live object already read (nil: absent).
func (a *Applier) applyKnown(ctx context.Context, u, existing *unstructured.Unstructured, dryRun bool) (change Change, result, _ *unstructured.Unstructured, err error) {
	ri, m, err := a.resource(u)
	if err != nil {
		return "", nil, nil, err
	}
	if m.Scope.Name() == meta.RESTScopeNameNamespace && u.GetNamespace() == "" {
		return "", nil, nil, fmt.Errorf("%s: namespaced object without a namespace: set namespace in the overlay", ID(u))
	}
	data, err := json.Marshal(u.Object)
	if err != nil {
		return "", nil, nil, fmt.Errorf("%s: %w", ID(u), err)
	}
	opts := metav1.PatchOptions{FieldManager: FieldManager, Force: ptr(true)}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	result, err = ri.Patch(ctx, u.GetName(), types.ApplyPatchType, data, opts)
	if err != nil {
		if isImmutable(err) {
			ie := &ImmutableError{Object: ID(u), Detail: maskValues(causes(err), secretValues(u))}
			if !a.ForceRecreate || u.GetKind() == "PersistentVolumeClaim" || dryRun {
				return "", nil, existing, ie
			}
			a.logf("  %s: immutable field changed; deleting and recreating it (force-recreate)", ID(u))
			if err := a.recreate(ctx, ri, u, data, opts); err != nil {
				return "", nil, existing, fmt.Errorf("%w; recreating failed: %v", ie, err)
			}
			return Recreated, nil, existing, nil
		}
		return "", nil, existing, &ObjectError{Object: ID(u), Op: "applying", Err: err, secrets: secretValues(u)}
	}
	switch {
	case existing == nil:
		return Created, result, nil, nil
	case dryRun && sameContent(existing, result):
		return Unchanged, result, existing, nil
	case !dryRun && existing.GetResourceVersion() == result.GetResourceVersion():
		return Unchanged, result, existing, nil
	}
	return Configured, result, existing, nil
}

func (a *Applier) recreate(ctx context.Context, ri dynamic.ResourceInterface, u *unstructured.Unstructured, data []byte, opts metav1.PatchOptions) error {
	fg := metav1.DeletePropagationForeground
	if err := ri.Delete(ctx, u.GetName(), metav1.DeleteOptions{PropagationPolicy: &fg}); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		_, err := ri.Get(ctx, u.GetName(), metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	if err != nil {
		return fmt.Errorf("waiting for the old object to go: %w", err)
	}
	_, err = ri.Patch(ctx, u.GetName(), types.ApplyPatchType, data, opts)
	return err
}

func ptr[T any](v T) *T { return &v }

func isImmutable(err error) bool {
	if !apierrors.IsInvalid(err) {
		return false
	}
	return strings.Contains(err.Error(), "immutable") || strings.Contains(err.Error(), "field is immutable")
}

// causes lists the fields an Invalid error names.
func causes(err error) string {
	var se apierrors.APIStatus
	if errors.As(err, &se) && se.Status().Details != nil {
		var parts []string
		for _, c := range se.Status().Details.Causes {
			parts = append(parts, fmt.Sprintf("%s: %s", c.Field, c.Message))
		}
		if len(parts) > 0 {
			return strings.Join(parts, "; ")
		}
	}
	return err.Error()
}

// describe says why the API server refused, naming fields where it can.
func describe(err error) string {
	if apierrors.IsInvalid(err) {
		return causes(err)
	}
	return err.Error()
}

// volatile are the fields the server sets that say nothing about an
// object's content.
var volatile = [][]string{
	{"metadata", "managedFields"}, {"metadata", "resourceVersion"}, {"metadata", "generation"},
	{"metadata", "creationTimestamp"}, {"metadata", "uid"}, {"status"},
}

// Comparable returns a copy without server-set fields.
func Comparable(u *unstructured.Unstructured) *unstructured.Unstructured {
	c := u.DeepCopy()
	for _, f := range volatile {
		unstructured.RemoveNestedField(c.Object, f...)
	}
	return c
}

func sameContent(a, b *unstructured.Unstructured) bool {
	x, _ := json.Marshal(Comparable(a).Object)
	y, _ := json.Marshal(Comparable(b).Object)
	return string(x) == string(y)
}

// GVK of an object.
func GVK(u *unstructured.Unstructured) schema.GroupVersionKind { return u.GroupVersionKind() }
