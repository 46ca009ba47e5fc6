package spec

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/santhosh-tekuri/jsonschema/v6"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/driftless-dev/driftless/internal/testtool"
)

func TestLoadValid(t *testing.T) {
	t.Parallel()
	p, err := Load("testdata/valid/driftless.yaml")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	prod, err := p.Environment("prod")
	if err != nil {
		t.Fatal(err)
	}
	got := struct {
		Keep              []string
		Timeout           time.Duration
		Soak              time.Duration
		GitTag, Approval  string
		TZ                string
		Prefix, Tag, Pre  string
		ImageName         string
		OverlayPath       string
		CheckMethod       string
		CheckStatus       int
		SmokeTimeout      time.Duration
		CheckLatency      time.Duration
		ProdLine, ProdCol int
		OnFailure         string
		Waves             []string
		Bake              time.Duration
		Parallelism       []int
	}{
		Keep: prod.Keep, Timeout: prod.Timeout.Duration, Soak: prod.Promotion.Soak.Duration,
		GitTag: prod.Promotion.GitTag, Approval: prod.Promotion.Approval, TZ: prod.Promotion.Freeze[1].TimeZone,
		Prefix: p.Versioning.Prefix, Tag: p.Versioning.GitTag, Pre: p.Versioning.Prerelease,
		ImageName:   p.ImageName(),
		OverlayPath: p.Path(prod.Overlay),
		CheckMethod: p.Environments[0].Smoke.Checks[0].Method, CheckStatus: p.Environments[0].Smoke.Checks[0].Status,
		SmokeTimeout: p.Environments[0].Smoke.Timeout.Duration, CheckLatency: p.Environments[0].Smoke.Checks[0].MaxLatency.Duration,
	}
	got.ProdLine, got.ProdCol = p.Position("environments[1].name")
	got.OnFailure, got.Bake = prod.OnFailure, prod.Waves[0].Bake.Duration
	for _, w := range prod.Waves {
		got.Parallelism = append(got.Parallelism, w.Parallelism)
		for _, c := range w.Clusters {
			got.Waves = append(got.Waves, w.Name+"/"+c.Name+" "+p.Path(c.Kubeconfig)+" "+c.Context)
		}
	}
	want := got
	want.Keep = []string{"PersistentVolumeClaim"}
	want.Timeout, want.Soak = 5*time.Minute, 30*time.Minute
	want.GitTag, want.Approval, want.TZ = "required", "github", "UTC"
	want.Prefix, want.Tag, want.Pre = "v", "semver", "allow"
	want.ImageName = "pssp-api"
	want.OverlayPath = filepath.Join("testdata", "valid", "kustomize", "overlays", "prod")
	want.CheckMethod, want.CheckStatus = "GET", 200
	want.SmokeTimeout, want.CheckLatency = 2*time.Minute, 500*time.Millisecond
	want.ProdLine, want.ProdCol = 27, 11
	want.OnFailure, want.Bake = "rollback-wave", 10*time.Minute
	want.Parallelism = []int{0, 2}
	want.Waves = []string{"canary/eu-canary  eu-canary", "main/eu-1  eu-1", "main/us-1 " + filepath.Join("testdata", "valid", "kubeconfigs", "us.yaml") + " ", "main/us-2 /etc/driftless/us.yaml us-2"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
}

// base is a minimal valid spec that the error cases edit.
const base = `apiVersion: driftless.dev/v1alpha1
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

// errorCases are specs with exactly one mistake each. schema says whether
// the published JSON Schema must reject it too (semantic checks are beyond
// JSON Schema).
var errorCases = []struct {
	name, spec, want string
	schema           bool
}{
	{"unknown top field", base + "enviroments: []\n", `f.yaml:11:1: enviroments: unknown field "enviroments" (did you mean "environments"?); valid fields here: apiVersion, environments, image, kind, name, static, validation, versioning`, true},
	{"unknown nested field", strings.Replace(base, "  base: scratch", "  base: scratch\n  tag: v1", 1), `f.yaml:7:3: image.tag: unknown field "tag"; valid fields in image: base, cmd, entrypoint, env, labels, layers, name, repository, user`, true},
	{"wrong type string", strings.Replace(base, "name: svc", "name: [svc]", 1), `f.yaml:3:7: name: expected a string, got a list`, true},
	{"number for string", strings.Replace(base, "name: svc", "name: 123", 1), `f.yaml:3:7: name: expected a string, got an integer (123); quote it if you mean the string: "123"`, true},
	{"wrong type list", strings.Replace(base, "environments:\n  - name: test\n    overlay: o/test\n    namespace: svc-test\n", "environments: test\n", 1), `f.yaml:7:15: environments: expected a list, got the string "test"`, true},
	{"bad enum", base + "versioning: {floating: [minor, patch]}\n", `f.yaml:11:32: versioning.floating[1]: "patch" is not valid; valid values: minor, major, latest`, true},
	{"bad apiVersion", strings.Replace(base, "v1alpha1", "v1", 1), `f.yaml:1:13: apiVersion: "driftless.dev/v1" is not valid; valid values: driftless.dev/v1alpha1`, true},
	{"missing required", strings.Replace(base, "    namespace: svc-test\n", "", 1), `f.yaml:8:5: environments[0].namespace: missing required field "namespace" in environments[0]`, true},
	{"bad duration", base + "    timeout: 5 minutes\n", `f.yaml:11:14: environments[0].timeout: "5 minutes" is not a duration; valid units are ns, us, ms, s, m, h (for example "90s", "30m", "48h")`, true},
	{"duplicate env", base + "  - {name: test, overlay: o/x, namespace: x}\n", `f.yaml:11:12: environments[1].name: environment "test" is already defined at environments[0]; names must be unique`, false},
	{"promotion from later", strings.Replace(base, "    namespace: svc-test\n", "    namespace: svc-test\n    promotion: {from: prod}\n", 1) + "  - {name: prod, overlay: o/p, namespace: p}\n", `f.yaml:11:23: environments[0].promotion.from: "prod" is not an earlier environment; valid values: (none: the first environment cannot promote from another)`, false},
	{"bad cron", base + "    promotion:\n      freeze: [{name: w, cron: \"61 * * * *\", duration: 1h}]\n", `f.yaml:12:32: environments[0].promotion.freeze[0].cron: "61 * * * *" is not a cron expression`, false},
	{"bad time zone", base + "    promotion:\n      freeze: [{name: w, cron: \"0 1 * * *\", duration: 1h, timeZone: Mars/Olympus}]\n", `environments[0].promotion.freeze[0].timeZone: "Mars/Olympus" is not an IANA time zone`, false},
	{"latest base", strings.Replace(base, "base: scratch", "base: debian:latest", 1), `f.yaml:6:9: image.base: "debian:latest" floats with 'latest'`, false},
	{"repository with tag", strings.Replace(base, "registry.example.com/svc", "registry.example.com/svc:v1", 1), `f.yaml:5:15: image.repository: "registry.example.com/svc:v1" is not an image repository`, false},
	{"unquoted mode", strings.Replace(base, "  base: scratch", "  base: scratch\n  layers: [{from: a, to: /a, mode: 0755}]", 1), `f.yaml:7:36: image.layers[0].mode: expected a string, got an integer (0755)`, true},
	{"broken yaml", base + "  - name: [unclosed\n", `f.yaml:11:1: invalid YAML: did not find expected ',' or ']'`, false},
	{"two documents", base + "---\nkind: Pipeline\n", `f.yaml:11:1: a second YAML document; the pipeline spec is one document`, false},
	{"empty", "", `f.yaml: the pipeline spec is empty`, false},
	{"null required field", strings.Replace(base, "apiVersion: driftless.dev/v1alpha1", "apiVersion:", 1), `f.yaml:1:12: apiVersion: "apiVersion" is required and cannot be empty`, true},
	{"duplicate key", base + "name: again\n", `f.yaml:11:1: name: duplicate field "name"`, false},
	{"neither overlay nor chart", strings.Replace(base, "    overlay: o/test\n", "", 1), `f.yaml:8:5: environments[0]: missing "overlay" or "chart" in environments[0]: give exactly one`, true},
	{"overlay and chart", base + chartSpec, `f.yaml:11:5: environments[0].chart: "overlay" or "chart" are exclusive in environments[0]: give exactly one`, true},
	{"chart path and oci", withChart("      path: c\n      oci: oci://r.example.com/c@sha256:" + strings.Repeat("a", 64) + "\n      kubeVersion: v1.34.3\n"), `f.yaml:12:7: environments[0].chart.oci: "path" or "oci" are exclusive in environments[0].chart: give exactly one`, true},
	{"chart without kubeVersion", withChart("      path: c\n"), `f.yaml:11:7: environments[0].chart.kubeVersion: missing required field "kubeVersion" in environments[0].chart`, true},
	{"chart oci by tag", withChart("      oci: oci://r.example.com/charts/api:1.2.3\n      kubeVersion: v1.34.3\n"), `f.yaml:11:12: environments[0].chart.oci: "oci://r.example.com/charts/api:1.2.3" is not pinned by digest: a tag can move; write oci://r.example.com/charts/api@sha256:<64 hex>`, true},
	{"chart bad kubeVersion", withChart("      path: c\n      kubeVersion: \"1.34-latest\"\n"), `f.yaml:12:20: environments[0].chart.kubeVersion: "1.34-latest" is not a Kubernetes version`, true},
	{"chart bad apiVersion", withChart("      path: c\n      kubeVersion: v1.34.3\n      apiVersions: [ServiceMonitor]\n"), `f.yaml:13:21: environments[0].chart.apiVersions[0]: "ServiceMonitor" is not an API version`, false},
	{"chart empty imageValues", withChart("      path: c\n      kubeVersion: v1.34.3\n      imageValues: {}\n"), `environments[0].chart.imageValues: names no values path`, false},
	{"chart bad testHooks", withChart("      path: c\n      kubeVersion: v1.34.3\n      testHooks: keep\n"), `f.yaml:13:18: environments[0].chart.testHooks: "keep" is not valid; valid values: refuse, drop`, true},
	{"duplicate cluster", withWaves("      - {name: a, clusters: [{name: eu-1, context: x}]}\n      - {name: b, clusters: [{name: eu-1, context: y}]}\n"), `f.yaml:13:37: environments[0].waves[1].clusters[0].name: cluster "eu-1" is already defined at environments[0].waves[0].clusters[0]; cluster names must be unique in the environment`, false},
	{"duplicate wave", withWaves("      - {name: a, clusters: [{name: eu-1, context: x}]}\n      - {name: a, clusters: [{name: eu-2, context: y}]}\n"), `f.yaml:13:16: environments[0].waves[1].name: wave "a" is already defined at environments[0].waves[0]; wave names must be unique in the environment`, false},
	{"cluster without access", withWaves("      - name: a\n        clusters: [{name: eu-1}]\n"), `f.yaml:13:20: environments[0].waves[0].clusters[0]: cluster "eu-1" names neither a context nor a kubeconfig`, false},
	{"same cluster twice", withWaves("      - name: a\n        clusters: [{name: eu-1, context: eu}, {name: eu-2, context: eu}]\n"), `f.yaml:13:47: environments[0].waves[0].clusters[1]: cluster "eu-2" has the same kubeconfig and context as environments[0].waves[0].clusters[0]`, false},
	{"wave without clusters", withWaves("      - {name: a, clusters: []}\n"), `f.yaml:12:29: environments[0].waves[0].clusters: needs at least 1 item(s)`, true},
	{"parallelism zero", withWaves("      - {name: a, parallelism: 0, clusters: [{name: eu-1, context: x}]}\n"), `f.yaml:12:32: environments[0].waves[0].parallelism: 0 clusters at once: give 1 or more`, true},
	{"bad onFailure", withWaves("      - {name: a, clusters: [{name: eu-1, context: x}]}\n    onFailure: rollback-all\n"), `f.yaml:13:16: environments[0].onFailure: "rollback-all" is not valid; valid values: rollback-failed, rollback-wave`, true},
	{"onFailure without waves", base + "    onFailure: rollback-wave\n", `f.yaml:11:16: environments[0].onFailure: onFailure says what a failing wave rolls back, and environment "test" has no waves`, false},
}

