package validate

import (
	"fmt"

	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/api/validation/path"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// nameRules are the kinds whose metadata.name kube-apiserver 1.34 checks
// with something other than DNS-1123 subdomain rules (pkg/apis/*/validation
// in k8s.io/kubernetes; custom resources too are subdomains, see
// apiextensions-apiserver's customResourceValidator).
var nameRules = map[schema.GroupKind]apivalidation.ValidateNameFunc{
	{Kind: "Namespace"}: apivalidation.NameIsDNSLabel,
	// The RelaxedServiceNameValidation gate, alpha and off in 1.34, would
	// make this a DNS-1123 label.
	{Kind: "Service"}: apivalidation.NameIsDNS1035Label,
	{Group: "rbac.authorization.k8s.io", Kind: "Role"}:               path.ValidatePathSegmentName,
	{Group: "rbac.authorization.k8s.io", Kind: "ClusterRole"}:        path.ValidatePathSegmentName,
	{Group: "rbac.authorization.k8s.io", Kind: "RoleBinding"}:        path.ValidatePathSegmentName,
	{Group: "rbac.authorization.k8s.io", Kind: "ClusterRoleBinding"}: path.ValidatePathSegmentName,
}

// nameErrors checks an object's name the way the API server checks it for
// the object's kind.
func nameErrors(o *object) []string {
	gk := schema.FromAPIVersionAndKind(o.apiVersion, o.kind).GroupKind()
	if gk == apiServiceKind {
		return apiServiceNameErrors(o)
	}
	rule, ok := nameRules[gk]
	if !ok {
		rule = apivalidation.NameIsDNSSubdomain
	}
	return rule(o.name, false)
}

var apiServiceKind = schema.GroupKind{Group: "apiregistration.k8s.io", Kind: "APIService"}

// apiServiceNameErrors is kube-aggregator's rule: a path segment that is
// spec.version + "." + spec.group.
func apiServiceNameErrors(o *object) []string {
	if errs := path.ValidatePathSegmentName(o.name, false); len(errs) > 0 {
		return errs
	}
	version, _ := lookup(o.content, "spec", "version").(string)
	group, _ := lookup(o.content, "spec", "group").(string)
	if want := version + "." + group; o.name != want {
		return []string{fmt.Sprintf("must be spec.version + \".\" + spec.group: %q", want)}
	}
	return nil
}
