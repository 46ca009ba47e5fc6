package validate

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/driftless-dev/driftless/internal/spec"
)

// TestStaticProject checks a realistic project through spec.Load, with the
// spec path relative as the CLI gets it.
func TestStaticProject(t *testing.T) {
	t.Parallel()
	p, err := spec.Load("testdata/static/project/driftless.yaml")
	if err != nil {
		t.Fatalf("spec.Load: %v", err)
	}
	const dir = "testdata/static/project/"
	const static = dir + "static/"
	want := []Finding{
		{File: dir + "driftless.yaml", Line: 15, Col: 14, Severity: Warning, Message: `"limits/*.json" matches no JSON or YAML file in "static"`},
		{File: static + "apis/orders.yaml", Line: 4, Col: 14, Severity: Error, Message: "does not match schemas/api.schema.json: /spec/rateLimit: got string, want integer"},
		{File: static + "apis/orders.yaml", Line: 7, Col: 7, Severity: Error, Message: `does not match schemas/api.schema.json: /spec/methods/1: value must be one of 'GET', 'POST'`},
		{File: static + "apis/orders.yaml", Line: 9, Col: 1, Severity: Error, Message: "does not match schemas/api.schema.json: (root): additional properties 'owner' not allowed"},
		{File: static + "apis/orders.yaml", Line: 9, Col: 7, Severity: Error, Message: `does not match schemas/api.schema.json: /name: 'Orders-V2' does not match pattern '^[a-z-]+$'`},
		{File: static + "apis/orders.yaml", Line: 10, Col: 19, Severity: Error, Message: "does not match schemas/api.schema.json: /spec/rateLimit: minimum: got 0, want 1"},
		{File: static + "extra/broken.json", Line: 3, Col: 14, Severity: Error, Message: "invalid JSON: invalid character ']' looking for beginning of value"},
		{File: static + "extra/broken.yaml", Line: 2, Col: 1, Severity: Error, Message: "invalid YAML: did not find expected ',' or ']'"},
		{File: static + "plans.json", Line: 4, Col: 28, Severity: Error, Message: "does not match schemas/plans.schema.yaml: /plans/1/price: minimum: got -5, want 0"},
		{File: static + "plans.json", Line: 5, Col: 5, Severity: Error, Message: "does not match schemas/plans.schema.yaml: /plans/2: missing property 'id'"},
	}
	if diff := cmp.Diff(want, Static(p)); diff != "" {
		t.Errorf("Static (-want +got):\n%s", diff)
	}
}

func TestStaticNil(t *testing.T) {
	t.Parallel()
	p, err := spec.Parse("driftless.yaml", []byte(staticSpecHead))
	if err != nil {
		t.Fatal(err)
	}
	if got := Static(p); got != nil {
		t.Errorf("Static without a static section = %v, want nil", got)
	}
}

const staticSpecHead = `apiVersion: driftless.dev/v1alpha1
kind: Pipeline
name: svc
image:
  repository: registry.example.com/svc
  base: scratch
environments:
  - name: test
    overlay: o/test
    namespace: svc-test
`

// objSchema requires an object whose n is an integer.
const objSchema = `{"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}`

