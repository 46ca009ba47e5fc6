package apply

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilnet "k8s.io/apimachinery/pkg/util/net"
)

// planned is what the dry run of an object found.
type planned struct {
	change Change
	// rv is the live object's resourceVersion when it was dry-run ("" when
	// absent): the answer holds only while it is unchanged.
	rv string
}

// check runs every check that needs the cluster but writes nothing, and
// fills p.checked with the dry run of each object that can be dry-run now.
// Objects of a namespace that does not exist yet, and custom resources
// whose CRD comes with the manifests, are dry-run once they can be.
func (a *Applier) check(ctx context.Context, p *Plan) error {
	var problems []error
	crds := definedKinds(p.objs)
	namespaces := map[string]bool{}
	for _, u := range p.objs {
		if u.GetKind() == "Namespace" && u.GetAPIVersion() == "v1" {
			namespaces[u.GetName()] = true
		}
	}
	exists := map[string]bool{}
	nsExists := func(ns string) (bool, error) {
		if v, ok := exists[ns]; ok {
			return v, nil
		}
		_, err := a.C.Kube.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return false, fmt.Errorf("reading Namespace/%s: %w", ns, err)
		}
		exists[ns] = err == nil
		return err == nil, nil
	}
	p.nsMissing = false
	refreshed := false
	var dryable []*unstructured.Unstructured
	for _, u := range p.objs {
		gvk := u.GroupVersionKind()
		namespaced, served := false, true
		m, err := a.mappingRefresh(gvk, !refreshed)
		if err != nil && meta.IsNoMatchError(err) {
			refreshed = true
		}
		switch {
		case err == nil:
			namespaced = m.Scope.Name() == meta.RESTScopeNameNamespace
		case meta.IsNoMatchError(err):
			scope, ok := crds[gvk]
			if !ok {
				problems = append(problems, fmt.Errorf("%s: the cluster does not serve %s, and no CustomResourceDefinition in the manifests defines it", ID(u), gvk.GroupVersion().WithKind(gvk.Kind)))
				continue
			}
			namespaced, served = scope == "Namespaced", false
		default:
			return fmt.Errorf("%s: reading the cluster's API resources: %w", ID(u), err)
		}
		ns := u.GetNamespace()
		switch {
		case namespaced && ns == "":
			problems = append(problems, fmt.Errorf("%s: namespaced object without a namespace: set namespace: %s in the overlay's kustomization", ID(u), p.owner.Namespace))
			continue
		case !namespaced && ns != "":
			problems = append(problems, fmt.Errorf("%s: %s is cluster-scoped but the object names namespace %q: remove it", ID(u), gvk.Kind, ns))
			continue
		}
		if !served {
			continue
		}
		if namespaced {
			ok, err := nsExists(ns)
			if err != nil {
				return err
			}
			if !ok {
				if ns == p.owner.Namespace {
					p.nsMissing = true
				} else if !namespaces[ns] {
					problems = append(problems, fmt.Errorf("%s: namespace %q does not exist and the manifests do not create it", ID(u), ns))
				}
				continue
			}
		}
		dryable = append(dryable, u)
	}
	if len(problems) > 0 {
		return &RefusedError{Owner: p.owner, Problems: problems}
	}
	live, err := a.live(ctx, dryable)
	if err != nil {
		return err
	}
	own, legacy := p.owner.ApplySet().ID(), p.owner.legacyApplySet().ID()
	for _, u := range dryable {
		if l, ok := live[ID(u)]; ok {
			if set := l.GetLabels()[LabelPartOf]; set != "" && set != own && set != legacy {
				problems = append(problems, fmt.Errorf("%s: already exists as a member of another ApplySet (%s=%s), another pipeline's or tool's: driftless does not take over objects it did not apply", ID(u), LabelPartOf, set))
			}
		}
	}
	if len(problems) > 0 {
		return &RefusedError{Owner: p.owner, Problems: problems}
	}
	p.checked = map[string]planned{}
	var mu sync.Mutex
	errs := a.parallel(ctx, dryable, func(u *unstructured.Unstructured) error {
		existing := live[ID(u)]
		if existing != nil && unchangedLocally(u, existing) {
			mu.Lock()
			p.checked[ID(u)] = planned{change: Unchanged, rv: existing.GetResourceVersion()}
			mu.Unlock()
			return nil
		}
		change, _, _, err := a.applyKnown(ctx, u, existing, true)
		var ie *ImmutableError
		if errors.As(err, &ie) && a.ForceRecreate && u.GetKind() != "PersistentVolumeClaim" {
			change, err = Recreated, nil
		}
		if err != nil {
			return err
		}
		rv := ""
		if existing != nil {
			rv = existing.GetResourceVersion()
		}
		mu.Lock()
		p.checked[ID(u)] = planned{change: change, rv: rv}
		mu.Unlock()
		return nil
	})
	if len(errs) > 0 {
		return &RefusedError{Owner: p.owner, Problems: errs}
	}
	return nil
}