// withWaves is base with the test environment's waves.
func withWaves(waves string) string { return base + "    waves:\n" + waves }

// chartSpec is an environment's chart, for base.
const chartSpec = "    chart:\n      path: c\n      kubeVersion: v1.34.3\n"

// withChart is base with the test environment's overlay replaced by a chart.
func withChart(chart string) string {
	return strings.Replace(base, "    overlay: o/test\n", "", 1) + "    chart:\n" + chart
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range errorCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse("f.yaml", []byte(tc.spec))
			if err == nil {
				t.Fatal("Parse accepted the spec")
			}
			errs := Errors(err)
			if len(errs) != 1 {
				t.Fatalf("want exactly one positioned error, got %d: %v", len(errs), err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error\n  %v\nwant it to contain\n  %s", err, tc.want)
			}
		})
	}
}

func TestLoadMissingFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	spec := base + "static: {dir: nostatic, path: /s}\nvalidation: {crds: [crds/]}\n"
	if err := os.WriteFile(filepath.Join(dir, "driftless.yaml"), []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(filepath.Join(dir, "driftless.yaml"))
	var got []string
	for _, e := range Errors(err) {
		got = append(got, e.Path)
	}
	want := []string{"environments[0].overlay", "static.dir", "validation.crds[0]"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("errors (-want +got):\n%s\n%v", diff, err)
	}
	if _, err := Load(filepath.Join(dir, "nope.yaml")); err == nil || !strings.Contains(err.Error(), "no pipeline spec here") {
		t.Errorf("missing spec: got %v", err)
	}
}

