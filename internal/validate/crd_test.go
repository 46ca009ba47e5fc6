package validate

import (
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	sigsyaml "sigs.k8s.io/yaml"
)

// testCRDs loads the CRDs every validation test uses.
func testCRDs(t *testing.T) *CRDs {
	t.Helper()
	objs, err := LoadCRDFiles([]string{"testdata/crd/widgets.yaml", "testdata/crd/gadgets.json"})
	if err != nil {
		t.Fatalf("LoadCRDFiles: %v", err)
	}
	c := NewCRDs()
	for _, o := range objs {
		if err := c.Add(o); err != nil {
			t.Fatalf("Add: %v", err)
		}
	}
	return c
}

func TestCRDValidate(t *testing.T) {
	t.Parallel()
	c := testCRDs(t)
	const head = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w, namespace: ns}\n"
	tests := []struct {
		name string
		obj  string
		want []FieldError
	}{{
		name: "valid",
		obj: head + `spec:
  size: 3
  color: red
  name: small
  parts: [{name: bolt, count: 4}, {name: nut}]
  tags: [a, b]
  labels: {team: core}
  config: {level: 2, anything: [goes, here]}
  template:
    apiVersion: v1
    kind: ConfigMap
    metadata: {name: cm}
    data: {a: b}
status: {ready: true}
`,
	}, {
		name: "wrong type",
		obj:  head + "spec: {size: three, color: red}\n",
		want: []FieldError{{Path: "spec.size", Message: `Invalid value: "string": spec.size in body must be of type integer: "string"`}},
	}, {
		name: "number where an integer is wanted",
		obj:  head + "spec: {size: 1.5, color: red}\n",
		// kube-openapi's format check reports the field in the message only.
		want: []FieldError{
			{Path: "", Message: `Invalid value: "": Checked value must be of type integer (default format) in spec.size`},
			{Path: "spec.size", Message: `Invalid value: "number": spec.size in body must be of type integer: "number"`},
		},
	}, {
		name: "enum",
		obj:  head + "spec: {size: 1, color: purple}\n",
		want: []FieldError{{Path: "spec.color", Message: `Unsupported value: "purple": supported values: "red", "green", "blue"`}},
	}, {
		name: "minimum",
		obj:  head + "spec: {size: 0, color: red}\n",
		want: []FieldError{{Path: "spec.size", Message: `Invalid value: 0: spec.size in body should be greater than or equal to 1`}},
	}, {
		name: "pattern",
		obj:  head + "spec: {size: 1, color: red, name: Small}\n",
		want: []FieldError{{Path: "spec.name", Message: `Invalid value: "Small": spec.name in body should match '^[a-z]+$'`}},
	}, {
		name: "maxLength",
		obj:  head + "spec: {size: 1, color: red, name: muchtoolongname}\n",
		want: []FieldError{{Path: "spec.name", Message: `Too long: may not be more than 10 bytes`}},
	}, {
		name: "missing required",
		obj:  head + "spec: {size: 1}\n",
		want: []FieldError{{Path: "spec.color", Message: "Required value"}},
	}, {
		name: "missing required in a list item",
		obj:  head + "spec: {size: 1, color: red, parts: [{count: 2}]}\n",
		want: []FieldError{{Path: "spec.parts[0].name", Message: "Required value"}},
	}, {
		name: "unknown field in spec",
		obj:  head + "spec: {size: 1, color: red, colour: red}\n",
		want: []FieldError{{Path: "spec.colour", Message: `unknown field (not in the schema of CustomResourceDefinition/widgets.example.com)`}},
	}, {
		name: "unknown field nested in a list",
		obj:  head + "spec: {size: 1, color: red, parts: [{name: a}, {name: b, cnt: 2}]}\n",
		want: []FieldError{{Path: "spec.parts[1].cnt", Message: `unknown field (not in the schema of CustomResourceDefinition/widgets.example.com)`}},
	}, {
		name: "unknown top-level and metadata fields",
		obj:  "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w, labelz: {a: b}}\nspec: {size: 1, color: red}\nextra: 1\n",
		want: []FieldError{
			{Path: "extra", Message: `unknown field (not in the schema of CustomResourceDefinition/widgets.example.com)`},
			{Path: "metadata.labelz", Message: "unknown field (not in ObjectMeta)"},
		},
	}, {
		name: "preserve-unknown-fields keeps unknown fields but checks known ones",
		obj:  head + "spec: {size: 1, color: red, config: {whatever: {deep: [1]}, level: high}}\n",
		want: []FieldError{{Path: "spec.config.level", Message: `Invalid value: "string": spec.config.level in body must be of type integer: "string"`}},
	}, {
		name: "embedded resource is checked",
		obj:  head + "spec: {size: 1, color: red, template: {apiVersion: v1, metadata: {name: cm}}}\n",
		want: []FieldError{{Path: "spec.template.kind", Message: "Required value"}},
	}, {
		name: "unknown field in embedded metadata",
		obj:  head + "spec: {size: 1, color: red, template: {apiVersion: v1, kind: ConfigMap, metadata: {name: cm, nam: x}}}\n",
		want: []FieldError{{Path: "spec.template.metadata.nam", Message: "unknown field (not in ObjectMeta)"}},
	}, {
		name: "malformed metadata rejects the object before validation",
		obj:  "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w, labels: {a: 1}}\nspec: {size: 0, extra: 1}\n",
		want: []FieldError{{Path: "metadata", Message: "invalid ObjectMeta: json: cannot unmarshal number into Go struct field ObjectMeta.labels of type string"}},
	}, {
		name: "list-type set",
		obj:  head + "spec: {size: 1, color: red, tags: [a, a]}\n",
		want: []FieldError{{Path: "spec.tags[1]", Message: `Duplicate value: "a"`}},
	}, {
		name: "additionalProperties type",
		obj:  head + "spec: {size: 1, color: red, labels: {team: 7}}\n",
		want: []FieldError{{Path: "spec.labels.team", Message: `Invalid value: "integer": spec.labels.team in body must be of type string: "integer"`}},
	}, {
		// CEL needs the API server's libraries; apply-env's dry run runs
		// the rule (internal/steps/applyenv's TestDryRunRunsCELRules).
		name: "x-kubernetes-validations rules are left to the API server",
		obj:  head + "spec: {size: 1, color: red, minReplicas: 5, maxReplicas: 2}\n",
	}, {
		name: "the schema is checked on an object with rules",
		obj:  head + "spec: {size: 1, minReplicas: 5, maxReplicas: 2}\n",
		want: []FieldError{{Path: "spec.color", Message: "Required value"}},
	}, {
		name: "defaults apply before validation",
		obj:  head + "spec: {size: 1, color: red}\n", // mode is required, with a default
	}, {
		name: "explicit null of a defaulted field is defaulted",
		obj:  head + "spec: {size: 1, color: red, mode: null}\n",
	}, {
		name: "unserved version",
		obj:  "apiVersion: example.com/v1beta1\nkind: Widget\nmetadata: {name: w}\nspec: {}\n",
		want: []FieldError{{Path: "apiVersion", Message: `version "v1beta1" of CustomResourceDefinition/widgets.example.com is not served; served versions: v1`}},
	}, {
		name: "unknown version",
		obj:  "apiVersion: example.com/v3\nkind: Gadget\nmetadata: {name: g}\n",
		want: []FieldError{{Path: "apiVersion", Message: `CustomResourceDefinition/gadgets.example.com has no version "v3"; served versions: v2, v1`}},
	}, {
		name: "per-version schemas",
		obj:  "apiVersion: example.com/v1\nkind: Gadget\nmetadata: {name: g}\nspec: {power: true}\n",
		want: []FieldError{{Path: "spec.power", Message: `unknown field (not in the schema of CustomResourceDefinition/gadgets.example.com)`}},
	}, {
		name: "per-version schemas, other version",
		obj:  "apiVersion: example.com/v2\nkind: Gadget\nmetadata: {name: g}\nspec: {power: true}\n",
	}, {
		name: "unknown kind",
		obj:  "apiVersion: example.com/v1\nkind: Sprocket\nmetadata: {name: s}\n",
		want: []FieldError{{Path: "kind", Message: `no CustomResourceDefinition defines kind "Sprocket" in group "example.com"`}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var obj map[string]any
			if err := sigsyaml.Unmarshal([]byte(tt.obj), &obj); err != nil {
				t.Fatal(err)
			}
			before, _ := sigsyaml.Marshal(obj)
			got := c.Validate(obj)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Validate (-want +got):\n%s", diff)
			}
			if after, _ := sigsyaml.Marshal(obj); string(after) != string(before) {
				t.Errorf("Validate modified its argument:\n%s", after)
			}
		})
	}
}

