package validate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/driftless-dev/driftless/internal/spec"
	"github.com/driftless-dev/driftless/internal/testtool"
)

// TestHelmExampleIsClean: the example's chart-based variant passes without
// a finding, as the overlays do.
func TestHelmExampleIsClean(t *testing.T) {
	t.Parallel()
	p, err := spec.Load(filepath.Join(testtool.Root(t), "example", "helm", "driftless.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := Pipeline(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Findings) > 0 {
		t.Errorf("the example's chart has findings:\n%v", r.Findings)
	}
	if r.Objects != 8+10 {
		t.Errorf("checked %d objects, want 18 (test 8, prod 10)", r.Objects)
	}
}

// chartTree copies the example chart next to a spec with one environment
// whose chart entry is chartYAML, writes files over it, and validates.
func chartTree(t *testing.T, chartYAML string, files map[string]string) (string, []string) {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(filepath.Join(dir, "chart"), os.DirFS(filepath.Join(testtool.Root(t), "example", "chart"))); err != nil {
		t.Fatal(err)
	}
	files["driftless.yaml"] = "apiVersion: driftless.dev/v1alpha1\nkind: Pipeline\nname: pssp-api\nimage: {repository: 127.0.0.1:5000/pssp/api, name: pssp-api, base: scratch}\nenvironments:\n  - name: test\n    namespace: pssp-test\n    chart:\n" + chartYAML
	for name, content := range files {
		f := filepath.Join(dir, name)
		if err := os.WriteFile(f, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p, err := spec.Load(filepath.Join(dir, "driftless.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := Pipeline(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range r.Findings {
		// Template files are named relative to the working directory,
		// as an overlay's files are.
		if abs, err := filepath.Abs(f.File); err == nil {
			f.File = abs
		}
		got = append(got, strings.TrimPrefix(f.String(), dir+string(filepath.Separator)))
	}
	return dir, got
}

// TestChartFindings: what the chart's values.schema.json refuses is
// reported at the values file and line that set it (a later file's over
// an earlier one's, chart.set's over both); a template that fails at the
// template's file and line; hooks at their templates; an object the API
// server would refuse at its template.
func TestChartFindings(t *testing.T) {
	t.Parallel()
	base := "      path: chart\n      kubeVersion: v1.34.3\n      testHooks: drop\n"
	for _, tc := range []struct {
		name, chart string
		files       map[string]string
		want        []string
	}{
		{
			"values schema",
			base + "      values: [a.yaml, b.yaml]\n      set: {redis: {storage: lots}}\n",
			map[string]string{
				"a.yaml": "api:\n  replicas: 0\nruntime:\n  logLevel: loud\n",
				"b.yaml": "# b wins for the log level\nruntime:\n  logLevel: louder\nimage:\n  pullPolicy: Sometimes\n",
			},
			[]string{
				`a.yaml:2:13: error: [test] does not match the values.schema.json of chart pssp: /api/replicas: minimum: got 0, want 1`,
				`b.yaml:3:13: error: [test] does not match the values.schema.json of chart pssp: /runtime/logLevel: value must be one of 'debug', 'info', 'warn', 'error'`,
				`b.yaml:5:15: error: [test] does not match the values.schema.json of chart pssp: /image/pullPolicy: value must be one of 'Always', 'IfNotPresent', 'Never'`,
				`driftless.yaml:13:30: error: [test] does not match the values.schema.json of chart pssp: /redis/storage: 'lots' does not match pattern`,
			},
		},
		{
			"unknown value",
			base + "      values: [a.yaml]\n",
			map[string]string{"a.yaml": "api:\n  replicaz: 2\n"},
			[]string{`a.yaml:2:3: error: [test] does not match the values.schema.json of chart pssp: /api: additional properties 'replicaz' not allowed`},
		},
		{
			"template",
			base,
			map[string]string{"chart/templates/broken.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: broken\ndata:\n  x: {{ .Values.nope.deeper }}\n"},
			[]string{`chart/templates/broken.yaml:6:15: error: [test] template pssp/templates/broken.yaml: executing "pssp/templates/broken.yaml" at <.Values.nope.deeper>: nil pointer evaluating interface {}.deeper`},
		},
		{
			"hooks",
			"      path: chart\n      kubeVersion: v1.34.3\n",
			map[string]string{},
			[]string{`chart/templates/tests/test-connection.yaml: error: [test] Pod/pssp-api-test-connection: a Helm hook (helm.sh/hook: test), which driftless does not run: it applies the chart's objects itself, with no hook phases; set chart.testHooks: drop to leave test hooks out`},
		},
		{
			"object",
			base,
			map[string]string{"chart/templates/extra.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n  labels: {tier: \"front end\"}\ndata: {a: b}\n"},
			[]string{`chart/templates/extra.yaml:5:12: error: [test] ConfigMap/pssp-test/extra: metadata.labels.tier: invalid label value "front end"`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, got := chartTree(t, tc.chart, tc.files)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d findings, want %d:\n%s", len(got), len(tc.want), strings.Join(got, "\n"))
			}
			for i := range got {
				if !strings.HasPrefix(got[i], tc.want[i]) {
					t.Errorf("finding %d:\n%s", i, cmp.Diff(tc.want[i], got[i]))
				}
			}
		})
	}
}