func TestSchemaGolden(t *testing.T) {
	t.Parallel()
	golden := filepath.Join("..", "..", "schema", "pipeline.v1alpha1.json")
	got := Schema()
	if testtool.Update() {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("published schema is stale; run go test ./internal/spec -update (-want +got):\n%s", diff)
	}
}

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(Schema()))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(SchemaID, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(SchemaID)
	if err != nil {
		t.Fatalf("the generated schema does not compile: %v", err)
	}
	return s
}

func instance(t *testing.T, y string) any {
	t.Helper()
	j, err := sigsyaml.YAMLToJSON([]byte(y))
	if err != nil {
		t.Fatal(err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestSchemaAgreesWithDecoder: what the decoder accepts the schema accepts,
// and the structural mistakes the decoder rejects the schema rejects.
func TestSchemaAgreesWithDecoder(t *testing.T) {
	t.Parallel()
	s := compileSchema(t)
	for _, f := range []string{"testdata/valid/driftless.yaml", "../../driftless.yaml", "../../example/helm/driftless.yaml"} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Parse(f, data); err != nil {
			t.Errorf("decoder rejects %s: %v", f, err)
		}
		if err := s.Validate(instance(t, string(data))); err != nil {
			t.Errorf("schema rejects %s, which the decoder accepts: %v", f, err)
		}
	}
	for _, tc := range errorCases {
		if !tc.schema {
			continue
		}
		if err := s.Validate(instance(t, tc.spec)); err == nil {
			t.Errorf("%s: the decoder rejects it but the schema accepts it", tc.name)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(base))
	for _, tc := range errorCases {
		f.Add([]byte(tc.spec))
	}
	if b, err := os.ReadFile("testdata/valid/driftless.yaml"); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse("fuzz.yaml", data)
		if err != nil {
			var le *LimitError
			if len(Errors(err)) == 0 && !errors.As(err, &le) {
				t.Fatalf("error without position: %v", err)
			}
			return
		}
		if p.Name == "" || p.Image.Repository == "" || p.Versioning.GitTag == "" {
			t.Fatalf("accepted an incomplete spec: %+v", p)
		}
	})
}
