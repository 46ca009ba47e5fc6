package validate

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/driftless-dev/driftless/internal/spec"
	"github.com/driftless-dev/driftless/internal/testtool"
)

func TestPipelineFindings(t *testing.T) {
	t.Parallel()
	p, err := spec.Load("testdata/pipeline/driftless.yaml")
	if err != nil {
		t.Fatal(err)
	}
	r, err := Pipeline(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range r.Findings {
		got = append(got, f.String())
	}
	const b = "testdata/pipeline/base/"
	want := []string{
		b + `api.yaml:6:5: error: [test] Deployment/shop-test/api: metadata.labels.tier: invalid label value "front end": a valid label must be an empty string or consist of alphanumeric characters`,
		b + `api.yaml:22:11: error: [test] Deployment/shop-test/api: spec.template.spec.containers[1].image: container "sidecar": image "busybox:latest" uses the tag latest; pin a version tag or a digest`,
		b + `api.yaml:27:13: error: [test] Deployment/shop-test/api: spec.template.spec.containers[1].readinessProbe.initialDelaySecs: unknown field (not in apps/v1 Deployment)`,
		b + `cache.yaml:6:3: error: [test] Deployment/shop-test/cache: spec.replicas: declared singleton but runs 2 replicas`,
		b + `db.yaml:22:11: warning: [test] Deployment/shop-test/db: spec.template.spec.containers[0]: container "db" has no cpu or memory request: the scheduler cannot place it reliably`,
		b + `db.yaml:25:11: error: [test] Deployment/shop-test/db: spec.template.spec.volumes[0]: mounts ReadWriteOnce PersistentVolumeClaim "db-data" with a RollingUpdate strategy: the new pod can never attach the volume while the old pod holds it; set strategy.type: Recreate`,
		b + `legacy.yaml:1:1: error: [test] PodDisruptionBudget/shop-test/api: apiVersion: policy/v1beta1 PodDisruptionBudget was removed in Kubernetes 1.25; use policy/v1 PodDisruptionBudget`,
		b + `widget.yaml:6:3: error: [test] Widget/shop-test/gadget: spec.size: Invalid value: 0: spec.size in body should be greater than or equal to 1`,
		b + `widget.yaml:7:3: error: [test] Widget/shop-test/gadget: spec.colour: unknown field`,
		b + `widget.yaml:9:1: warning: [test] Probe/shop-test/uptime: no schema for apiVersion "monitoring.example.com/v1" kind "Probe": it is not a built-in type and no CustomResourceDefinition for it is in the overlay or in validation.crds; the object is not validated`,
		`testdata/pipeline/overlays/broken/kustomization.yaml:2:1: error: [broken] testdata/pipeline/overlays/broken/kustomization.yaml lists "missing.yaml", which does not exist`,
	}
	if len(got) != len(want) {
		t.Errorf("got %d findings, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i := range min(len(got), len(want)) {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("finding %d:\n got: %s\nwant: %s", i, got[i], want[i])
		}
	}
	if r.Objects != 7 {
		t.Errorf("checked %d objects, want 7 (the broken overlay does not render)", r.Objects)
	}
}

// TestExampleIsClean: the repository's own example passes without a
// finding, so the demo and the docs show a clean run.
func TestExampleIsClean(t *testing.T) {
	t.Parallel()
	root := testtool.Root(t)
	p, err := spec.Load(filepath.Join(root, "driftless.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := Pipeline(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Findings) > 0 {
		t.Errorf("the example has findings:\n%v", r.Findings)
	}
	if r.Objects < 18 {
		t.Errorf("checked %d objects", r.Objects)
	}
}

func TestManifestsPointAtRenderedLines(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	f := filepath.Join(dir, "test.yaml")
	content := `apiVersion: v1
kind: Service
metadata:
  name: a
spec:
  ports: [{port: 80}]
---
apiVersion: v1
kind: Service
metadata:
  name: b
spec:
  ports:
    - port: "eighty"
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: c}
spec:
  selector: {matchLabels: {a: b}}
  template:
    metadata: {labels: {a: b}}
    spec:
      containers: [{name: c, image: nginx, resources: {requests: {cpu: 1m, memory: 1Mi}}}]
---
# an empty document is skipped, as kubectl does
---
`
	if err := os.WriteFile(f, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Manifests(nil, []string{f})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, x := range r.Findings {
		got = append(got, strings.TrimPrefix(x.String(), dir+"/"))
	}
	want := []string{
		`test.yaml:1:1: error: Service/a: namespaced Service without a namespace: apply-env refuses it; set namespace: in the overlay that renders it`,
		`test.yaml:8:1: error: Service/b: namespaced Service without a namespace: apply-env refuses it; set namespace: in the overlay that renders it`,
		`test.yaml:14:7: error: Service/b: spec.ports.port: wrong type: got string, want int32`,
		`test.yaml:16:1: error: Deployment/c: namespaced Deployment without a namespace: apply-env refuses it; set namespace: in the overlay that renders it`,
		`test.yaml:24:30: error: Deployment/c: spec.template.spec.containers[0].image: container "c": image "nginx" has no tag (it would pull latest); pin a version tag or a digest`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
}

func TestDedupeAcrossEnvironments(t *testing.T) {
	t.Parallel()
	in := []Finding{
		{File: "b.yaml", Line: 3, Severity: Error, Env: "test", Message: "x"},
		{File: "b.yaml", Line: 3, Severity: Error, Env: "prod", Message: "x"},
		{File: "b.yaml", Line: 4, Severity: Error, Env: "prod", Message: "x"},
	}
	got := dedupe(in)
	want := []Finding{
		{File: "b.yaml", Line: 3, Severity: Error, Env: "test, prod", Message: "x"},
		{File: "b.yaml", Line: 4, Severity: Error, Env: "prod", Message: "x"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// BenchmarkManifests measures validation throughput on 10,000 rendered
// objects (a mix of Deployments, Services, ConfigMaps and PVCs).
func BenchmarkManifests(b *testing.B) {
	dir := b.TempDir()
	f := filepath.Join(dir, "big.yaml")
	var sb strings.Builder
	const n = 10000
	for i := range n / 4 {
		fmt.Fprintf(&sb, `apiVersion: apps/v1
kind: Deployment
metadata: {name: app-%[1]d, namespace: bench, labels: {app: app-%[1]d}}
spec:
  replicas: 2
  selector: {matchLabels: {app: app-%[1]d}}
  template:
    metadata: {labels: {app: app-%[1]d}}
    spec:
      containers:
        - name: app
          image: registry.example.com/app:v1.%[1]d
          ports: [{containerPort: 8080}]
          resources: {requests: {cpu: 10m, memory: 32Mi}}
          readinessProbe: {httpGet: {path: /healthz, port: 8080}}
---
apiVersion: v1
kind: Service
metadata: {name: app-%[1]d, namespace: bench}
spec: {selector: {app: app-%[1]d}, ports: [{port: 80, targetPort: 8080}]}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: app-%[1]d, namespace: bench}
data: {LOG_LEVEL: info}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: app-%[1]d, namespace: bench}
spec: {accessModes: [ReadWriteMany], resources: {requests: {storage: 1Gi}}}
---
`, i)
	}
	if err := os.WriteFile(f, []byte(sb.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		r, err := Manifests(nil, []string{f})
		if err != nil {
			b.Fatal(err)
		}
		if r.Objects != n || len(r.Findings) != 0 {
			b.Fatalf("%d objects, findings %v", r.Objects, r.Findings[:min(3, len(r.Findings))])
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "objects/s")
}
