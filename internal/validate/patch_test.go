package validate

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestFindingsPointAtThePatch: a finding about a field a patch (or an
// images or replicas entry) wrote points at the line in that patch, so
// the annotation lands where the fix goes; a field the base writes stays
// at the base, even when a patch reaches into the same container.
func TestFindingsPointAtThePatch(t *testing.T) {
	t.Parallel()
	const base = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  strategy: {type: Recreate}
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: nginx:1.27.0
          resources:
            requests: {cpu: 10m, memory: 16Mi}
`
	cases := []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{
			name: "a strategic-merge patch file adds an init container",
			files: map[string]string{
				"overlay/kustomization.yaml": "namespace: ns\nnamePrefix: demo-\nresources: [../base]\npatches:\n  - path: init.yaml\n",
				"overlay/init.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      initContainers:
        - name: init
          image: debian
          resources:
            requests: {cpu: 10m, memory: 16Mi}
`,
			},
			want: []string{`overlay/init.yaml:10:11: error: [t] Deployment/ns/demo-web: spec.template.spec.initContainers[0].image: container "init": image "debian" has no tag (it would pull latest); pin a version tag or a digest`},
		},
		{
			name: "a patch that only adds an env var leaves the base's image at the base",
			files: map[string]string{
				"base/d.yaml":                strings.Replace(base, "nginx:1.27.0", "nginx", 1),
				"overlay/kustomization.yaml": "namespace: ns\nresources: [../base]\npatches:\n  - path: env.yaml\n",
				"overlay/env.yaml":           "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    spec:\n      containers:\n        - name: web\n          env: [{name: A, value: b}]\n",
			},
			want: []string{`base/d.yaml:15:11: error: [t] Deployment/ns/web: spec.template.spec.containers[0].image: container "web": image "nginx" has no tag (it would pull latest); pin a version tag or a digest`},
		},
		{
			name: "an inline JSON 6902 patch replaces the image",
			files: map[string]string{
				"overlay/kustomization.yaml": `namespace: ns
resources: [../base]
patches:
  - target: {kind: Deployment, name: web}
    patch: |-
      - op: replace
        path: /spec/template/spec/containers/0/image
        value: nginx:latest
`,
			},
			want: []string{`overlay/kustomization.yaml:8:16: error: [t] Deployment/ns/web: spec.template.spec.containers[0].image: container "web": image "nginx:latest" uses the tag latest; pin a version tag or a digest`},
		},
		{
			name: "an inline strategic-merge patch in a component adds an unknown field",
			files: map[string]string{
				"overlay/kustomization.yaml": "namespace: ns\nresources: [../base]\ncomponents: [../probe]\n",
				"probe/kustomization.yaml": `apiVersion: kustomize.config.k8s.io/v1alpha1
kind: Component
patches:
  - patch: |
      apiVersion: apps/v1
      kind: Deployment
      metadata:
        name: web
      spec:
        template:
          spec:
            containers:
              - name: web
                readinessProbe:
                  initialDelaySecs: 5
`,
			},
			want: []string{`probe/kustomization.yaml:15:19: error: [t] Deployment/ns/web: spec.template.spec.containers[0].readinessProbe.initialDelaySecs: unknown field (not in apps/v1 Deployment)`},
		},
		{
			name: "an images entry sets the tag latest",
			files: map[string]string{
				"overlay/kustomization.yaml": "namespace: ns\nresources: [../base]\nimages:\n  - name: nginx\n    newTag: latest\n",
			},
			want: []string{`overlay/kustomization.yaml:5:5: error: [t] Deployment/ns/web: spec.template.spec.containers[0].image: container "web": image "nginx:latest" uses the tag latest; pin a version tag or a digest`},
		},
		{
			name: "a replicas entry scales a singleton",
			files: map[string]string{
				"base/d.yaml":                strings.Replace(base, "  name: web\n", "  name: web\n  annotations: {driftless.dev/singleton: \"true\"}\n", 1),
				"overlay/kustomization.yaml": "namespace: ns\nresources: [../base]\nreplicas:\n  - name: web\n    count: 3\n",
			},
			want: []string{`overlay/kustomization.yaml:5:5: error: [t] Deployment/ns/web: spec.replicas: declared singleton but runs 3 replicas`},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			files := map[string]string{
				"base/kustomization.yaml": "resources: [d.yaml]\n",
				"base/d.yaml":             base,
			}
			for k, v := range tc.files {
				files[k] = v
			}
			got := pipelineFindings(t, files)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
		})
	}
}