func TestStatic(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// rules are the static.schemas lines of the spec (line 14 on).
		rules []string
		files map[string]string
		want  []Finding // File relative to the temporary directory
	}{{
		name:  "valid",
		rules: []string{`{files: "*.yaml", schema: s.json}`, `{files: "*.json", schema: s.json}`},
		files: map[string]string{
			"s.json":         objSchema,
			"static/a.yaml":  "n: 1\n---\nn: 2\n",
			"static/b.json":  `{"n": 3}`,
			"static/c.yml":   "just: [a, list]\n", // not matched by any rule
			"static/d.txt":   "{not data",
			"static/e.yaml":  "# only a comment\n",
			"static/f/g.yml": "x: 1\n",
		},
		want: []Finding{
			// An empty YAML file is null.
			{File: "static/e.yaml", Severity: Error, Message: "does not match s.json: (root): got null, want object"},
		},
	}, {
		name: "yaml syntax error",
		files: map[string]string{
			"static/a.yaml": "a: 1\n  b: 2\n",
		},
		want: []Finding{{File: "static/a.yaml", Line: 2, Col: 1, Severity: Error, Message: "invalid YAML: mapping values are not allowed in this context"}},
	}, {
		name: "yaml error in a later document",
		files: map[string]string{
			"static/a.yaml": "a: 1\n---\nb: [\n",
		},
		want: []Finding{{File: "static/a.yaml", Line: 4, Col: 1, Severity: Error, Message: "invalid YAML: did not find expected node content"}},
	}, {
		// yaml.v3 reports these parser errors a line early; Static
		// corrects it.
		name: "yaml unclosed flow sequence",
		files: map[string]string{
			"static/a.yaml": "a: 1\nb: [1, 2\nc: 3\n",
		},
		want: []Finding{{File: "static/a.yaml", Line: 2, Col: 1, Severity: Error, Message: "invalid YAML: did not find expected ',' or ']'"}},
	}, {
		name: "yaml bad indentation",
		files: map[string]string{
			"static/a.yaml": "a:\n  b: 1\n c: 2\n",
		},
		want: []Finding{{File: "static/a.yaml", Line: 3, Col: 1, Severity: Error, Message: "invalid YAML: did not find expected key"}},
	}, {
		name: "yaml error on the first line",
		files: map[string]string{
			"static/a.yaml": "a: !x!y 1\n",
		},
		want: []Finding{{File: "static/a.yaml", Line: 1, Col: 1, Severity: Error, Message: "invalid YAML: found undefined tag handle"}},
	}, {
		name: "yaml tab",
		files: map[string]string{
			"static/a.yaml": "a: 1\n\tb: 2\n",
		},
		want: []Finding{{File: "static/a.yaml", Line: 2, Col: 1, Severity: Error, Message: "invalid YAML: found a tab character that violates indentation"}},
	}, {
		name: "yaml duplicate key",
		files: map[string]string{
			"static/a.yaml": "a: 1\nb: 2\na: 3\n",
		},
		want: []Finding{{File: "static/a.yaml", Line: 3, Col: 1, Severity: Error, Message: `invalid YAML: mapping key "a" already defined at line 1`}},
	}, {
		name: "json syntax error",
		files: map[string]string{
			"static/a.json": "{\n  \"a\": 1\n  \"b\": 2\n}\n",
		},
		want: []Finding{{File: "static/a.json", Line: 3, Col: 3, Severity: Error, Message: "invalid JSON: invalid character '\"' after object key:value pair"}},
	}, {
		name: "json syntax error after multibyte characters",
		files: map[string]string{
			"static/a.json": `{"é": "ü", x}`,
		},
		want: []Finding{{File: "static/a.json", Line: 1, Col: 12, Severity: Error, Message: "invalid JSON: invalid character 'x' looking for beginning of object key string"}},
	}, {
		name: "json truncated",
		files: map[string]string{
			"static/a.json": "{\"a\": [1,\n",
		},
		want: []Finding{{File: "static/a.json", Line: 2, Col: 1, Severity: Error, Message: "invalid JSON: unexpected end of file"}},
	}, {
		name: "json empty",
		files: map[string]string{
			"static/a.json": "  \n",
		},
		want: []Finding{{File: "static/a.json", Severity: Error, Message: "invalid JSON: the file is empty"}},
	}, {
		name: "json trailing data",
		files: map[string]string{
			"static/a.json": "{}\n{}\n",
		},
		want: []Finding{{File: "static/a.json", Line: 2, Col: 1, Severity: Error, Message: "invalid JSON: data after the top-level value"}},
	}, {
		name:  "json positions",
		rules: []string{`{files: "*.json", schema: s.json}`},
		files: map[string]string{
			"s.json": `{"properties": {"a/b": {"items": {"type": "string"}}, "c": {"type": "boolean"}}}`,
			// "\/" is valid JSON that gopkg.in/yaml.v3 rejects.
			"static/a.json": "{\n\t\"a/b\" : [\"x\\/y\",\n\t\t2],\n  \"c\":null}",
		},
		want: []Finding{
			{File: "static/a.json", Line: 3, Col: 3, Severity: Error, Message: "does not match s.json: /a~1b/1: got number, want string"},
			{File: "static/a.json", Line: 4, Col: 7, Severity: Error, Message: "does not match s.json: /c: got null, want boolean"},
		},
	}, {
		name:  "yaml anchors and merge keys",
		rules: []string{`{files: "*.yaml", schema: s.json}`},
		files: map[string]string{
			"s.json": `{"additionalProperties": {"type": "object", "properties": {"n": {"type": "integer"}, "m": {"type": "integer"}}}}`,
			"static/a.yaml": `base: &base
  n: one
  m: 1
ok:
  <<: *base
  n: 2
bad:
  <<: *base
alias: *base
`,
		},
		want: []Finding{
			// What an alias or merge key refers to is reported where the
			// anchor defines it.
			{File: "static/a.yaml", Line: 2, Col: 6, Severity: Error, Message: "does not match s.json: /alias/n: got string, want integer"},
			{File: "static/a.yaml", Line: 2, Col: 6, Severity: Error, Message: "does not match s.json: /bad/n: got string, want integer"},
			{File: "static/a.yaml", Line: 2, Col: 6, Severity: Error, Message: "does not match s.json: /base/n: got string, want integer"},
		},
	}, {
		name:  "yaml scalars as JSON sees them",
		rules: []string{`{files: "*.yaml", schema: s.json}`},
		files: map[string]string{
			"s.json":        `{"properties": {"date": {"type": "string"}, "hex": {"const": 31}, "f": {"type": "number"}, "tagged": {"type": "string"}, "no": {"type": "boolean"}, "nil": {"type": "null"}}}`,
			"static/a.yaml": "date: 2024-01-01\nhex: 0x1F\nf: 1e3\ntagged: !env HOME\nno: false\nnil: ~\n",
		},
	}, {
		name:  "multi-document yaml",
		rules: []string{`{files: "*.yaml", schema: s.json}`},
		files: map[string]string{
			"s.json":        objSchema,
			"static/a.yaml": "n: 1\n---\nn: x\n---\nm: 2\n",
		},
		want: []Finding{
			{File: "static/a.yaml", Line: 3, Col: 4, Severity: Error, Message: "does not match s.json: /n: got string, want integer"},
			{File: "static/a.yaml", Line: 5, Col: 1, Severity: Error, Message: "does not match s.json: (root): missing property 'n'"},
		},
	}, {
		name:  "glob is on slash paths relative to the static directory",
		rules: []string{`{files: "apis/*.yaml", schema: s.json}`, `{files: "*.yaml", schema: s.json}`},
		files: map[string]string{
			"s.json":              objSchema,
			"static/apis/a.yaml":  "n: a\n",
			"static/apis/x/b.yml": "n: b\n",
		},
		want: []Finding{
			{File: "driftless.yaml", Line: 16, Col: 15, Severity: Warning, Message: `"*.yaml" matches no JSON or YAML file in "static"`},
			{File: "static/apis/a.yaml", Line: 1, Col: 4, Severity: Error, Message: "does not match s.json: /n: got string, want integer"},
		},
	}, {
		name:  "two rules with one schema report once",
		rules: []string{`{files: "*.yaml", schema: s.json}`, `{files: "a.*", schema: s.json}`},
		files: map[string]string{
			"s.json":        objSchema,
			"static/a.yaml": "n: a\n",
		},
		want: []Finding{
			{File: "static/a.yaml", Line: 1, Col: 4, Severity: Error, Message: "does not match s.json: /n: got string, want integer"},
		},
	}, {
		name:  "files that do not parse are not validated",
		rules: []string{`{files: "*.yaml", schema: s.json}`},
		files: map[string]string{
			"s.json":        objSchema,
			"static/a.yaml": "[\n",
		},
		want: []Finding{{File: "static/a.yaml", Line: 2, Col: 1, Severity: Error, Message: "invalid YAML: did not find expected node content"}},
	}, {
		name:  "schema violates the metaschema",
		rules: []string{`{files: "*.yaml", schema: s.json}`},
		files: map[string]string{
			"s.json":        "{\n  \"properties\": {\n    \"n\": {\"type\": \"int\"}\n  }\n}\n",
			"static/a.yaml": "n: 1\n",
		},
		want: []Finding{{File: "s.json", Line: 3, Col: 19, Severity: Error, Message: "invalid JSON Schema: /properties/n/type: value must be one of 'array', 'boolean', 'integer', 'null', 'number', 'object', 'string'"}},
	}, {
		name:  "schema is not JSON",
		rules: []string{`{files: "*.yaml", schema: s.json}`, `{files: "*.yml", schema: s.json}`},
		files: map[string]string{
			"s.json":        "{\"type\": object}\n",
			"static/a.yaml": "n: 1\n",
			"static/b.yml":  "n: 1\n",
		},
		want: []Finding{{File: "s.json", Line: 1, Col: 10, Severity: Error, Message: "invalid JSON: invalid character 'o' looking for beginning of value"}},
	}, {
		name:  "schema refers to a missing file",
		rules: []string{`{files: "*.yaml", schema: s.json}`},
		files: map[string]string{
			"s.json":        `{"$ref": "other.json"}`,
			"static/a.yaml": "n: 1\n",
		},
		want: []Finding{{File: "s.json", Severity: Error, Message: `invalid JSON Schema: failing loading "file://other.json": lstat ...`}},
	}, {
		name:  "schema file missing",
		rules: []string{`{files: "*.yaml", schema: nope.json}`},
		files: map[string]string{
			"static/a.yaml": "n: 1\n",
		},
		want: []Finding{{File: "driftless.yaml", Line: 15, Col: 33, Severity: Error, Message: `reading the JSON Schema "nope.json": lstat ...`}},
	}, {
		name:  "static directory missing",
		rules: []string{`{files: "*.yaml", schema: s.json}`},
		files: map[string]string{
			"s.json": objSchema,
		},
		want: []Finding{
			// The rules' globs match nothing, of course; that is not
			// reported on top.
			{File: "driftless.yaml", Line: 12, Col: 8, Severity: Error, Message: `reading the static configuration directory "static": lstat ...`},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			doc := staticSpecHead + "static:\n  dir: static\n  path: /srv/static\n"
			if len(tt.rules) > 0 {
				doc += "  schemas:\n"
				for _, r := range tt.rules {
					doc += "    - " + r + "\n"
				}
			}
			tt.files["driftless.yaml"] = doc
			writeFiles(t, dir, tt.files)
			p := parseSpec(t, filepath.Join(dir, "driftless.yaml"))

			got := Static(p)
			// Paths are the temporary directory's; a wanted message ending
			// in "..." is a prefix (operating-system details follow).
			for i := range got {
				rel, err := filepath.Rel(dir, got[i].File)
				if err != nil {
					t.Fatal(err)
				}
				got[i].File = filepath.ToSlash(rel)
				got[i].Message = strings.ReplaceAll(got[i].Message, dir+string(filepath.Separator), "")
				got[i].Message = strings.ReplaceAll(got[i].Message, dir, "")
				if i < len(tt.want) {
					w := tt.want[i].Message
					if prefix, ok := strings.CutSuffix(w, "..."); ok && strings.HasPrefix(got[i].Message, prefix) {
						got[i].Message = w
					}
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Static (-want +got):\n%s", diff)
			}
		})
	}
}

