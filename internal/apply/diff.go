package apply

import (
	"context"
	"fmt"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// ObjectDiff is how one object would change.
type ObjectDiff struct {
	Object string
	Change Change
	// Diff is a unified diff of the object's YAML, Secret values masked.
	Diff string
}

// Diff server-side dry-runs every object, labelled as a member of set just
// as a real apply labels it, and reports what would change. Secret values
// never appear: changed values show as "(changed)".
func (a *Applier) Diff(ctx context.Context, set ApplySet, objs []*unstructured.Unstructured) ([]ObjectDiff, error) {
	set.Label(objs)
	var out []ObjectDiff
	for _, group := range Stages(objs) {
		for _, u := range group {
			change, result, existing, err := a.Apply(ctx, u, true)
			if err != nil {
				return out, err
			}
			d := ObjectDiff{Object: ID(u), Change: change}
			if change != Unchanged {
				var before, after *unstructured.Unstructured
				if existing != nil {
					before = Comparable(existing)
				}
				if result != nil {
					after = Comparable(result)
				} else {
					after = Comparable(u)
				}
				if u.GetKind() == "Secret" {
					before, after = maskSecrets(before, after)
				}
				d.Diff = unified(ID(u), before, after)
			}
			out = append(out, d)
		}
	}
	return out, nil
}

// maskSecrets replaces data and stringData values: equal ones with "***",
// differing ones with "*** (changed)".
func maskSecrets(before, after *unstructured.Unstructured) (*unstructured.Unstructured, *unstructured.Unstructured) {
	get := func(u *unstructured.Unstructured, f string) map[string]any {
		if u == nil {
			return nil
		}
		m, _, _ := unstructured.NestedMap(u.Object, f)
		return m
	}
	for _, f := range []string{"data", "stringData"} {
		b, af := get(before, f), get(after, f)
		for k, v := range af {
			if bv, ok := b[k]; ok && fmt.Sprint(bv) == fmt.Sprint(v) {
				af[k] = "***"
			} else {
				af[k] = "*** (changed)"
			}
		}
		for k := range b {
			b[k] = "***"
		}
		if before != nil && b != nil {
			_ = unstructured.SetNestedMap(before.Object, b, f)
		}
		if after != nil && af != nil {
			_ = unstructured.SetNestedMap(after.Object, af, f)
		}
	}
	return before, after
}

func unified(name string, before, after *unstructured.Unstructured) string {
	toYAML := func(u *unstructured.Unstructured) string {
		if u == nil {
			return ""
		}
		b, _ := yaml.Marshal(u.Object)
		return string(b)
	}
	s, _ := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: difflib.SplitLines(toYAML(before)), B: difflib.SplitLines(toYAML(after)),
		FromFile: name + " (live)", ToFile: name + " (rendered)", Context: 3,
	})
	return strings.TrimRight(s, "\n")
}
