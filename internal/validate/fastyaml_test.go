package validate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"

	"github.com/driftless-dev/driftless/internal/render"
	"github.com/driftless-dev/driftless/internal/spec"
	"github.com/driftless-dev/driftless/internal/testtool"
)

var fastSeeds = []string{
	"a: b\nc:\n  d: 1\n  e: [] # none\n  f: {}\n",
	"list:\n- a\n- 2\n-\n- {}\n- name: x\n  value: 'it''s'\n- - nested\n",
	"list:\n- a\n- 2\n-\n- {}\n- name: x\n  value: 'it''s'\nafter: 1\n",
	"list:\n  - name: x\n    args: [\"--a\"]\n  - name: y\n",
	"s: \"a\\\"b\\\\c\\u00e9\\n\"\nq: 'a # b'\np: a#b\nc: x # comment\n",
	"lit: |\n  line 1\n\n  line 3\nkeep: |+\n  x\n\nstrip: |-\n  y\nnext: 1\n",
	"lit: |\n    deep\n  shallow\n",
	"k: v\n  more\n",
	"k: v: w\n",
	"k: 1.5\nt: true\nn: null\ne:\ni: -12\nh: 0x1f\n",
	"\"quoted key\": 1\n'single': 2\n",
	"a:\n  - b\n  c: d\n",
	"a:\nb: 1\n",
	"---\na: 1\n",
	"--- # c\na: 1\n",
	"a: &x 1\nb: *x\n",
	"a: 1\na: 2\n",
	"true: 1\n",
	"a:\n  b:\n    - c:\n        d: e\n      f: g\n",
	"a: |\n  x\n b: c\n",
	"a: >\n  folded\n",
	"a: \"unterminated\n",
	"- a\n- b\n",
	"x",
	"",
	"a: b\n# only a comment\n\n",
	"a:    spaced   \nb: 'x'   # c\n",
	"image: nginx:1.25\nurl: http://x/y?z=1#frag\n",
}

// FuzzFastParse: what fastParse reads, it reads as yaml.v3 does.
func FuzzFastParse(f *testing.F) {
	for _, s := range append(fastSeeds, convertSeeds...) {
		f.Add(s)
	}
	for _, dir := range []string{"testdata", filepath.Join("..", "..", "testdata", "corpus")} {
		filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(path, ".yaml") {
				if b, err := os.ReadFile(path); err == nil {
					for _, doc := range splitDocuments(b) {
						f.Add(string(doc.data))
					}
				}
			}
			return nil
		})
	}
	f.Fuzz(func(t *testing.T, doc string) {
		got, ok := fastParse([]byte(doc))
		if !ok {
			return
		}
		var n yaml.Node
		if err := yaml.Unmarshal([]byte(doc), &n); err != nil {
			t.Fatalf("fastParse read what yaml.v3 refuses (%v):\n%s", err, doc)
		}
		var want any
		if err := n.Content[0].Decode(&want); err != nil {
			t.Fatalf("fastParse read what Node.Decode refuses (%v):\n%s", err, doc)
		}
		if diff := cmp.Diff(normalizeYAML(want), any(got)); diff != "" {
			t.Fatalf("fastParse (-yaml.v3 +fastParse):\n%s\n%s", diff, doc)
		}
	})
}

// TestFastParseReadsRendered: every document kustomize-render writes for
// the example takes the fast path.
func TestFastParseReadsRendered(t *testing.T) {
	t.Parallel()
	p, err := spec.Load(filepath.Join(testtool.Root(t), "driftless.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, env := range p.Environments {
		res, err := render.Environment(p, &env, render.Options{Image: p.Image.Repository + "@sha256:" + strings.Repeat("ab", 32), Version: "v1.0.0"})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range splitDocuments(res.YAML) {
			if _, ok := fastParse(d.data); !ok {
				t.Errorf("%s: fastParse leaves this document to yaml.v3:\n%s", env.Name, d.data)
			}
		}
	}
}
