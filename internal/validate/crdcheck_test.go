package validate

import (
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/driftless-dev/driftless/internal/cluster/clustertest"
)

const (
	crdBase = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: sprockets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {kind: Sprocket, plural: sprockets}
  versions:
    - name: v1
      served: true
      storage: true
` + crdSchemaText
	crdSchemaText = `      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              properties:
                size: {type: integer}
                tags: {type: array, items: {type: string}}
`
)

// TestCRDSpecRules: validateCRD refuses what kube-apiserver 1.34 refuses
// when asked to create the CRD, saying so at the same field, and accepts
// what it accepts. Each CRD is also created on a real API server with
// dryRun=All.
func TestCRDSpecRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		old  string // replaced in crdBase by new
		new  string
		want string // in Add's error; "" for a valid CRD
	}{
		{name: "valid"},
		{name: "group without a dot", old: "example.com", new: "example", want: `spec.group: Invalid value: "example": should be a domain with at least one dot`},
		{name: "scope", old: "scope: Namespaced", new: "scope: Global", want: `spec.scope: Unsupported value: "Global": supported values: "Cluster", "Namespaced"`},
		{name: "kind", old: "kind: Sprocket,", new: "kind: Sprock_et,", want: `spec.names.kind: Invalid value: "Sprock_et": may have mixed case, but should otherwise match`},
		{name: "plural", old: "plural: sprockets}", new: "plural: Sprockets}", want: `spec.names.plural: Invalid value: "Sprockets"`},
		{name: "version name", old: "- name: v1", new: "- name: V1", want: `spec.versions[0].name: Invalid value: "V1"`},
		{name: "two storage versions", old: "    - name: v1\n", new: "    - {name: v0, served: true, storage: true, schema: {openAPIV3Schema: {type: object}}}\n    - name: v1\n", want: "spec.versions: Invalid value: must have exactly one version marked as storage version"},
		{name: "no schema", old: crdSchemaText, new: "", want: "spec.versions[0].schema.openAPIV3Schema: Required value"},
		{name: "default of the wrong type", old: "size: {type: integer}", new: "size: {type: integer, default: three}", want: `spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[size].default: Invalid value: "string"`},
		{name: "default with an unknown field", old: "type: object\n              properties:", new: "type: object\n              default: {colour: red}\n              properties:", want: `spec.versions[0].schema.openAPIV3Schema.properties[spec].default`},
		{name: "uniqueItems", old: "items: {type: string}", new: "items: {type: string}, uniqueItems: true", want: "spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[tags].uniqueItems: Forbidden: uniqueItems cannot be set to true"},
		{name: "nullable root", old: "          type: object\n          properties:", new: "          type: object\n          nullable: true\n          properties:", want: "spec.versions[0].schema.openAPIV3Schema.nullable: Forbidden: nullable cannot be true at the root"},
		{name: "webhook conversion without a webhook", old: "  versions:", new: "  conversion: {strategy: Webhook}\n  versions:", want: "spec.conversion.webhookClientConfig: Required value: required when strategy is set to Webhook"},
		{name: "protected group", old: "example.com", new: "example.k8s.io", want: "metadata.annotations[api-approved.kubernetes.io]: Required value"},
	}
	c := clustertest.Shared(t)
	dyn, err := dynamic.NewForConfig(c.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	crds := dyn.Resource(schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			doc := strings.ReplaceAll(crdBase, tt.old, tt.new)
			var obj map[string]any
			if err := sigsyaml.Unmarshal([]byte(doc), &obj); err != nil {
				t.Fatal(err)
			}
			err := NewCRDs().Add(obj)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Add: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Add = %v\nwant an error with %q", err, tt.want)
			}

			_, apiErr := crds.Create(context.Background(), &unstructured.Unstructured{Object: obj}, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
			// The server names the schema of a CRD's only version by the
			// internal version's field, spec.validation; validate-config by
			// the field the user wrote.
			at, _, _ := strings.Cut(tt.want, ":")
			internal := strings.Replace(at, "spec.versions[0].schema.", "spec.validation.", 1)
			switch {
			case tt.want == "" && apiErr != nil:
				t.Errorf("the API server refuses the CRD validate-config accepts: %v", apiErr)
			case tt.want != "" && (apiErr == nil || !strings.Contains(apiErr.Error(), at) && !strings.Contains(apiErr.Error(), internal)):
				t.Errorf("the API server says %v\nwant an error at %q", apiErr, at)
			}
		})
	}
}
