package render

import (
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strings"
)

// Difference is how one object differs between two environments.
type Difference struct {
	// Object is Kind/name; namespaces are expected to differ and ignored.
	Object string
	// OnlyIn names the environment that has the object, when only one has.
	OnlyIn string
	// Fields are the differing field paths with both values: "spec.replicas: 1 → 3".
	Fields []string
}

// maxFields bounds the fields listed per object, to keep summaries readable.
const maxFields = 8

// Compare lists how environment b differs from a: objects only in one of
// them, and for objects in both (matched by kind and name) the fields whose
// values differ, namespaces aside.
func Compare(a, b *Result) []Difference {
	inA := map[string]Object{}
	for _, o := range a.Objects {
		inA[compareKey(o, a.Namespace)] = o
	}
	inB := map[string]Object{}
	for _, o := range b.Objects {
		inB[compareKey(o, b.Namespace)] = o
	}
	var diffs []Difference
	for _, k := range slices.Sorted(maps.Keys(inA)) {
		ob, ok := inB[k]
		if !ok {
			diffs = append(diffs, Difference{Object: k, OnlyIn: a.Env})
			continue
		}
		var fields []string
		diffValues(inA[k].Content, ob.Content, "", inA[k].Kind == "Secret", &fields)
		if len(fields) > maxFields {
			fields = append(fields[:maxFields], fmt.Sprintf("… and %d more", len(fields)-maxFields))
		}
		if len(fields) > 0 {
			diffs = append(diffs, Difference{Object: k, Fields: fields})
		}
	}
	for _, k := range slices.Sorted(maps.Keys(inB)) {
		if _, ok := inA[k]; !ok {
			diffs = append(diffs, Difference{Object: k, OnlyIn: b.Env})
		}
	}
	return diffs
}

// hashSuffix is the content hash kustomize appends to generated ConfigMaps
// and Secrets: a dash and ten characters of its alphabet.
var hashSuffix = regexp.MustCompile(`-[bcdfghkmt2456789]{10}$`)

// compareKey names an object so that its counterpart in another
// environment has the same key: the environment's own Namespace object, and
// generated objects whose names carry a content hash, match across
// environments.
func compareKey(o Object, envNamespace string) string {
	name := o.Name
	switch {
	case o.Kind == "Namespace" && envNamespace != "" && name == envNamespace:
		name = "(environment namespace)"
	case o.Kind == "ConfigMap" || o.Kind == "Secret":
		name = hashSuffix.ReplaceAllString(name, "-(hash)")
	}
	return o.Kind + "/" + name
}

func diffValues(a, b any, path string, secret bool, out *[]string) {
	if path == "metadata.namespace" || path == "metadata.name" {
		return // expected to differ; the key matched them
	}
	if secret && (strings.HasPrefix(path, "data.") || strings.HasPrefix(path, "stringData.")) {
		// Never print a Secret's value, not even in a diff.
		if !reflect.DeepEqual(a, b) {
			*out = append(*out, path+": (secret value differs)")
		}
		return
	}
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok {
		keys := map[string]bool{}
		for k := range am {
			keys[k] = true
		}
		for k := range bm {
			keys[k] = true
		}
		for _, k := range slices.Sorted(maps.Keys(keys)) {
			p := k
			if path != "" {
				p = path + "." + k
			}
			diffValues(am[k], bm[k], p, secret, out)
		}
		return
	}
	al, aok := a.([]any)
	bl, bok := b.([]any)
	if aok && bok && len(al) == len(bl) {
		for i := range al {
			diffValues(al[i], bl[i], fmt.Sprintf("%s[%d]", path, i), secret, out)
		}
		return
	}
	if !reflect.DeepEqual(a, b) {
		*out = append(*out, fmt.Sprintf("%s: %s → %s", path, short(a), short(b)))
	}
}

func short(v any) string {
	if v == nil {
		return "(absent)"
	}
	s := fmt.Sprint(v)
	switch v.(type) {
	case map[string]any, []any:
		s = "{…}"
	}
	s = strings.ReplaceAll(s, "\n", "⏎")
	if len(s) > 40 {
		s = s[:37] + "…"
	}
	return s
}