// validateTree writes files into dir, then validates the pipeline of its
// driftless.yaml, every environment.
func validateTree(t *testing.T, dir string, files map[string]string) *Report {
	t.Helper()
	writeFiles(t, dir, files)
	p, err := spec.Load(filepath.Join(dir, "driftless.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := Pipeline(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func parseSpec(t *testing.T, file string) *spec.Pipeline {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	p, err := spec.Parse(file, data)
	if err != nil {
		t.Fatalf("spec.Parse: %v", err)
	}
	return p
}

// TestStaticFileRules: validate-config reads the static configuration by
// bake-image's rules (internal/repofs), so what bake-image refuses is an
// error here too, found without opening or reading what is refused.
func TestStaticFileRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		rules []string
		setup func(t *testing.T, repo, outside string)
		want  []Finding // REPO and OUTSIDE stand for the directories
	}{{
		name: "a link inside the repository",
		setup: func(t *testing.T, repo, outside string) {
			symlink(t, "a.yaml", filepath.Join(repo, "static", "alias.yaml"))
		},
		want: []Finding{{File: "REPO/static/alias.yaml", Severity: Error, Message: `resolves to "REPO/static/a.yaml": a symbolic link (to "a.yaml"); the static configuration holds only regular files and directories, all its revision hash covers`}},
	}, {
		name: "a link leading outside is not read",
		setup: func(t *testing.T, repo, outside string) {
			symlink(t, filepath.Join(outside, "bad.yaml"), filepath.Join(repo, "static", "leak.yaml"))
		},
		want: []Finding{{File: "REPO/static/leak.yaml", Severity: Error, Message: `resolves to "OUTSIDE/bad.yaml": outside the repository "REPO"; only files inside it are read`}},
	}, {
		name: "a named pipe is not opened",
		setup: func(t *testing.T, repo, outside string) {
			if err := syscall.Mkfifo(filepath.Join(repo, "static", "pipe.yaml"), 0o644); err != nil {
				t.Fatal(err)
			}
		},
		want: []Finding{{File: "REPO/static/pipe.yaml", Severity: Error, Message: "a named pipe (FIFO), refused without being opened; only regular files and directories are read"}},
	}, {
		name: "a named pipe that is not YAML or JSON either",
		setup: func(t *testing.T, repo, outside string) {
			if err := syscall.Mkfifo(filepath.Join(repo, "static", "pipe"), 0o644); err != nil {
				t.Fatal(err)
			}
		},
		want: []Finding{{File: "REPO/static/pipe", Severity: Error, Message: "a named pipe (FIFO), refused without being opened; only regular files and directories are read"}},
	}, {
		name: "static.dir outside",
		setup: func(t *testing.T, repo, outside string) {
			replaceIn(t, filepath.Join(repo, "driftless.yaml"), "dir: static", "dir: ../outside")
		},
		want: []Finding{{File: "REPO/driftless.yaml", Line: 12, Col: 8, Severity: Error, Message: `reading the static configuration directory "../outside": "OUTSIDE": outside the repository "REPO"; only files inside it are read`}},
	}, {
		name: "static.dir a link leading outside",
		setup: func(t *testing.T, repo, outside string) {
			os.RemoveAll(filepath.Join(repo, "static"))
			symlink(t, outside, filepath.Join(repo, "static"))
		},
		want: []Finding{{File: "REPO/driftless.yaml", Line: 12, Col: 8, Severity: Error, Message: `reading the static configuration directory "static": "REPO/static" (resolves to "OUTSIDE"): outside the repository "REPO"; only files inside it are read`}},
	}, {
		name:  "a schema outside",
		rules: []string{`{files: "*.yaml", schema: ../outside/s.json}`},
		want:  []Finding{{File: "REPO/driftless.yaml", Line: 15, Col: 33, Severity: Error, Message: `reading the JSON Schema "../outside/s.json": "OUTSIDE/s.json": outside the repository "REPO"; only files inside it are read`}},
	}, {
		name:  "a schema referring to a file outside",
		rules: []string{`{files: "*.yaml", schema: ref.json}`},
		setup: func(t *testing.T, repo, outside string) {
			writeFiles(t, repo, map[string]string{"ref.json": `{"$ref": "` + filepath.Join(outside, "s.json") + `"}`})
		},
		want: []Finding{{File: "REPO/ref.json", Severity: Error, Message: `invalid JSON Schema: failing loading "file://OUTSIDE/s.json": "OUTSIDE/s.json": outside the repository "REPO"; only files inside it are read`}},
	}, {
		name:  "a file over the limit is not read",
		rules: []string{`{files: "*.json", schema: s.json}`},
		setup: func(t *testing.T, repo, outside string) {
			sparse(t, filepath.Join(repo, "static", "big.json"), MaxStaticFileSize+1)
		},
		want: []Finding{{File: "REPO/static/big.json", Severity: Error, Message: "not checked: it is 16777217 bytes, more than the 16777216 (16 MiB) validate-config reads of a file to parse it"}},
	}, {
		name:  "a schema over the limit is not read",
		rules: []string{`{files: "*.yaml", schema: big.json}`},
		setup: func(t *testing.T, repo, outside string) {
			sparse(t, filepath.Join(repo, "big.json"), MaxStaticFileSize+1)
		},
		want: []Finding{{File: "REPO/driftless.yaml", Line: 15, Col: 33, Severity: Error, Message: `reading the JSON Schema "big.json": not checked: it is 16777217 bytes, more than the 16777216 (16 MiB) validate-config reads of a file to parse it`}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			base := t.TempDir()
			repo, outside := filepath.Join(base, "repo"), filepath.Join(base, "outside")
			doc := staticSpecHead + "static:\n  dir: static\n  path: /srv/static\n"
			if len(tt.rules) > 0 {
				doc += "  schemas:\n"
				for _, r := range tt.rules {
					doc += "    - " + r + "\n"
				}
			}
			writeFiles(t, repo, map[string]string{
				"driftless.yaml": doc,
				".git/HEAD":      "ref: refs/heads/main\n",
				"s.json":         objSchema,
				"static/a.yaml":  "n: 1\n",
			})
			// Outside: what would pass or fail visibly if it were read.
			writeFiles(t, outside, map[string]string{"bad.yaml": "n: not a number\n", "s.json": objSchema, "c.yaml": "n: 2\n"})
			if tt.setup != nil {
				tt.setup(t, repo, outside)
			}
			p := parseSpec(t, filepath.Join(repo, "driftless.yaml"))
			var got []Finding
			done := make(chan struct{})
			go func() { defer close(done); got = Static(p) }()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				t.Fatal("Static still running after 30s")
			}
			r := strings.NewReplacer("REPO", repo, "OUTSIDE", outside)
			for i := range tt.want {
				tt.want[i].File = r.Replace(tt.want[i].File)
				tt.want[i].Message = r.Replace(tt.want[i].Message)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Static (-want +got):\n%s", diff)
			}
		})
	}
}

// TestStaticLargeFileMemory: a 300 MB static file costs nothing to
// refuse: it is never read. Not parallel, so that the allocations counted
// are this test's.
func TestStaticLargeFileMemory(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"driftless.yaml": staticSpecHead + "static:\n  dir: static\n  path: /srv/static\n", "static/a.yaml": "n: 1\n"})
	sparse(t, filepath.Join(dir, "static", "big.json"), 300<<20)
	p := parseSpec(t, filepath.Join(dir, "driftless.yaml"))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	got := Static(p)
	runtime.ReadMemStats(&after)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8<<20 {
		t.Errorf("checking a static directory with a 300 MiB file allocated %d MiB", alloc>>20)
	}
	if len(got) != 1 || !strings.Contains(got[0].Message, "not checked: it is 314572800 bytes") {
		t.Errorf("findings %v", got)
	}
}

// sparse makes a file of size bytes that takes no room on disk.
func sparse(t *testing.T, path string, size int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

func replaceIn(t *testing.T, file, old, new string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil || !strings.Contains(string(b), old) {
		t.Fatalf("%q not in %s (%v)", old, file, err)
	}
	if err := os.WriteFile(file, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}
