package validate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const goodDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  strategy: {type: Recreate}
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers:
        - name: api
          image: app
          resources: {requests: {cpu: 1m, memory: 1Mi}}
`

// TestMalformedInputs: each kind of broken input gives exactly one finding,
// at the right file and line, never a panic.
func TestMalformedInputs(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		files map[string]string
		want  string // file:line: severity: message prefix, file relative to the temp dir
	}{
		{
			name:  "unknown field in an object",
			files: map[string]string{"base/d.yaml": strings.Replace(goodDeployment, "  strategy:", "  replica: 2\n  strategy:", 1)},
			want:  `base/d.yaml:6:3: error: [t] Deployment/ns/api: spec.replica: unknown field (not in apps/v1 Deployment)`,
		},
		{
			name:  "wrong type in an object",
			files: map[string]string{"base/d.yaml": strings.Replace(goodDeployment, "  strategy:", "  replicas: two\n  strategy:", 1)},
			want:  `base/d.yaml:6:3: error: [t] Deployment/ns/api: spec.replicas: wrong type: got string, want int32`,
		},
		{
			name:  "broken YAML in a resource",
			files: map[string]string{"base/d.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x\n"},
			want:  `base/d.yaml:3:1: error: [t] invalid YAML: did not find expected ',' or '}'`,
		},
		{
			name:  "missing resource file",
			files: map[string]string{"base/kustomization.yaml": "resources:\n  - d.yaml\n  - gone.yaml\n"},
			want:  `base/kustomization.yaml:3:1: error: [t] ` + "BASE" + `/kustomization.yaml lists "gone.yaml", which does not exist`,
		},
		{
			name:  "unknown kustomization field",
			files: map[string]string{"overlay/kustomization.yaml": "namespace: ns\nresources: [../base]\nnamePrefx: x-\n"},
			want:  `overlay/kustomization.yaml:3:1: error: [t] unknown field "namePrefx" in a kustomization`,
		},
		{
			name: "cycle of bases",
			files: map[string]string{
				"base/kustomization.yaml":  "resources: [d.yaml, ../other]\n",
				"other/kustomization.yaml": "resources: [../base]\n",
			},
			want: `base/kustomization.yaml:0: error: [t] cycle of bases:`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			files := map[string]string{
				"driftless.yaml":             "apiVersion: driftless.dev/v1alpha1\nkind: Pipeline\nname: x\nimage: {repository: r.example.com/app, name: app, base: scratch}\nenvironments: [{name: t, overlay: overlay, namespace: ns}]\n",
				"overlay/kustomization.yaml": "namespace: ns\nresources: [../base]\n",
				"base/kustomization.yaml":    "resources: [d.yaml]\n",
				"base/d.yaml":                goodDeployment,
			}
			for k, v := range tc.files {
				files[k] = v
			}
			r := validateTree(t, dir, files)
			if len(r.Findings) != 1 {
				t.Fatalf("want one finding, got %d:\n%v", len(r.Findings), r.Findings)
			}
			f := r.Findings[0]
			rel, err := filepath.Rel(dir, f.File)
			if err != nil || strings.HasPrefix(rel, "..") {
				// Origins are relative to the working directory.
				wd, _ := os.Getwd()
				rel, _ = filepath.Rel(dir, filepath.Join(wd, f.File))
			}
			got := strings.Replace(f.String(), f.File, rel, 1)
			want := strings.ReplaceAll(tc.want, "BASE", filepath.Join(dir, "base"))
			if f.Line == 0 {
				got = strings.Replace(got, rel+":", rel+":0: ", 1)
				got = strings.Replace(got, ":0:  ", ":0: ", 1)
			}
			got = strings.ReplaceAll(got, filepath.Join(dir, "base"), "BASE")
			want = strings.ReplaceAll(want, filepath.Join(dir, "base"), "BASE")
			if !strings.HasPrefix(got, want) {
				t.Errorf("finding\n got: %s\nwant: %s", got, want)
			}
		})
	}
}
