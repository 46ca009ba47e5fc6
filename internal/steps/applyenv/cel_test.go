package applyenv

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/driftless-dev/driftless/internal/cluster/clustertest"
	"github.com/driftless-dev/driftless/internal/step/steptest"
)

// TestDryRunRunsCELRules: validate-config leaves a CRD's
// x-kubernetes-validations (CEL) rules to the API server; apply-env's dry
// run is where a custom resource that breaks one is refused, with the
// rule's message, before anything is applied.
func TestDryRunRunsCELRules(t *testing.T) {
	c := clustertest.Shared(t)
	ns := clustertest.Namespace(t, c)
	dir := t.TempDir()
	writeSpec(t, dir, ns)
	spec := filepath.Join(dir, "driftless.yaml")
	base, err := os.ReadFile(filepath.Join(dir, "m.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	group := ns + ".example.com"
	crd := `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: ranges.` + group + `}
spec:
  group: ` + group + `
  scope: Namespaced
  names: {kind: Range, plural: ranges}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              x-kubernetes-validations:
                - {rule: "self.min <= self.max", message: min must not exceed max}
              properties:
                min: {type: integer}
                max: {type: integer}
---
`
	cr := func(min, max string) string {
		return "---\napiVersion: " + group + "/v1\nkind: Range\nmetadata: {name: r, namespace: " + ns + "}\nspec: {min: " + min + ", max: " + max + "}\n"
	}
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	env := map[string]string{"KUBECONFIG": c.Kubeconfig()}
	// The dry run of a custom resource needs its CRD served: deploy both.
	if r := steptest.Run(t, Definition, Run, env, "--spec", spec, "--env", "test", "--manifests", write("crd.yaml", crd+string(base))); r.Code != 0 {
		t.Fatalf("deploying the CRD: exit %d\n%s", r.Code, r.Stderr)
	}
	valid := write("valid.yaml", crd+string(base)+cr("1", "2"))
	if r := steptest.Run(t, Definition, Run, env, "--spec", spec, "--env", "test", "--manifests", valid); r.Code != 0 {
		t.Fatalf("deploying a valid Range: exit %d\n%s", r.Code, r.Stderr)
	}
	broken := write("broken.yaml", crd+string(base)+cr("3", "2"))
	r := steptest.Run(t, Definition, Run, env, "--spec", spec, "--env", "test", "--manifests", broken, "--dry-run")
	if r.Code == 0 || !strings.Contains(r.Stderr, "min must not exceed max") {
		t.Errorf("dry run of a Range breaking its CRD's rule: exit %d, want a failure naming the rule's message\n%s", r.Code, r.Stderr)
	}
	t.Logf("dry run: exit %d\n%s", r.Code, r.Stderr)
}
