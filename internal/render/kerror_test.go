package render

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestKustomizeFlagHintsTranslated: kustomize answers a feature driftless
// does not enable with a `kustomize build` flag to pass (--enable-helm,
// --load-restrictor, --enable-alpha-plugins, --enable-exec), which
// driftless has no counterpart for. Each real kustomization here gets
// instead an error at the kustomization and line that uses the feature,
// saying what to do in driftless's terms.
func TestKustomizeFlagHintsTranslated(t *testing.T) {
	t.Parallel()
	const cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"
	cases := []struct {
		name    string
		files   map[string]string
		overlay string
		file    string // the kustomization the error points at
		line    int
		want    []string
		notWant string // kustomize's own hint
	}{
		{
			name: "helmCharts",
			files: map[string]string{"o/kustomization.yaml": `resources: [cm.yaml]
helmCharts:
  - name: redis
    repo: https://charts.example.com
    version: 1.0.0
`, "o/cm.yaml": cm},
			overlay: "o", file: "o/kustomization.yaml", line: 2,
			want:    []string{"o/kustomization.yaml uses helmCharts: driftless does not run Helm inside kustomize (kustomize's --enable-helm has no counterpart here)", "an environment can name the chart itself instead of an overlay (chart: in the spec, see docs/helm.md)", "helm template redis --repo https://charts.example.com --version 1.0.0 > redis.yaml"},
			notWant: "must specify --enable-helm",
		},
		{
			name: "helmCharts in a base",
			files: map[string]string{
				"o/kustomization.yaml":    "resources: [../base]\n",
				"base/kustomization.yaml": "helmCharts:\n  - {name: redis, repo: https://charts.example.com, version: 1.0.0}\n",
			},
			overlay: "o", file: "base/kustomization.yaml", line: 1,
			want:    []string{"base/kustomization.yaml uses helmCharts"},
			notWant: "must specify --enable-helm",
		},
		{
			name: "a HelmChartInflationGenerator",
			files: map[string]string{
				"o/kustomization.yaml": "resources: [cm.yaml]\ngenerators:\n  - helm.yaml\n",
				"o/cm.yaml":            cm,
				"o/helm.yaml":          "apiVersion: builtin\nkind: HelmChartInflationGenerator\nmetadata:\n  name: h\nname: redis\nrepo: https://charts.example.com\n",
			},
			overlay: "o", file: "o/kustomization.yaml", line: 3,
			want:    []string{"o/kustomization.yaml uses a HelmChartInflationGenerator: driftless does not run Helm", "helm template redis --repo https://charts.example.com > redis.yaml"},
			notWant: "must specify --enable-helm",
		},
		{
			name: "a resource outside the kustomization's directory",
			files: map[string]string{
				"o/kustomization.yaml": "resources:\n  - ../shared/cm.yaml\n",
				"shared/cm.yaml":       cm,
			},
			overlay: "o", file: "o/kustomization.yaml", line: 2,
			want:    []string{"o/kustomization.yaml names shared/cm.yaml, outside its directory", "kustomize's --load-restrictor LoadRestrictionsNone has no counterpart here", "move the file into o, or share it through a base"},
			notWant: "security; file",
		},
		{
			name: "a patch outside",
			files: map[string]string{
				"o/kustomization.yaml": "resources: [cm.yaml]\npatches:\n  - path: ../patch.yaml\n",
				"o/cm.yaml":            cm,
				"patch.yaml":           cm + "data: {a: b}\n",
			},
			overlay: "o", file: "o/kustomization.yaml", line: 3,
			want:    []string{"o/kustomization.yaml names patch.yaml, outside its directory"},
			notWant: "security; file",
		},
		{
			name: "a generator's file outside, in a base",
			files: map[string]string{
				"o/kustomization.yaml":      "resources: [../base]\n",
				"base/kustomization.yaml":   "configMapGenerator:\n  - name: app\n    files: [../app.properties]\n",
				"app.properties":            "a=b\n",
				"base/unrelated-file.yaml":  cm,
				"o/unrelated-resource.yaml": cm,
			},
			overlay: "o", file: "base/kustomization.yaml", line: 3,
			want:    []string{"base/kustomization.yaml names app.properties, outside its directory", "move the file into base"},
			notWant: "security; file",
		},
		{
			name: "an external plugin",
			files: map[string]string{
				"o/kustomization.yaml": "resources: [cm.yaml]\ntransformers:\n  - inflator.yaml\n",
				"o/cm.yaml":            cm,
				"o/inflator.yaml":      "apiVersion: someteam.example.com/v1\nkind: ChartInflator\nmetadata:\n  name: x\n",
			},
			overlay: "o", file: "o/kustomization.yaml", line: 3,
			want:    []string{"o/kustomization.yaml uses an external plugin (kind ChartInflator): driftless runs only kustomize's built-in generators and transformers", "kustomize's --enable-alpha-plugins has no counterpart here", "use built-in fields instead"},
			notWant: "external plugins disabled",
		},
		{
			name: "an exec KRM function",
			files: map[string]string{"o/kustomization.yaml": `resources: [cm.yaml]
generators:
  - |-
    apiVersion: fn.example.com/v1
    kind: Render
    metadata:
      name: r
      annotations:
        config.kubernetes.io/function: |
          exec:
            path: ./render.sh
`, "o/cm.yaml": cm},
			overlay: "o", file: "o/kustomization.yaml", line: 5,
			want:    []string{"uses an exec KRM function (kind Render)", "kustomize's --enable-alpha-plugins --enable-exec has no counterpart here"},
			notWant: "external plugins disabled",
		},
		{
			name: "a containerized KRM function in a base",
			files: map[string]string{
				"o/kustomization.yaml":    "resources: [../base]\n",
				"base/kustomization.yaml": "resources: [cm.yaml]\ntransformers:\n  - fn.yaml\n",
				"base/cm.yaml":            cm,
				"base/fn.yaml":            "apiVersion: fn.example.com/v1\nkind: SetLabels\nmetadata:\n  name: s\n  annotations:\n    config.kubernetes.io/function: |\n      container:\n        image: example.com/set-labels:v1\n",
			},
			overlay: "o", file: "base/kustomization.yaml", line: 3,
			want:    []string{"base/kustomization.yaml uses a containerized KRM function (kind SetLabels)", "never a program or container the repository names"},
			notWant: "external plugins disabled",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			for name, content := range tc.files {
				path := filepath.Join(dir, name)
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			_, err := Kustomize(filepath.Join(dir, tc.overlay), Wrapper{})
			var re *Error
			if !errors.As(err, &re) {
				t.Fatalf("got %v, want a *render.Error", err)
			}
			msg := strings.ReplaceAll(re.Msg, dir+string(filepath.Separator), "")
			if got := strings.TrimPrefix(re.File, dir+string(filepath.Separator)); got != tc.file || re.Line != tc.line {
				t.Errorf("pointed at %s:%d, want %s:%d", got, re.Line, tc.file, tc.line)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message\n  %s\nlacks\n  %s", msg, w)
				}
			}
			if strings.Contains(msg, tc.notWant) || strings.Contains(msg, "driftless-render-") {
				t.Errorf("message keeps kustomize's wording (%q) or the wrapper's path:\n  %s", tc.notWant, msg)
			}
		})
	}
}
