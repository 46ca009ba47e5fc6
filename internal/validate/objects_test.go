package validate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// appDeployment runs the pipeline's image in pipelineFindings' overlays.
const appDeployment = `apiVersion: apps/v1
kind: Deployment
metadata: {name: app, namespace: ns}
spec:
  strategy: {type: Recreate}
  selector: {matchLabels: {app: app}}
  template:
    metadata: {labels: {app: app}}
    spec:
      containers: [{name: app, image: app, resources: {requests: {cpu: 1m, memory: 1Mi}}}]
`

// pipelineFindings writes files into a temp dir (a spec with one
// environment "t", namespace "ns", overlay "overlay", unless files say
// otherwise), validates it and returns the findings as strings with the
// temp dir cut from file names.
func pipelineFindings(t *testing.T, files map[string]string) []string {
	t.Helper()
	dir := t.TempDir()
	all := map[string]string{
		"driftless.yaml": "apiVersion: driftless.dev/v1alpha1\nkind: Pipeline\nname: x\nimage: {repository: r.example.com/app, name: app, base: scratch}\nenvironments: [{name: t, overlay: overlay, namespace: ns}]\n",
	}
	for k, v := range files {
		all[k] = v
	}
	// Every environment must run the pipeline's image ("app").
	if k, ok := all["overlay/kustomization.yaml"]; ok && !strings.Contains(k, "app.yaml") {
		all["overlay/kustomization.yaml"] = strings.Replace(k, "resources: [", "resources: [app.yaml, ", 1)
		all["overlay/app.yaml"] = appDeployment
	}
	r := validateTree(t, dir, all)
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	relDir, err := filepath.Rel(wd, dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range r.Findings {
		s := strings.ReplaceAll(f.String(), relDir+string(filepath.Separator), "")
		got = append(got, strings.ReplaceAll(s, dir+string(filepath.Separator), ""))
	}
	return got
}

// TestNamesFollowTheAPIServer: each kind's metadata.name is checked with
// the rule kube-apiserver 1.34 applies to that kind, so real applications'
// RBAC names with colons pass and a Service name starting with a digit
// does not.
func TestNamesFollowTheAPIServer(t *testing.T) {
	t.Parallel()
	const subdomain = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
	cases := []struct {
		name, apiVersion, kind, objName, extra string
		want                                   []string // messages after "metadata.name: "
	}{
		{"ClusterRole with colons (metrics-server)", "rbac.authorization.k8s.io/v1", "ClusterRole", "system:aggregated-metrics-reader", "", nil},
		{"ClusterRoleBinding with colons (cert-manager)", "rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "cert-manager-controller-approve:cert-manager-io", "roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: x}\n", nil},
		{"Role with colons", "rbac.authorization.k8s.io/v1", "Role", "cert-manager:leaderelection", "", nil},
		{"RoleBinding with colons", "rbac.authorization.k8s.io/v1", "RoleBinding", "cert-manager:leaderelection", "roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: x}\n", nil},
		{"RBAC name with a slash", "rbac.authorization.k8s.io/v1", "ClusterRole", "a/b", "", []string{`invalid name "a/b": may not contain '/'`}},
		{"ConfigMap with a colon", "v1", "ConfigMap", "a:b", "", []string{`invalid name "a:b": ` + subdomain}},
		{"ConfigMap with dots", "v1", "ConfigMap", "a.b", "", nil},
		{"Service starting with a digit (DNS-1035)", "v1", "Service", "1st", "spec: {ports: [{port: 80}]}\n", []string{`invalid name "1st": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')`}},
		{"Service with a dot", "v1", "Service", "a.b", "spec: {ports: [{port: 80}]}\n", []string{`invalid name "a.b": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')`}},
		{"Namespace starting with a digit (DNS-1123 label)", "v1", "Namespace", "1st", "", nil},
		{"Namespace with a dot", "v1", "Namespace", "a.b", "", []string{`invalid name "a.b": must not contain dots`}},
		{"APIService named version.group", "apiregistration.k8s.io/v1", "APIService", "v1beta1.metrics.k8s.io", "spec: {group: metrics.k8s.io, version: v1beta1, groupPriorityMinimum: 100, versionPriority: 100}\n", nil},
		{"APIService named otherwise", "apiregistration.k8s.io/v1", "APIService", "metrics", "spec: {group: metrics.k8s.io, version: v1beta1, groupPriorityMinimum: 100, versionPriority: 100}\n", []string{`invalid name "metrics": must be spec.version + "." + spec.group: "v1beta1.metrics.k8s.io"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			obj := "apiVersion: " + tc.apiVersion + "\nkind: " + tc.kind + "\nmetadata:\n  name: \"" + tc.objName + "\"\n" + tc.extra
			kustomization := "namespace: ns\nresources: [o.yaml]\n"
			if tc.kind == "Namespace" {
				kustomization = "resources: [o.yaml]\n" // kustomize would rename it to ns
			}
			got := pipelineFindings(t, map[string]string{
				"overlay/kustomization.yaml": kustomization,
				"overlay/o.yaml":             obj,
			})
			var want []string
			for _, m := range tc.want {
				id := tc.kind + "/" + tc.objName
				if tc.kind != "Namespace" && tc.kind != "ClusterRole" && tc.kind != "APIService" {
					id = tc.kind + "/ns/" + tc.objName
				}
				want = append(want, "overlay/o.yaml:4:3: error: [t] "+id+": metadata.name: "+m)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDefinitionsAreNotUnknownKinds: CRDs (validated as CRDs) and
// APIServices (served by every kube-apiserver) are not "not a built-in
// type"; an APIService's fields are still checked.
func TestDefinitionsAreNotUnknownKinds(t *testing.T) {
	t.Parallel()
	crd := `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  names: {kind: Widget, plural: widgets}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema: {openAPIV3Schema: {type: object}}
`
	apiService := `apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata:
  name: v1beta1.metrics.k8s.io
spec:
  group: metrics.k8s.io
  version: v1beta1
  groupPriorityMinimum: 100
  versionPriority: 100
  insecureSkipTLSVerify: true
  service: {name: metrics-server, namespace: kube-system, port: 443}
`
	cases := []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{"a valid CRD", map[string]string{"overlay/o.yaml": crd}, nil},
		{"a valid APIService", map[string]string{"overlay/o.yaml": apiService}, nil},
		{
			"an APIService with an unknown field",
			map[string]string{"overlay/o.yaml": strings.Replace(apiService, "  version: v1beta1\n", "  version: v1beta1\n  priority: 1\n", 1)},
			[]string{`overlay/o.yaml:8:3: error: [t] APIService/v1beta1.metrics.k8s.io: spec.priority: unknown field "priority" (not in apiregistration.k8s.io/v1 APIService)`},
		},
		{
			"an APIService with a wrong type",
			map[string]string{"overlay/o.yaml": strings.Replace(apiService, "versionPriority: 100", "versionPriority: high", 1)},
			[]string{`overlay/o.yaml:9:3: error: [t] APIService/v1beta1.metrics.k8s.io: spec.versionPriority: wrong type: got string, want int32`},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.files["overlay/kustomization.yaml"] = "namespace: ns\nresources: [o.yaml]\n"
			got := pipelineFindings(t, tc.files)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
		})
	}
}

// TestInvalidCRDIsNamedByItsResources: a custom resource whose CRD is in
// the overlay but invalid says so, instead of claiming there is no CRD.
func TestInvalidCRDIsNamedByItsResources(t *testing.T) {
	t.Parallel()
	got := pipelineFindings(t, map[string]string{
		"overlay/kustomization.yaml": "namespace: ns\nresources: [crd.yaml, widget.yaml]\n",
		"overlay/crd.yaml": `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  names: {kind: Widget, plural: widgets}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: false
      schema: {openAPIV3Schema: {type: object}}
`,
		"overlay/widget.yaml": "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n",
	})
	want := []string{
		`overlay/crd.yaml:1:1: error: [t] CustomResourceDefinition/widgets.example.com: invalid CustomResourceDefinition: CustomResourceDefinition/widgets.example.com is invalid: spec.versions: Invalid value: []apiextensions.CustomResourceDefinitionVersion{apiextensions.CustomResourceDefinitionVersion{Name:"v1", Served:true, Storage:false`,
		`overlay/widget.yaml:1:1: warning: [t] Widget/ns/w: not validated: its CustomResourceDefinition widgets.example.com is invalid (see overlay/crd.yaml:1)`,
	}
	if len(got) != len(want) {
		t.Fatalf("got %d findings, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) && !strings.HasPrefix(got[i], strings.Split(want[i], ": Invalid value")[0]) {
			t.Errorf("finding %d:\n got: %s\nwant: %s", i, got[i], want[i])
		}
	}
	if strings.Contains(strings.Join(got, "\n"), "no CustomResourceDefinition for it") {
		t.Errorf("a custom resource claims its CRD is missing:\n%s", strings.Join(got, "\n"))
	}
}

// TestKeysThatAreNotStrings: YAML keys JSON cannot hold are reported at
// the key, saying what is wrong, not as a Go encoding error.
func TestKeysThatAreNotStrings(t *testing.T) {
	t.Parallel()
	cm := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  1: one\n  on: yes\n  true: x\n"
	t.Run("rendered from an overlay", func(t *testing.T) {
		t.Parallel()
		got := pipelineFindings(t, map[string]string{
			"overlay/kustomization.yaml": "namespace: ns\nresources: [cm.yaml]\n",
			"overlay/cm.yaml":            cm,
		})
		want := []string{
			`overlay/cm.yaml:6:3: error: [t] ConfigMap/ns/c: data: key 1 is a number, not a string: Kubernetes objects are JSON, whose keys are strings; quote it ("1")`,
			`overlay/cm.yaml:8:3: error: [t] ConfigMap/ns/c: data: key true is a boolean, not a string: Kubernetes objects are JSON, whose keys are strings; quote it ("true")`,
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("findings (-want +got):\n%s", diff)
		}
	})
	t.Run("rendered manifests", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		f := filepath.Join(dir, "m.yaml")
		content := strings.Replace(cm, "  name: c\n", "  name: c\n  namespace: ns\n", 1) + "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: d\n  namespace: ns\n  annotations:\n    ? [a, b]\n    : complex\n"
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
			`m.yaml:7:3: error: ConfigMap/ns/c: data: key 1 is a number, not a string: Kubernetes objects are JSON, whose keys are strings; quote it ("1")`,
			`m.yaml:9:3: error: ConfigMap/ns/c: data: key true is a boolean, not a string: Kubernetes objects are JSON, whose keys are strings; quote it ("true")`,
			`m.yaml:17:7: error: metadata.annotations: a key is a sequence, not a string: Kubernetes objects are JSON, whose keys are strings`,
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("findings (-want +got):\n%s", diff)
		}
	})
}

// TestNamespacedObjectsNeedANamespace: an overlay that sets no namespace
// leaves namespaced objects without one, which apply-env refuses; the
// finding is at the object and names the environment's namespace.
// Cluster-scoped kinds, built in or custom, need none.
func TestNamespacedObjectsNeedANamespace(t *testing.T) {
	t.Parallel()
	got := pipelineFindings(t, map[string]string{
		"overlay/kustomization.yaml": "resources: [objs.yaml, crds.yaml]\n",
		"overlay/objs.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: config
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: placed
  namespace: elsewhere
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: reader
---
apiVersion: v1
kind: Namespace
metadata:
  name: ns
---
apiVersion: example.com/v1
kind: Widget
metadata:
  name: w
---
apiVersion: example.com/v1
kind: WidgetClass
metadata:
  name: wc
`,
		"overlay/crds.yaml": `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  names: {kind: Widget, plural: widgets}
  scope: Namespaced
  versions: [{name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object}}}]
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgetclasses.example.com
spec:
  group: example.com
  names: {kind: WidgetClass, plural: widgetclasses}
  scope: Cluster
  versions: [{name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object}}}]
`,
	})
	want := []string{
		`overlay/objs.yaml:1:1: error: [t] ConfigMap/config: namespaced ConfigMap without a namespace, and the overlay sets none: apply-env refuses it; set namespace: ns (environment "t"'s namespace in the spec) in overlay/kustomization.yaml`,
		`overlay/objs.yaml:22:1: error: [t] Widget/w: namespaced Widget without a namespace, and the overlay sets none: apply-env refuses it; set namespace: ns (environment "t"'s namespace in the spec) in overlay/kustomization.yaml`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
}

// TestBuiltinScopes: the scopes read off client-go's clientset, on kinds
// whose scope is well known.
func TestBuiltinScopes(t *testing.T) {
	t.Parallel()
	want := map[schema.GroupKind]bool{
		{Kind: "Pod"}:                       true,
		{Kind: "ConfigMap"}:                 true,
		{Kind: "Namespace"}:                 false,
		{Kind: "PersistentVolume"}:          false,
		{Kind: "PersistentVolumeClaim"}:     true,
		{Group: "apps", Kind: "Deployment"}: true,
		{Group: "rbac.authorization.k8s.io", Kind: "ClusterRole"}:                  false,
		{Group: "rbac.authorization.k8s.io", Kind: "RoleBinding"}:                  true,
		{Group: "storage.k8s.io", Kind: "StorageClass"}:                            false,
		{Group: "admissionregistration.k8s.io", Kind: "ValidatingAdmissionPolicy"}: false,
		{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}:          false,
		{Group: "apiregistration.k8s.io", Kind: "APIService"}:                      false,
		{Group: "authorization.k8s.io", Kind: "LocalSubjectAccessReview"}:          true,
		{Group: "coordination.k8s.io", Kind: "Lease"}:                              true,
		{Group: "policy", Kind: "PodDisruptionBudget"}:                             true,
		{Group: "scheduling.k8s.io", Kind: "PriorityClass"}:                        false,
	}
	got := map[schema.GroupKind]bool{}
	for gk := range want {
		ns, ok := builtinScopes()[gk]
		if !ok {
			t.Errorf("no scope for %v", gk)
		}
		got[gk] = ns
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("scopes (-want +got):\n%s", diff)
	}
	if n := len(builtinScopes()); n < 70 {
		t.Errorf("only %d built-in kinds have a scope", n)
	}
}
