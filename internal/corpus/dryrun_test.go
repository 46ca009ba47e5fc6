package corpus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"

	"github.com/driftless-dev/driftless/internal/cluster/clustertest"
	"github.com/driftless-dev/driftless/internal/render"
	"github.com/driftless-dev/driftless/internal/validate"
)

func TestMain(m *testing.M) { clustertest.Main(m) }

const fieldManager = "driftless-corpus-test"

var crdResource = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// TestValidateAgreesWithTheAPIServer: on every application of the corpus,
// each error validate-config reports that is not one of driftless's own
// policies is on an object a real kube-apiserver 1.34 refuses. The
// application's Namespaces and CRDs are created for real (CRDs waited
// until established), every other object is server-side applied with
// dryRun=All and strict field validation. Objects the server refuses that
// validate-config passes are listed; those of kinds with no CRD anywhere
// (the overlay relies on another installation) are expected.
func TestValidateAgreesWithTheAPIServer(t *testing.T) {
	apps := Apps(t)
	c := clustertest.Shared(t)
	cfg := c.RESTConfig()
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))
	// Sequential: applications share namespaces and CRDs (cert-manager's
	// are in two of them).
	for _, app := range apps {
		t.Run(app.Name, func(t *testing.T) {
			start := time.Now()
			r, err := validate.Pipeline(app.Spec, nil)
			if err != nil {
				t.Fatal(err)
			}
			validateErrs := map[string][]string{}
			for _, f := range r.Findings {
				if f.Severity != validate.Error || f.Policy {
					continue
				}
				if f.Object == "" {
					t.Errorf("validate-config: %s", f)
					continue
				}
				validateErrs[f.Object] = append(validateErrs[f.Object], f.Message)
			}
			m, err := render.Kustomize(app.Overlay, render.Wrapper{})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			spare := clustertest.Namespace(t, c)

			var objs []*unstructured.Unstructured
			namespaces := map[string]bool{}
			for _, res := range m.Resources() {
				content, err := res.Map()
				if err != nil {
					t.Fatalf("%s/%s: %v", res.GetKind(), res.GetName(), err)
				}
				data, err := json.Marshal(content)
				if err != nil {
					t.Fatal(err)
				}
				u := &unstructured.Unstructured{}
				if err := u.UnmarshalJSON(data); err != nil {
					t.Fatal(err)
				}
				objs = append(objs, u)
				if u.GetKind() == "Namespace" {
					namespaces[u.GetName()] = true
				} else if ns := u.GetNamespace(); ns != "" {
					namespaces[ns] = true
				}
			}
			refused := map[string]error{}
			// Namespaces first, for real: the application's own and those
			// its objects live in (a real cluster has kube-system, and the
			// installation an overlay relies on has its own).
			for _, ns := range slices.Sorted(maps.Keys(namespaces)) {
				u := find(objs, "Namespace", ns)
				if u == nil {
					u = &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns}}}
				}
				if err := apply(ctx, dyn, mapper, u, false); err != nil {
					refused[id(u, "")] = err
				}
			}
			var crds []*unstructured.Unstructured
			for _, u := range objs {
				if u.GetKind() == "CustomResourceDefinition" {
					if err := apply(ctx, dyn, mapper, u, false); err != nil {
						refused[id(u, "")] = err
						continue
					}
					crds = append(crds, u)
				}
			}
			if err := established(ctx, dyn, crds); err != nil {
				t.Fatal(err)
			}
			mapper.Reset()
			var noKind []string
			for _, u := range objs {
				if u.GetKind() == "Namespace" || u.GetKind() == "CustomResourceDefinition" {
					continue
				}
				key := id(u, "")
				if namespaced(mapper, u) && u.GetNamespace() == "" {
					// validate-config's namespace policy reports these;
					// the server is asked about the rest of the object.
					u = u.DeepCopy()
					u.SetNamespace(spare)
				}
				err := apply(ctx, dyn, mapper, u, true)
				var nk *meta.NoKindMatchError
				switch {
				case errors.As(err, &nk):
					noKind = append(noKind, key)
				case err != nil:
					refused[key] = err
				}
			}

			for _, obj := range slices.Sorted(maps.Keys(validateErrs)) {
				if _, ok := refused[obj]; !ok {
					t.Errorf("%s: validate-config reports an error the API server does not: %s", obj, strings.Join(validateErrs[obj], "; "))
				}
			}
			var missed []string
			for _, obj := range slices.Sorted(maps.Keys(refused)) {
				if _, ok := validateErrs[obj]; !ok {
					missed = append(missed, fmt.Sprintf("%s: %v", obj, refused[obj]))
				}
			}
			if len(missed) > 0 {
				t.Errorf("the API server refuses what validate-config passes:\n%s", strings.Join(missed, "\n"))
			}
			t.Logf("%d objects (%d CRDs): validate-config %d object(s) with errors, the API server refused %d; %d of kinds no CRD defines (%s); %v",
				len(objs), len(crds), len(validateErrs), len(refused), len(noKind), strings.Join(noKind, ", "), time.Since(start).Round(time.Millisecond))
		})
	}
}

func id(u *unstructured.Unstructured, ns string) string {
	if ns == "" {
		ns = u.GetNamespace()
	}
	return render.Object{Kind: u.GetKind(), Namespace: ns, Name: u.GetName()}.ID()
}

func find(objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	for _, u := range objs {
		if u.GetKind() == kind && u.GetName() == name {
			return u
		}
	}
	return nil
}

func namespaced(mapper meta.RESTMapper, u *unstructured.Unstructured) bool {
	gvk := u.GroupVersionKind()
	m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	return err == nil && m.Scope.Name() == meta.RESTScopeNameNamespace
}

// apply server-side applies u, for real or as a dry run, with strict field
// validation (unknown and duplicate fields are errors, as validate-config
// reports them).
func apply(ctx context.Context, dyn dynamic.Interface, mapper meta.RESTMapper, u *unstructured.Unstructured, dryRun bool) error {
	gvk := u.GroupVersionKind()
	m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return err
	}
	var ri dynamic.ResourceInterface = dyn.Resource(m.Resource)
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		ri = dyn.Resource(m.Resource).Namespace(u.GetNamespace())
	}
	data, err := json.Marshal(u.Object)
	if err != nil {
		return err
	}
	force := true
	opts := metav1.PatchOptions{FieldManager: fieldManager, Force: &force, FieldValidation: metav1.FieldValidationStrict}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	_, err = ri.Patch(ctx, u.GetName(), types.ApplyPatchType, data, opts)
	return err
}

// established waits until every CRD is served.
func established(ctx context.Context, dyn dynamic.Interface, crds []*unstructured.Unstructured) error {
	for _, crd := range crds {
		for {
			live, err := dyn.Resource(crdResource).Get(ctx, crd.GetName(), metav1.GetOptions{})
			if err != nil {
				return fmt.Errorf("CustomResourceDefinition/%s: %w", crd.GetName(), err)
			}
			conds, _, _ := unstructured.NestedSlice(live.Object, "status", "conditions")
			ok := false
			for _, c := range conds {
				cm, _ := c.(map[string]any)
				if cm["type"] == "Established" && cm["status"] == "True" {
					ok = true
				}
			}
			if ok {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("waiting for CustomResourceDefinition/%s to be established: %w", crd.GetName(), ctx.Err())
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return nil
}