func TestCRDValidateYAMLv3Types(t *testing.T) {
	t.Parallel()
	c := testCRDs(t)
	// gopkg.in/yaml.v3 decodes integers as int, not int64 or float64.
	obj := map[string]any{
		"apiVersion": "example.com/v1",
		"kind":       "Widget",
		"metadata":   map[string]any{"name": "w"},
		"spec":       map[string]any{"size": 2, "color": "blue", "parts": []any{map[string]any{"name": "a", "count": 3}}},
	}
	if got := c.Validate(obj); len(got) != 0 {
		t.Errorf("Validate: %v, want no errors", got)
	}
}

func TestCRDKnown(t *testing.T) {
	t.Parallel()
	c := testCRDs(t)
	tests := []struct {
		apiVersion, kind string
		want             bool
	}{
		{"example.com/v1", "Widget", true},
		{"example.com/v1beta1", "Widget", true}, // not served, but Validate says so
		{"example.com/v2", "Gadget", true},
		{"example.com/v1", "Gizmo", false},
		{"other.example.com/v1", "Widget", false},
		{"v1", "ConfigMap", false},
		{"a/b/c", "Widget", false},
	}
	for _, tt := range tests {
		t.Run(tt.apiVersion+"/"+tt.kind, func(t *testing.T) {
			t.Parallel()
			if got := c.Known(tt.apiVersion, tt.kind); got != tt.want {
				t.Errorf("Known(%q, %q) = %v, want %v", tt.apiVersion, tt.kind, got, tt.want)
			}
		})
	}
}

func TestCRDAddInvalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file string
		want []string // substrings of the error
	}{
		{"name.yaml", []string{"CustomResourceDefinition/widget.example.com", `metadata.name: Invalid value: "widget.example.com": must be spec.names.plural+"."+spec.group`}},
		{"notstructural.yaml", []string{"CustomResourceDefinition/widgets.example.com is invalid", "spec.versions[0].schema.openAPIV3Schema.properties[spec].type: Required value"}},
		{"unknownfield.yaml", []string{"CustomResourceDefinition/widgets.example.com: decoding", `unknown field "spec.versions[0].schema.openAPIV3Schema.properties.spec.requird"`}},
		{"v1beta1.yaml", []string{"CustomResourceDefinition/widgets.example.com: apiextensions.k8s.io/v1beta1 is no longer served"}},
		{"nostorage.yaml", []string{"CustomResourceDefinition/widgets.example.com is invalid", "must have exactly one version marked as storage version"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			objs, err := LoadCRDFiles([]string{filepath.Join("testdata/crd/broken", tt.file)})
			if err != nil || len(objs) != 1 {
				t.Fatalf("LoadCRDFiles: %d objects, %v", len(objs), err)
			}
			c := NewCRDs()
			err = c.Add(objs[0])
			if err == nil {
				t.Fatal("Add: no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Add error %q does not contain %q", err, w)
				}
			}
			if c.Known("example.com/v1", "Widget") {
				t.Error("a CRD that failed to add is known")
			}
		})
	}
}

func TestCRDAddNotACRD(t *testing.T) {
	t.Parallel()
	err := NewCRDs().Add(map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "cm"}})
	want := `ConfigMap/cm: not a CustomResourceDefinition: apiVersion "v1", kind "ConfigMap"; want apiextensions.k8s.io/v1, CustomResourceDefinition`
	if err == nil || err.Error() != want {
		t.Errorf("Add = %v, want %s", err, want)
	}
}

func TestLoadCRDFiles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		paths   []string
		want    []string // metadata.name of each CRD, in order
		wantErr string
	}{
		{name: "file", paths: []string{"testdata/crd/widgets.yaml"}, want: []string{"widgets.example.com"}},
		{name: "json file", paths: []string{"testdata/crd/gadgets.json"}, want: []string{"gadgets.example.com"}},
		{name: "directory, multi-document and List", paths: []string{"testdata/crd/dir"}, want: []string{"gizmos.example.com", "doohickeys.example.com"}},
		{name: "several", paths: []string{"testdata/crd/dir", "testdata/crd/widgets.yaml"}, want: []string{"gizmos.example.com", "doohickeys.example.com", "widgets.example.com"}},
		{name: "missing", paths: []string{"testdata/crd/nope.yaml"}, wantErr: "reading CRDs: stat testdata/crd/nope.yaml: no such file or directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			objs, err := LoadCRDFiles(tt.paths)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("LoadCRDFiles error = %v, want %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadCRDFiles: %v", err)
			}
			var got []string
			for _, o := range objs {
				got = append(got, o["metadata"].(map[string]any)["name"].(string))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("CRD names (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoadCRDFilesAdd(t *testing.T) {
	t.Parallel()
	objs, err := LoadCRDFiles([]string{"testdata/crd/dir"})
	if err != nil {
		t.Fatal(err)
	}
	c := NewCRDs()
	for _, o := range objs {
		if err := c.Add(o); err != nil {
			t.Fatalf("Add: %v", err)
		}
	}
	var known []string
	for _, k := range []string{"Gizmo", "Doohickey", "Namespace"} {
		if c.Known("example.com/v1", k) {
			known = append(known, k)
		}
	}
	sort.Strings(known)
	if diff := cmp.Diff([]string{"Doohickey", "Gizmo"}, known); diff != "" {
		t.Errorf("known kinds (-want +got):\n%s", diff)
	}
	// Gizmo preserves unknown fields at its root; Doohickey prunes all.
	gizmo := map[string]any{"apiVersion": "example.com/v1", "kind": "Gizmo", "metadata": map[string]any{"name": "g"}, "anything": []any{"goes"}}
	if got := c.Validate(gizmo); len(got) != 0 {
		t.Errorf("Validate(Gizmo) = %v, want no errors", got)
	}
	doohickey := map[string]any{"apiVersion": "example.com/v1", "kind": "Doohickey", "metadata": map[string]any{"name": "d"}, "spec": map[string]any{}}
	want := []FieldError{{Path: "spec", Message: "unknown field (not in the schema of CustomResourceDefinition/doohickeys.example.com)"}}
	if diff := cmp.Diff(want, c.Validate(doohickey)); diff != "" {
		t.Errorf("Validate(Doohickey) (-want +got):\n%s", diff)
	}
}
