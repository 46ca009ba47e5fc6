package apply

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// DefaultWorkers is how many objects of one stage are applied at once. Objects
// within a stage do not depend on each other.
const DefaultWorkers = 8

// live reads the current state of every object of a group with one LIST
// per resource and namespace instead of one GET per object.
func (a *Applier) live(ctx context.Context, group []*unstructured.Unstructured) (map[string]*unstructured.Unstructured, error) {
	type key struct {
		gvr schema.GroupVersionResource
		ns  string
	}
	wanted := map[key]bool{}
	for _, u := range group {
		_, m, err := a.resource(u)
		if err != nil {
			return nil, err
		}
		ns := u.GetNamespace()
		if m.Scope.Name() != meta.RESTScopeNameNamespace {
			ns = ""
		}
		wanted[key{m.Resource, ns}] = true
	}
	out := map[string]*unstructured.Unstructured{}
	for k := range wanted {
		list, err := a.C.Dynamic.Resource(k.gvr).Namespace(k.ns).List(ctx, metav1.ListOptions{})
		if apierrors.IsNotFound(err) {
			continue // the namespace is created in this run
		}
		if err != nil {
			err = fmt.Errorf("reading %s in %q: %w", k.gvr.Resource, k.ns, err)
			if unreachable(err) {
				return nil, &UnreachableError{Err: err, NotTried: len(group)}
			}
			return nil, err
		}
		for i := range list.Items {
			u := &list.Items[i]
			out[k.gvr.String()+"/"+u.GetNamespace()+"/"+u.GetName()] = u
		}
	}
	lookup := map[string]*unstructured.Unstructured{}
	for _, u := range group {
		_, m, _ := a.resource(u)
		ns := u.GetNamespace()
		if m.Scope.Name() != meta.RESTScopeNameNamespace {
			ns = ""
		}
		if l, ok := out[m.Resource.String()+"/"+ns+"/"+u.GetName()]; ok {
			lookup[ID(u)] = l
		}
	}
	return lookup, nil
}

// applyStage applies a group in parallel and returns the results in the
// group's order, with what the server answered for each object. An object
// the plan's dry run found unchanged, whose live resourceVersion is still
// the one dry-run, is not sent again.
func (a *Applier) applyStage(ctx context.Context, group []*unstructured.Unstructured, checked map[string]planned) ([]Result, map[string]*unstructured.Unstructured, error) {
	existing, err := a.live(ctx, group)
	if err != nil {
		return nil, nil, err
	}
	results := make([]Result, len(group))
	answers := make([]*unstructured.Unstructured, len(group))
	index := make(map[*unstructured.Unstructured]int, len(group))
	for i, u := range group {
		index[u] = i
	}
	errs := a.parallel(ctx, group, func(u *unstructured.Unstructured) error {
		i, live := index[u], existing[ID(u)]
		if c, ok := checked[ID(u)]; ok && c.change == Unchanged && live != nil && live.GetResourceVersion() == c.rv {
			results[i], answers[i] = Result{Object: ID(u), Change: Unchanged}, live
			return nil
		}
		change, result, _, err := a.applyKnown(ctx, u, live, false)
		if err != nil {
			return err
		}
		results[i], answers[i] = Result{Object: ID(u), Change: change}, result
		if change != Unchanged {
			a.logf("  %s %s", ID(u), change)
		}
		return nil
	})
	seen := map[string]*unstructured.Unstructured{}
	var done []Result
	for i, r := range results {
		if r.Object != "" {
			done = append(done, r)
			if answers[i] != nil {
				seen[r.Object] = answers[i]
			}
		}
	}
	if len(errs) > 0 {
		return done, seen, errors.Join(errs...)
	}
	if ctx.Err() != nil {
		return done, seen, context.Cause(ctx)
	}
	return done, seen, nil
}
