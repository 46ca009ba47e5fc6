package static_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"

	"github.com/driftless-dev/driftless/example/internal/static"
	"github.com/driftless-dev/driftless/internal/configrev"
)

// The example's own static configuration and schemas, which driftless's
// tests and demo deploy.
const (
	exampleStatic  = "../../static"
	exampleSchemas = "../../schemas"
)

func TestLoadExample(t *testing.T) {
	t.Parallel()
	cfg, err := static.Load(exampleStatic)
	if err != nil {
		t.Fatalf("Load(%q) error = %v", exampleStatic, err)
	}
	rev, err := configrev.Dir(exampleStatic)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(rev, cfg.Revision); diff != "" {
		t.Errorf("Revision (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"billing", "catalog", "orders"}, cfg.APINames()); diff != "" {
		t.Errorf("APINames() (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"free", "gold"}, cfg.PlanNames()); diff != "" {
		t.Errorf("PlanNames() (-want +got):\n%s", diff)
	}
	want := static.API{
		Name:        "orders",
		Title:       "Orders API",
		Description: "Place, track and cancel orders.",
		Version:     "1.4.0",
		BasePath:    "/orders/v1",
		Backend:     "http://orders.pssp-backends.svc:8080",
		Groups:      []string{"partners", "internal"},
	}
	got, ok := cfg.API("orders")
	if !ok {
		t.Fatal(`API("orders") not found`)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf(`API("orders") (-want +got):\n%s`, diff)
	}
}

// schemaFor names the schema that covers each static file.
func schemaFor(file string) string {
	if strings.HasPrefix(file, static.APIsDir+"/") {
		return "api.schema.json"
	}
	return strings.TrimSuffix(file, ".yaml") + ".schema.json"
}

func compileSchemas(t *testing.T) map[string]*jsonschema.Schema {
	t.Helper()
	entries, err := os.ReadDir(exampleSchemas)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	out := map[string]*jsonschema.Schema{}
	for _, e := range entries {
		sch, err := c.Compile(filepath.Join(exampleSchemas, e.Name()))
		if err != nil {
			t.Fatalf("compiling %s: %v", e.Name(), err)
		}
		out[e.Name()] = sch
	}
	return out
}

// validate checks a YAML file against a schema the way a JSON Schema
// validator sees it: as the JSON value the YAML denotes.
func validate(t *testing.T, sch *jsonschema.Schema, data []byte) error {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatalf("parsing YAML: %v", err)
	}
	j, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("converting YAML to JSON: %v", err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
	if err != nil {
		t.Fatal(err)
	}
	return sch.Validate(inst)
}

func TestSchemasAcceptExample(t *testing.T) {
	t.Parallel()
	schemas := compileSchemas(t)
	used := map[string]bool{}
	err := filepath.WalkDir(exampleStatic, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(exampleStatic, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		name := schemaFor(rel)
		sch, ok := schemas[name]
		if !ok {
			t.Errorf("%s: no schema %s", rel, name)
			return nil
		}
		used[name] = true
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := validate(t, sch, data); err != nil {
			t.Errorf("%s does not match %s: %v", rel, name, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for name := range schemas {
		if !used[name] {
			t.Errorf("schema %s covers no static file", name)
		}
	}
}

// valid is a small, complete static configuration.
func valid() fstest.MapFS {
	return fstest.MapFS{
		"apis/orders.yaml": {Data: []byte(`name: orders
title: Orders
version: 1.0.0
basePath: /orders/v1
backend: http://orders:8080
groups: [partners]
`)},
		"apis/stock.yaml": {Data: []byte(`name: stock
title: Stock
version: 0.1.0
basePath: /stock/v1
backend: https://stock.example.com
groups: [partners]
`)},
		"plans.yaml": {Data: []byte(`plans:
  - name: free
    title: Free
    rateLimit: {requests: 10, per: minute}
`)},
		"groups.yaml": {Data: []byte(`groups:
  - name: partners
    title: Partners
    plans: [free]
`)},
		"routing.yaml": {Data: []byte(`hosts: [api.example.com]
routes:
  - {pathPrefix: /orders/v1, api: orders, timeout: 5s}
`)},
	}
}

func TestLoadFSRefuses(t *testing.T) {
	t.Parallel()
	schemas := compileSchemas(t)
	tests := []struct {
		name   string
		change func(fsys fstest.MapFS)
		// wantErr lists substrings the error must contain.
		wantErr []string
		// schemaRejects names the file its JSON Schema must reject as well;
		// empty when only a cross-file check can find the problem.
		schemaRejects string
	}{
		{
			name:          "unknown field",
			change:        replace("apis/orders.yaml", "title: Orders", "title: Orders\ncolour: blue"),
			wantErr:       []string{"apis/orders.yaml", "field colour not found"},
			schemaRejects: "apis/orders.yaml",
		},
		{
			name:    "name differs from file name",
			change:  replace("apis/orders.yaml", "name: orders", "name: order"),
			wantErr: []string{"apis/orders.yaml", `name "order" does not match the file name: want "orders"`},
		},
		{
			name:          "bad version",
			change:        replace("apis/orders.yaml", "version: 1.0.0", "version: v1"),
			wantErr:       []string{"apis/orders.yaml", `version "v1"`},
			schemaRejects: "apis/orders.yaml",
		},
		{
			name:          "version parsed as a number",
			change:        replace("apis/orders.yaml", "version: 1.0.0", "version: 1.0"),
			wantErr:       []string{"apis/orders.yaml", `version "1.0"`},
			schemaRejects: "apis/orders.yaml",
		},
		{
			name:          "base path with trailing slash",
			change:        replace("apis/orders.yaml", "basePath: /orders/v1", "basePath: /orders/v1/"),
			wantErr:       []string{"apis/orders.yaml", `basePath "/orders/v1/"`},
			schemaRejects: "apis/orders.yaml",
		},
		{
			name:    "base path used twice",
			change:  replace("apis/stock.yaml", "basePath: /stock/v1", "basePath: /orders/v1"),
			wantErr: []string{"apis/stock.yaml", `basePath "/orders/v1": already used by API "orders"`},
		},
		{
			name:          "backend not a URL",
			change:        replace("apis/orders.yaml", "backend: http://orders:8080", "backend: orders:8080"),
			wantErr:       []string{"apis/orders.yaml", `backend "orders:8080"`},
			schemaRejects: "apis/orders.yaml",
		},
		{
			name:    "unknown group",
			change:  replace("apis/orders.yaml", "groups: [partners]", "groups: [partners, admins]"),
			wantErr: []string{"apis/orders.yaml", `unknown group "admins": want one of "partners"`},
		},
		{
			name:          "no groups",
			change:        replace("apis/orders.yaml", "groups: [partners]", "groups: []"),
			wantErr:       []string{"apis/orders.yaml", "groups: at least one group is required"},
			schemaRejects: "apis/orders.yaml",
		},
		{
			name:    "unknown plan in group",
			change:  replace("groups.yaml", "plans: [free]", "plans: [free, gold]"),
			wantErr: []string{"groups.yaml", `unknown plan "gold": want one of "free"`},
		},
		{
			name:          "bad rate period",
			change:        replace("plans.yaml", "per: minute", "per: fortnight"),
			wantErr:       []string{"plans.yaml", `per "fortnight": want one of second, minute, hour, day`},
			schemaRejects: "plans.yaml",
		},
		{
			name:          "zero requests",
			change:        replace("plans.yaml", "requests: 10", "requests: 0"),
			wantErr:       []string{"plans.yaml", "requests 0: want at least 1"},
			schemaRejects: "plans.yaml",
		},
		{
			name: "plan defined twice",
			change: replace("plans.yaml", "plans:\n", `plans:
  - name: free
    title: Free again
    rateLimit: {requests: 1, per: second}
`),
			wantErr: []string{"plans.yaml", `plans[1].name "free": defined twice`},
		},
		{
			name:    "route to unknown API",
			change:  replace("routing.yaml", "api: orders", "api: ordres"),
			wantErr: []string{"routing.yaml", `unknown API "ordres": want one of "orders", "stock"`},
		},
		{
			name:          "bad timeout",
			change:        replace("routing.yaml", "timeout: 5s", "timeout: 5"),
			wantErr:       []string{"routing.yaml", `timeout "5"`},
			schemaRejects: "routing.yaml",
		},
		{
			name:          "upper-case host",
			change:        replace("routing.yaml", "api.example.com", "API.example.com"),
			wantErr:       []string{"routing.yaml", `hosts[0] "API.example.com"`},
			schemaRejects: "routing.yaml",
		},
		{
			name:    "missing file",
			change:  func(fsys fstest.MapFS) { delete(fsys, "groups.yaml") },
			wantErr: []string{"reading groups.yaml", "file does not exist"},
		},
		{
			name:    "empty file",
			change:  func(fsys fstest.MapFS) { fsys["plans.yaml"] = &fstest.MapFile{} },
			wantErr: []string{"plans.yaml: empty file"},
		},
		{
			name:    "two documents",
			change:  replace("routing.yaml", "hosts:", "{}\n---\nhosts:"),
			wantErr: []string{"routing.yaml: more than one YAML document"},
		},
		{
			name:    "not YAML",
			change:  replace("routing.yaml", "hosts:", "hosts: [\n"),
			wantErr: []string{"routing.yaml: yaml: line"},
		},
		{
			name:    "stray file among APIs",
			change:  func(fsys fstest.MapFS) { fsys["apis/orders.yml"] = fsys["apis/orders.yaml"] },
			wantErr: []string{"apis/orders.yml: unexpected entry"},
		},
		{
			name: "no APIs",
			change: func(fsys fstest.MapFS) {
				delete(fsys, "apis/orders.yaml")
				delete(fsys, "apis/stock.yaml")
				fsys["apis"] = &fstest.MapFile{Mode: os.ModeDir | 0o755}
			},
			wantErr: []string{"apis/: no API definitions"},
		},
		{
			name: "every problem at once",
			change: func(fsys fstest.MapFS) {
				replace("apis/orders.yaml", "version: 1.0.0", "version: one")(fsys)
				replace("plans.yaml", "per: minute", "per: week")(fsys)
			},
			wantErr: []string{`apis/orders.yaml: version "one"`, `plans.yaml: plans[0].rateLimit.per "week"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fsys := valid()
			tt.change(fsys)
			cfg, err := static.LoadFS(fsys)
			if err == nil {
				t.Fatalf("LoadFS() = %+v, want an error", cfg)
			}
			for _, s := range tt.wantErr {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("LoadFS() error = %q\nwant it to contain %q", err, s)
				}
			}
			if tt.schemaRejects != "" {
				sch := schemas[schemaFor(tt.schemaRejects)]
				if err := validate(t, sch, fsys[tt.schemaRejects].Data); err == nil {
					t.Errorf("%s: schema %s accepts what LoadFS refuses", tt.schemaRejects, schemaFor(tt.schemaRejects))
				}
			}
		})
	}
}

func TestValidMatchesSchemas(t *testing.T) {
	t.Parallel()
	schemas := compileSchemas(t)
	fsys := valid()
	if _, err := static.LoadFS(fsys); err != nil {
		t.Fatalf("LoadFS() error = %v", err)
	}
	for name, f := range fsys {
		if err := validate(t, schemas[schemaFor(name)], f.Data); err != nil {
			t.Errorf("%s does not match %s: %v", name, schemaFor(name), err)
		}
	}
}

func TestLoadRefusesSymlink(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for name, f := range valid() {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, f.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := static.Load(dir); err != nil {
		t.Fatalf("Load() error = %v", err)
	}
	// A symlink outside apis/ is not read, but it would make the revision
	// depend on the host, so Load must still refuse it.
	if err := os.Symlink("plans.yaml", filepath.Join(dir, "extra.yaml")); err != nil {
		t.Fatal(err)
	}
	_, err := static.Load(dir)
	if err == nil || !strings.Contains(err.Error(), `"extra.yaml" is a symbolic link`) {
		t.Errorf("Load() error = %v, want one about the symbolic link \"extra.yaml\"", err)
	}
}

func TestLoadFSRevision(t *testing.T) {
	t.Parallel()
	fsys := valid()
	cfg, err := static.LoadFS(fsys)
	if err != nil {
		t.Fatal(err)
	}
	want, err := configrev.FS(fsys)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, cfg.Revision); diff != "" {
		t.Errorf("Revision (-want +got):\n%s", diff)
	}
}

// replace returns a change that replaces old with new, once, in file.
func replace(file, old, new string) func(fstest.MapFS) {
	return func(fsys fstest.MapFS) {
		f := fsys[file]
		s := string(f.Data)
		if !strings.Contains(s, old) {
			panic("replace: " + file + " does not contain " + old)
		}
		fsys[file] = &fstest.MapFile{Data: []byte(strings.Replace(s, old, new, 1))}
	}
}

func TestCheckRequest(t *testing.T) {
	t.Parallel()
	cfg, err := static.Load(exampleStatic)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		api, plan string
		wantErr   string
	}{
		{api: "orders", plan: "free"},
		{api: "orders", plan: "gold"},
		{api: "billing", plan: "gold"},
		{api: "catalog", plan: "free"},
		{api: "billing", plan: "free", wantErr: `plan "free" is not offered for api "billing": want one of "gold"`},
		{api: "payroll", plan: "free", wantErr: `unknown api "payroll": want one of "billing", "catalog", "orders"`},
		{api: "orders", plan: "platinum", wantErr: `unknown plan "platinum": want one of "free", "gold"`},
		{api: "", plan: "", wantErr: "api: required: want one of \"billing\", \"catalog\", \"orders\"\nplan: required: want one of \"free\", \"gold\""},
	}
	for _, tt := range tests {
		err := cfg.CheckRequest(tt.api, tt.plan)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if diff := cmp.Diff(tt.wantErr, got); diff != "" {
			t.Errorf("CheckRequest(%q, %q) error (-want +got):\n%s", tt.api, tt.plan, diff)
		}
	}
}