// parallel runs f over objs with a.Workers goroutines and returns the errors
// in the objects' order. It stops dispatching when ctx ends or the API
// server cannot be reached: every further object would fail the same way,
// and the error says so once, with how many objects were not tried.
func (a *Applier) parallel(ctx context.Context, objs []*unstructured.Unstructured, f func(*unstructured.Unstructured) error) []error {
	errs := make([]error, len(objs))
	jobs := make(chan int)
	var gone atomic.Pointer[error]
	var wg sync.WaitGroup
	for range min(cmp.Or(a.Workers, DefaultWorkers), len(objs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				errs[i] = f(objs[i])
				if errs[i] != nil && unreachable(errs[i]) {
					gone.CompareAndSwap(nil, &errs[i])
				}
			}
		}()
	}
	sent := 0
	for i := range objs {
		if ctx.Err() != nil || gone.Load() != nil {
			break
		}
		jobs <- i
		sent++
	}
	close(jobs)
	wg.Wait()
	if g := gone.Load(); g != nil {
		return []error{&UnreachableError{Err: *g, NotTried: len(objs) - sent}}
	}
	return slices.DeleteFunc(errs, func(e error) bool { return e == nil })
}

// UnreachableError is the API server going away mid-run: reported once,
// not once per object.
type UnreachableError struct {
	Err error
	// NotTried is how many objects were not sent once it was gone.
	NotTried int
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("the API server cannot be reached: %v; %d more object(s) of this stage were not tried (nothing is pruned or recorded: the next run converges; a Lease it held expires after its duration, and a run by another holder waits until then)", e.Err, e.NotTried)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// unreachable reports whether err says the API server cannot be reached
// (as opposed to refusing an object).
func unreachable(err error) bool {
	var se apierrors.APIStatus
	if errors.As(err, &se) {
		return false
	}
	return utilnet.IsConnectionRefused(err) || utilnet.IsConnectionReset(err) || utilnet.IsProbableEOF(err) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, io.ErrUnexpectedEOF)
}

// definedKinds are the kinds the manifests' CustomResourceDefinitions
// define, each with its scope (Namespaced or Cluster).
func definedKinds(objs []*unstructured.Unstructured) map[schema.GroupVersionKind]string {
	out := map[schema.GroupVersionKind]string{}
	for _, u := range objs {
		if u.GetKind() != "CustomResourceDefinition" || u.GroupVersionKind().Group != "apiextensions.k8s.io" {
			continue
		}
		group, _, _ := unstructured.NestedString(u.Object, "spec", "group")
		kind, _, _ := unstructured.NestedString(u.Object, "spec", "names", "kind")
		scope, _, _ := unstructured.NestedString(u.Object, "spec", "scope")
		versions, _, _ := unstructured.NestedSlice(u.Object, "spec", "versions")
		for _, v := range versions {
			if m, ok := v.(map[string]any); ok {
				if name, _ := m["name"].(string); name != "" {
					out[schema.GroupVersionKind{Group: group, Version: name, Kind: kind}] = scope
				}
			}
		}
	}
	return out
}
