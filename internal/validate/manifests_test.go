package validate

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSplitDocuments(t *testing.T) {
	t.Parallel()
	in := "a: 1\n---\nb: |\n  ---\n  text\n--- # c\nc: 3\n%YAML 1.2\n---\nd: 4\n---\n"
	type doc struct {
		Text string
		Line int
	}
	var got []doc
	for _, d := range splitDocuments([]byte(in)) {
		got = append(got, doc{string(d.data), d.line})
		if d.data[0] != in[d.off] || !strings.HasPrefix(in[d.off:], string(d.data)) {
			t.Errorf("document at offset %d is not there: %q", d.off, d.data)
		}
	}
	want := []doc{
		{"a: 1\n", 0},
		{"---\nb: |\n  ---\n  text\n", 1},
		{"--- # c\nc: 3\n%YAML 1.2\n", 5},
		{"---\nd: 4\n", 8},
		{"---\n", 10},
	}
	// A directive belongs to the next document; YAML allows it only after
	// an end marker, so yaml.v3 refuses the third document either way.
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestManifestsAcrossDocuments: the documents of a file are parsed apart
// and in parallel; findings still name the lines of the file, a custom
// resource before its CRD is checked against it, and a syntax error stops
// the file where the parser would.
func TestManifestsAcrossDocuments(t *testing.T) {
	t.Parallel()
	crd, err := os.ReadFile("testdata/crd/widgets.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for i := range 50 {
		b.WriteString("---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm-" + strings.Repeat("x", i%3) + string(rune('a'+i%26)) + ", namespace: ns}\ndata: {a: b}\n")
	}
	b.WriteString("---\napiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w, namespace: ns}\nspec: {size: 0, color: red}\n")
	b.WriteString("---\n" + string(crd))
	b.WriteString("---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: Bad, namespace: ns}\n")
	b.WriteString("---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: x\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: Unread}\n")
	file := filepath.Join(t.TempDir(), "m.yaml")
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(b.String(), "\n")
	lineOf := func(s string) int {
		for i, l := range lines {
			if strings.Contains(l, s) {
				return i + 1
			}
		}
		t.Fatalf("no line has %q", s)
		return 0
	}
	r, err := Manifests(nil, []string{file})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range r.Findings {
		got = append(got, strings.TrimPrefix(f.String(), file))
	}
	want := []string{
		":" + itoa(lineOf("spec: {size: 0")) + ":8: error: Widget/ns/w: spec.size: Invalid value: 0: spec.size in body should be greater than or equal to 1",
		":" + itoa(lineOf("name: Bad")) + ":12: error: ConfigMap/ns/Bad: metadata.name: invalid name \"Bad\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
		":" + itoa(lineOf("metadata: {name: x")) + ":1: error: invalid YAML: did not find expected ',' or '}'",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
	if r.Objects != 53 {
		t.Errorf("%d objects, want 53 (the last two documents are not read)", r.Objects)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestManifestsPoliciesAcrossObjects: the policies that need two objects
// still point at the workload's lines once both were checked and slimmed.
func TestManifestsPoliciesAcrossObjects(t *testing.T) {
	t.Parallel()
	content := `apiVersion: apps/v1
kind: Deployment
metadata:
  name: db
  namespace: ns
spec:
  replicas: 2
  selector:
    matchLabels:
      app: db
  template:
    metadata:
      labels:
        app: db
    spec:
      containers:
      - name: db
        image: postgres:16
        resources:
          requests:
            cpu: 1m
            memory: 1Mi
      volumes:
      - name: data
        persistentVolumeClaim:
          claimName: data
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: data
  namespace: ns
spec:
  accessModes:
  - ReadWriteOnce
  resources:
    requests:
      storage: 1Gi
`
	file := filepath.Join(t.TempDir(), "m.yaml")
	if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Manifests(nil, []string{file})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range r.Findings {
		got = append(got, strings.TrimPrefix(f.String(), file))
	}
	want := []string{
		`:7:3: error: Deployment/ns/db: spec.replicas: runs 2 replicas that all mount ReadWriteOnce PersistentVolumeClaim "data": only one pod can attach it`,
		`:24:9: error: Deployment/ns/db: spec.template.spec.volumes[0]: mounts ReadWriteOnce PersistentVolumeClaim "data" with a RollingUpdate strategy: the new pod can never attach the volume while the old pod holds it; set strategy.type: Recreate`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
}
