package apply

import (
	"bytes"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/client-go/applyconfigurations"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
	"sigs.k8s.io/structured-merge-diff/v6/typed"
	"sigs.k8s.io/structured-merge-diff/v6/value"
)

// typeConverter types built-in objects with the schemas client-go carries,
// as the API server's server-side apply does.
var typeConverter = sync.OnceValue(func() managedfields.TypeConverter {
	return applyconfigurations.NewTypeConverter(scheme.Scheme)
})

// Warm starts building what deciding "unchanged" locally needs (the type
// converter parses client-go's schemas: ~50 ms of CPU) in the background,
// so that it overlaps the step's reading of the spec and the manifests and
// its first requests instead of following them.
func Warm() { go typeConverter() }

// unchangedLocally reports whether server-side applying u as driftless
// would change nothing in live: the fields driftless owns in live (its
// managed-fields entry) hold exactly what u sets. It decides without a
// request, so an unchanged re-apply costs no dry run per object. Whenever
// it cannot be sure — a kind without a built-in schema, no managed-fields
// entry of ours, a value the server normalises differently, a field
// another manager took over — it answers false and the dry run decides.
func unchangedLocally(u, live *unstructured.Unstructured) bool {
	var owned *metav1.ManagedFieldsEntry
	for i, e := range live.GetManagedFields() {
		if e.Manager == FieldManager && e.Operation == metav1.ManagedFieldsOperationApply && e.Subresource == "" {
			owned = &live.GetManagedFields()[i]
		}
	}
	if owned == nil || owned.FieldsV1 == nil {
		return false
	}
	set := &fieldpath.Set{}
	if err := set.FromJSON(bytes.NewReader(owned.FieldsV1.Raw)); err != nil {
		return false
	}
	if isSecret(live) {
		// The API server stores stringData as data; the manager that
		// applied stringData owns stringData's fields. Read them back.
		values, err := secretData(live)
		if err != nil {
			return false
		}
		live = live.DeepCopy()
		sd := map[string]any{}
		for k, v := range values {
			sd[k] = string(v)
		}
		_ = unstructured.SetNestedMap(live.Object, sd, "stringData")
	}
	tc := typeConverter()
	liveTV, err := tc.ObjectToTyped(live, typed.AllowDuplicates)
	if err != nil {
		return false
	}
	wantTV, err := tc.ObjectToTyped(u)
	if err != nil {
		return false
	}
	ours := liveTV.ExtractItems(set.Leaves())
	a, ok := withoutIdentity(ours)
	if !ok {
		return false
	}
	b, ok := withoutIdentity(wantTV)
	if !ok {
		return false
	}
	cmp, err := a.Compare(b)
	return err == nil && cmp.IsSame()
}

// withoutIdentity drops what names an object (apiVersion, kind, name,
// namespace), which no field manager owns, keeping the value's type.
func withoutIdentity(tv *typed.TypedValue) (*typed.TypedValue, bool) {
	// A copy: the typed value wraps the object's own maps.
	m, ok := tv.AsValue().Unstructured().(map[string]any)
	if !ok {
		return nil, false
	}
	m = runtime.DeepCopyJSON(m)
	delete(m, "apiVersion")
	delete(m, "kind")
	if md, ok := m["metadata"].(map[string]any); ok {
		delete(md, "name")
		delete(md, "namespace")
		if len(md) == 0 {
			delete(m, "metadata")
		}
	}
	out, err := typed.AsTyped(value.NewValueInterface(m), tv.Schema(), tv.TypeRef())
	return out, err == nil
}
