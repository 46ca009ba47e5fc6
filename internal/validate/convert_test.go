package validate

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"
)

var convertSeeds = []string{
	"a: b\nc: [1, -2, 3.5, true, True, FALSE, null, ~, '', \"x\"]\n",
	"n: 0x1F\no: 0o17\nm: 1_000\nbig: 123456789012345678901234567890\nneg: -0\nplus: +5\n",
	"t: 2024-01-02\nts: 2024-01-02T03:04:05Z\nyes: yes\non: on\nnan: .nan\ninf: -.inf\n",
	"s: !!str 12\ni: !!int \"12\"\nb: !!binary aGVsbG8=\nc: !custom x\n",
	"base: &b {x: 1}\nref: *b\nmerged: {<<: *b, y: 2}\n",
	"a: 1\na: 2\n",
	"1: one\ntrue: yes\n",
	"str: \"tab\\there \\\"q\\\" \\\\ \\u0001 \\u2028 é <&>\"\nblock: |\n  line 1\n  line 2\nfolded: >\n  a\n  b\n",
	"empty: {}\nlist: []\nnested: {a: [{b: {c: [1, [2, [3]]]}}]}\n",
	"? [complex]\n: key\n",
}

// FuzzNodeValue: where nodeValue converts a document, it gives what
// yaml.v3's Node.Decode gives, and appendJSON what encoding/json gives.
func FuzzNodeValue(f *testing.F) {
	for _, s := range convertSeeds {
		f.Add(s)
	}
	if b, err := os.ReadFile(filepath.Join("testdata", "crd", "widgets.yaml")); err == nil {
		f.Add(string(b))
	}
	f.Fuzz(func(t *testing.T, doc string) {
		var n yaml.Node
		if yaml.Unmarshal([]byte(doc), &n) != nil || len(n.Content) == 0 {
			return
		}
		root := n.Content[0]
		got, ok := nodeValue(root)
		if ok {
			var want any
			if err := root.Decode(&want); err != nil {
				t.Fatalf("nodeValue converted what Node.Decode refuses (%v):\n%s", err, doc)
			}
			if diff := cmp.Diff(normalizeYAML(want), got); diff != "" {
				t.Fatalf("nodeValue (-Node.Decode +nodeValue):\n%s\n%s", diff, doc)
			}
		} else if err := root.Decode(&got); err != nil {
			return
		}
		got = normalizeYAML(got)
		want, wantErr := json.Marshal(got)
		b, ok := appendJSON(nil, got)
		if !ok {
			return
		}
		if wantErr != nil {
			t.Fatalf("appendJSON wrote what json.Marshal refuses (%v): %s", wantErr, b)
		}
		var fromMarshal, fromAppend any
		decode := func(data []byte, into *any) {
			dec := json.NewDecoder(bytes.NewReader(data))
			dec.UseNumber()
			if err := dec.Decode(into); err != nil {
				t.Fatalf("decoding %s: %v", data, err)
			}
		}
		decode(want, &fromMarshal)
		decode(b, &fromAppend)
		if diff := cmp.Diff(fromMarshal, fromAppend); diff != "" {
			t.Fatalf("appendJSON (-json.Marshal +appendJSON):\n%s\n%s", diff, b)
		}
	})
}

func TestNodeValueFallsBack(t *testing.T) {
	t.Parallel()
	for _, doc := range []string{
		"a: 1.5\n",                  // floats: yaml.v3's parsing
		"a: &x 1\nb: *x\n",          // aliases
		"a: {<<: {b: 1}}\n",         // merges
		"a: 1\na: 2\n",              // duplicate keys: yaml.v3's error
		"1: a\n",                    // a non-string key
		"a: !!binary aGVsbG8=\n",    // explicit tags
		"a: 2024-01-02T03:04:05Z\n", // timestamps
		"a: 0x10\n",                 // integers in other bases
	} {
		var n yaml.Node
		if err := yaml.Unmarshal([]byte(doc), &n); err != nil {
			t.Fatal(err)
		}
		if v, ok := nodeValue(n.Content[0]); ok {
			t.Errorf("nodeValue(%q) = %v, want it left to Node.Decode", doc, v)
		}
	}
}
