package validate

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/driftless-dev/driftless/internal/spec"
)

// TestPipelineImageRuns: every environment must run the pipeline's image;
// when none of its containers does, the finding is at the spec line to
// change and names the images found and the image.name that would match.
func TestPipelineImageRuns(t *testing.T) {
	t.Parallel()
	deployment := func(image string) string {
		return `apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec:
  strategy: {type: Recreate}
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers:
        - {name: api, image: ` + image + `, resources: {requests: {cpu: 1m, memory: 1Mi}}}
        - {name: proxy, image: "envoyproxy/envoy:v1.31.0", resources: {requests: {cpu: 1m, memory: 1Mi}}}
`
	}
	const configOnly = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"
	cases := []struct {
		name  string
		image string // the spec's image section
		test  string // the test environment's base resource
		prod  string // the prod environment's base resource
		want  []Finding
	}{
		{
			name:  "image.name matches",
			image: "{repository: registry.example.com/shop/api, name: api, base: scratch}",
			test:  deployment("api"), prod: deployment("api:v1.2.3"),
		},
		{
			name:  "image.repository matches",
			image: "{repository: registry.example.com/shop/api, name: api, base: scratch}",
			test:  deployment("registry.example.com/shop/api"), prod: deployment("registry.example.com/shop/api"),
		},
		{
			name:  "the manifests call it otherwise",
			image: "\n  repository: registry.example.com/shop/api\n  name: api\n  base: scratch",
			test:  deployment("shop/api"), prod: deployment("api"),
			want: []Finding{
				{
					File: "driftless.yaml", Line: 6, Col: 9, Severity: Error, Env: "test", Policy: true,
					Message: `no container runs the pipeline's image ("api", "registry.example.com/shop/api"); the containers run "envoyproxy/envoy:v1.31.0", "shop/api"; set image.name: shop/api, the name the manifests use, so kustomize-render pins it`,
				},
				// Not the pipeline's image, so it would float.
				{File: "test/o.yaml", Line: 11, Col: 23, Severity: Error, Env: "test", Object: "Deployment/shop-test/api", Policy: true, Message: `spec.template.spec.containers[0].image: container "api": image "shop/api" has no tag (it would pull latest); pin a version tag or a digest`},
			},
		},
		{
			name:  "no image.name: the repository's line",
			image: "\n  repository: registry.example.com/shop/api\n  base: scratch",
			test:  deployment("api"), prod: deployment("api"),
			want: []Finding{
				// One finding for both environments.
				{File: "driftless.yaml", Line: 5, Col: 15, Severity: Error, Env: "test, prod", Policy: true, Message: `no container runs the pipeline's image ("registry.example.com/shop/api"); the containers run "api", "envoyproxy/envoy:v1.31.0"; set image.name: api, the name the manifests use, so kustomize-render pins it`},
				{File: "prod/o.yaml", Line: 11, Col: 23, Severity: Error, Env: "prod", Object: "Deployment/shop-prod/api", Policy: true, Message: `spec.template.spec.containers[0].image: container "api": image "api" has no tag (it would pull latest); pin a version tag or a digest`},
				{File: "test/o.yaml", Line: 11, Col: 23, Severity: Error, Env: "test", Object: "Deployment/shop-test/api", Policy: true, Message: `spec.template.spec.containers[0].image: container "api": image "api" has no tag (it would pull latest); pin a version tag or a digest`},
			},
		},
		{
			name:  "no container at all",
			image: "{repository: registry.example.com/shop/api, name: api, base: scratch}",
			test:  deployment("api"), prod: configOnly,
			want: []Finding{{
				File: "driftless.yaml", Line: 4, Col: 58, Severity: Error, Env: "prod", Policy: true,
				Message: `no container runs the pipeline's image ("api", "registry.example.com/shop/api"): the overlay has no containers at all, and an environment must run the image it deploys`,
			}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			files := map[string]string{
				"driftless.yaml":          "apiVersion: driftless.dev/v1alpha1\nkind: Pipeline\nname: x\nimage: " + tc.image + "\nenvironments:\n  - {name: test, overlay: test, namespace: shop-test}\n  - {name: prod, overlay: prod, namespace: shop-prod}\n",
				"test/kustomization.yaml": "namespace: shop-test\nresources: [o.yaml]\n",
				"test/o.yaml":             tc.test,
				"prod/kustomization.yaml": "namespace: shop-prod\nresources: [o.yaml]\n",
				"prod/o.yaml":             tc.prod,
			}
			r := validateTree(t, dir, files)
			for i := range r.Findings {
				abs, err := filepath.Abs(r.Findings[i].File)
				if err != nil {
					t.Fatal(err)
				}
				r.Findings[i].File, _ = filepath.Rel(dir, abs)
			}
			Sort(r.Findings)
			if diff := cmp.Diff(tc.want, r.Findings); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
		})
	}
}

// TestPolicyFindingsAreMarked: findings of driftless's own policies carry
// Policy, those the API server would refuse do not, so a test (and a user)
// can tell them apart.
func TestPolicyFindingsAreMarked(t *testing.T) {
	t.Parallel()
	p, err := spec.Load("testdata/pipeline/driftless.yaml")
	if err != nil {
		t.Fatal(err)
	}
	r, err := Pipeline(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{
		`Deployment/shop-test/api metadata.labels.tier: invalid label value`:      false,
		`Deployment/shop-test/api spec.template.spec.containers[1].image: con`:    true,
		`Deployment/shop-test/api spec.template.spec.containers[1].readinessP`:    false,
		`Deployment/shop-test/cache spec.replicas: declared singleton but runs`:   true,
		`Deployment/shop-test/db spec.template.spec.containers[0]: container`:     true,
		`Deployment/shop-test/db spec.template.spec.volumes[0]: mounts ReadWr`:    true,
		`PodDisruptionBudget/shop-test/api apiVersion: policy/v1beta1 PodDisrupt`: false,
		`Widget/shop-test/gadget spec.size: Invalid value: 0: spec.size in b`:     false,
		`Widget/shop-test/gadget spec.colour: unknown field`:                      false,
		`Probe/shop-test/uptime no schema for apiVersion "monitoring.exampl`:      false,
	}
	got := map[string]bool{}
	for _, f := range r.Findings {
		for k := range want {
			if strings.HasPrefix(f.Object+" "+f.Message, k) {
				got[k] = f.Policy
			}
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Policy by finding (-want +got):\n%s", diff)
	}
}
