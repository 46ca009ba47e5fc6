package validate

import (
	"net/url"
	"reflect"
	"slices"
	"strings"

	"k8s.io/apiextensions-apiserver/pkg/apihelpers"
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/runtime"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// validateCRD checks a CustomResourceDefinition (the internal version of a
// v1 one, as created) by the rules of kube-apiserver 1.34's
// ValidateCustomResourceDefinition that decide whether its custom
// resources can be validated at all, with the server's messages: name,
// group, scope, names, versions (one storage version, unique names, a
// structural schema each, defaults that match it), printer columns and
// conversion. x-kubernetes-validations rules are not compiled (see CRDs);
// neither are a few rarer rules (subresource paths, selectable fields):
// the server checks those on apply-env's dry run.
func validateCRD(crd *apiextensions.CustomResourceDefinition) field.ErrorList {
	spec := &crd.Spec
	nameRule := func(name string, prefix bool) []string {
		errs := apivalidation.NameIsDNSSubdomain(name, prefix)
		if name != spec.Names.Plural+"."+spec.Group {
			errs = append(errs, `must be spec.names.plural+"."+spec.group`)
		}
		return errs
	}
	errs := apivalidation.ValidateObjectMeta(&crd.ObjectMeta, false, nameRule, field.NewPath("metadata"))
	fld := field.NewPath("spec")

	switch {
	case spec.Group == "":
		errs = append(errs, field.Required(fld.Child("group"), ""))
	case len(utilvalidation.IsDNS1123Subdomain(spec.Group)) > 0:
		errs = append(errs, field.Invalid(fld.Child("group"), spec.Group, strings.Join(utilvalidation.IsDNS1123Subdomain(spec.Group), ",")))
	case !strings.Contains(spec.Group, "."):
		errs = append(errs, field.Invalid(fld.Child("group"), spec.Group, "should be a domain with at least one dot"))
	}
	errs = append(errs, enumString(fld.Child("scope"), string(spec.Scope), string(apiextensions.ClusterScoped), string(apiextensions.NamespaceScoped))...)
	errs = append(errs, crdNames(&spec.Names, fld.Child("names"))...)
	if spec.PreserveUnknownFields != nil && *spec.PreserveUnknownFields {
		errs = append(errs, field.Invalid(fld.Child("preserveUnknownFields"), true, "cannot set to true, set x-kubernetes-preserve-unknown-fields to true in spec.versions[*].schema instead"))
	}

	storage, seen, unique := 0, map[string]bool{}, true
	for i, v := range spec.Versions {
		vf := fld.Child("versions").Index(i)
		if v.Storage {
			storage++
		}
		if seen[v.Name] {
			unique = false
		}
		seen[v.Name] = true
		if e := utilvalidation.IsDNS1035Label(v.Name); len(e) > 0 {
			errs = append(errs, field.Invalid(vf.Child("name"), v.Name, strings.Join(e, ",")))
		}
		if v.Schema != nil {
			errs = append(errs, crdSchema(v.Schema.OpenAPIV3Schema, vf.Child("schema", "openAPIV3Schema"))...)
		} else if spec.Validation == nil || spec.Validation.OpenAPIV3Schema == nil {
			errs = append(errs, field.Required(vf.Child("schema", "openAPIV3Schema"), ""))
		}
		for j := range v.AdditionalPrinterColumns {
			errs = append(errs, printerColumn(&v.AdditionalPrinterColumns[j], vf.Child("additionalPrinterColumns").Index(j))...)
		}
	}
	if len(spec.Versions) == 0 {
		errs = append(errs, field.Required(fld.Child("versions"), "must have exactly one version marked as storage version"))
	}
	if !unique {
		errs = append(errs, field.Invalid(fld.Child("versions"), spec.Versions, "must contain unique version names"))
	}
	if storage != 1 && len(spec.Versions) > 0 {
		errs = append(errs, field.Invalid(fld.Child("versions"), spec.Versions, "must have exactly one version marked as storage version"))
	}
	if spec.Validation != nil {
		errs = append(errs, crdSchema(spec.Validation.OpenAPIV3Schema, fld.Child("validation", "openAPIV3Schema"))...)
	}
	for j := range spec.AdditionalPrinterColumns {
		errs = append(errs, printerColumn(&spec.AdditionalPrinterColumns[j], fld.Child("additionalPrinterColumns").Index(j))...)
	}
	errs = append(errs, conversion(spec.Conversion, fld.Child("conversion"))...)

	if apihelpers.IsProtectedCommunityGroup(spec.Group) {
		key := field.NewPath("metadata", "annotations").Key("api-approved.kubernetes.io")
		switch state, reason := apihelpers.GetAPIApprovalState(crd.Annotations); state {
		case apihelpers.APIApprovalMissing:
			errs = append(errs, field.Required(key, reason))
		case apihelpers.APIApprovalInvalid:
			errs = append(errs, field.Invalid(key, crd.Annotations["api-approved.kubernetes.io"], reason))
		}
	}
	return errs
}

func enumString(fld *field.Path, value string, accepted ...string) field.ErrorList {
	switch {
	case value == "":
		return field.ErrorList{field.Required(fld, "")}
	case !slices.Contains(accepted, value):
		return field.ErrorList{field.NotSupported(fld, value, accepted)}
	}
	return nil
}

func crdNames(n *apiextensions.CustomResourceDefinitionNames, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	label := func(name, value string, mixedCase bool) {
		if value == "" {
			errs = append(errs, field.Required(fld.Child(name), ""))
			return
		}
		check, prefix := value, ""
		if mixedCase {
			check, prefix = strings.ToLower(value), "may have mixed case, but should otherwise match: "
		}
		if e := utilvalidation.IsDNS1035Label(check); len(e) > 0 {
			errs = append(errs, field.Invalid(fld.Child(name), value, prefix+strings.Join(e, ",")))
		}
	}
	label("plural", n.Plural, false)
	label("singular", n.Singular, false)
	label("kind", n.Kind, true)
	label("listKind", n.ListKind, true)
	for i, s := range n.ShortNames {
		if e := utilvalidation.IsDNS1035Label(s); len(e) > 0 {
			errs = append(errs, field.Invalid(fld.Child("shortNames").Index(i), s, strings.Join(e, ",")))
		}
	}
	for i, c := range n.Categories {
		if e := utilvalidation.IsDNS1035Label(c); len(e) > 0 {
			errs = append(errs, field.Invalid(fld.Child("categories").Index(i), c, strings.Join(e, ",")))
		}
	}
	if n.Kind != "" && n.Kind == n.ListKind {
		errs = append(errs, field.Invalid(fld.Child("listKind"), n.ListKind, "kind and listKind may not be the same"))
	}
	return errs
}

// crdSchema checks one version's schema: structural, as v1 requires,
// with every default valid and pruned.
func crdSchema(props *apiextensions.JSONSchemaProps, fld *field.Path) field.ErrorList {
	if props == nil {
		return field.ErrorList{field.Required(fld, "")}
	}
	var errs field.ErrorList
	if props.Nullable {
		errs = append(errs, field.Forbidden(fld.Child("nullable"), "nullable cannot be true at the root"))
	}
	errs = append(errs, openAPIRules(props, fld)...)
	s, err := structuralschema.NewStructural(props)
	if err != nil {
		if len(errs) > 0 {
			return errs // NewStructural's error says the same, less precisely
		}
		return append(errs, field.Invalid(fld, "", err.Error()))
	}
	if serrs := structuralschema.ValidateStructural(fld, s); len(serrs) > 0 {
		return append(errs, serrs...)
	}
	return append(errs, crdDefaults(s, s, fld)...)
}

// openAPIRules are the OpenAPI v3 schema rules CRDs add to structural ones
// (ValidateCustomResourceDefinitionOpenAPISchema).
func openAPIRules(p *apiextensions.JSONSchemaProps, fld *field.Path) field.ErrorList {
	if p == nil {
		return nil
	}
	var errs field.ErrorList
	if p.UniqueItems {
		errs = append(errs, field.Forbidden(fld.Child("uniqueItems"), "uniqueItems cannot be set to true since the runtime complexity becomes quadratic"))
	}
	if p.AdditionalProperties != nil && len(p.Properties) > 0 && (p.AdditionalProperties.Schema != nil || !p.AdditionalProperties.Allows) {
		errs = append(errs, field.Forbidden(fld.Child("additionalProperties"), "additionalProperties and properties are mutual exclusive"))
	}
	if p.Ref != nil {
		errs = append(errs, field.Forbidden(fld.Child("$ref"), "$ref is not supported"))
	}
	switch p.Type {
	case "", "string", "number", "integer", "boolean", "array", "object":
	default:
		errs = append(errs, field.NotSupported(fld.Child("type"), p.Type, []string{"array", "boolean", "integer", "number", "object", "string"}))
	}
	for name, sub := range p.Properties {
		errs = append(errs, openAPIRules(&sub, fld.Child("properties").Key(name))...)
	}
	if p.AdditionalProperties != nil {
		errs = append(errs, openAPIRules(p.AdditionalProperties.Schema, fld.Child("additionalProperties"))...)
	}
	if p.Items != nil {
		errs = append(errs, openAPIRules(p.Items.Schema, fld.Child("items"))...)
	}
	for _, list := range []struct {
		name  string
		items []apiextensions.JSONSchemaProps
	}{{"allOf", p.AllOf}, {"anyOf", p.AnyOf}, {"oneOf", p.OneOf}} {
		for i := range list.items {
			errs = append(errs, openAPIRules(&list.items[i], fld.Child(list.name).Index(i))...)
		}
	}
	return errs
}

// crdDefaults checks every default in the schema: it must be valid for its
// field and have no field pruning would drop (ValidateDefaults, without
// its CEL rules).
func crdDefaults(root, s *structuralschema.Structural, fld *field.Path) field.ErrorList {
	if s == nil {
		return nil
	}
	var errs field.ErrorList
	if s.Default.Object != nil {
		def := runtime.DeepCopyJSONValue(s.Default.Object)
		pruned := runtime.DeepCopyJSONValue(def)
		pruning.Prune(pruned, s, false)
		if !reflect.DeepEqual(def, pruned) {
			errs = append(errs, field.Invalid(fld.Child("default"), "", "must not have unknown fields"))
		} else {
			errs = append(errs, schemaErrors(fld.Child("default"), schemaValidator(s).Validate(def))...)
		}
	}
	for name, p := range s.Properties {
		errs = append(errs, crdDefaults(root, &p, fld.Child("properties").Key(name))...)
	}
	if s.AdditionalProperties != nil {
		errs = append(errs, crdDefaults(root, s.AdditionalProperties.Structural, fld.Child("additionalProperties"))...)
	}
	errs = append(errs, crdDefaults(root, s.Items, fld.Child("items"))...)
	return errs
}

var printerColumnTypes = []string{"boolean", "date", "integer", "number", "string"}

func printerColumn(c *apiextensions.CustomResourceColumnDefinition, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	if c.Name == "" {
		errs = append(errs, field.Required(fld.Child("name"), ""))
	}
	must := "must be one of " + strings.Join(printerColumnTypes, ",")
	switch {
	case c.Type == "":
		errs = append(errs, field.Required(fld.Child("type"), must))
	case !slices.Contains(printerColumnTypes, c.Type):
		errs = append(errs, field.Invalid(fld.Child("type"), c.Type, must))
	}
	if c.JSONPath == "" {
		errs = append(errs, field.Required(fld.Child("JSONPath"), ""))
	}
	return errs
}

func conversion(c *apiextensions.CustomResourceConversion, fld *field.Path) field.ErrorList {
	if c == nil {
		return nil
	}
	errs := enumString(fld.Child("strategy"), string(c.Strategy), string(apiextensions.NoneConverter), string(apiextensions.WebhookConverter))
	if c.Strategy != apiextensions.WebhookConverter {
		if c.WebhookClientConfig != nil {
			errs = append(errs, field.Forbidden(fld.Child("webhookClientConfig"), "should not be set when strategy is not set to Webhook"))
		}
		if len(c.ConversionReviewVersions) > 0 {
			errs = append(errs, field.Forbidden(fld.Child("conversionReviewVersions"), "should not be set when strategy is not set to Webhook"))
		}
		return errs
	}
	cc := c.WebhookClientConfig
	switch {
	case cc == nil:
		errs = append(errs, field.Required(fld.Child("webhookClientConfig"), "required when strategy is set to Webhook"))
	case (cc.URL == nil) == (cc.Service == nil):
		errs = append(errs, field.Required(fld.Child("webhookClientConfig"), "exactly one of url or service is required"))
	case cc.URL != nil:
		uf := fld.Child("webhookClientConfig", "url")
		u, err := url.Parse(*cc.URL)
		switch {
		case err != nil:
			errs = append(errs, field.Required(uf, "url must be a valid URL: "+err.Error()+"; desired format: https://host[/path]"))
		case u.Scheme != "https":
			errs = append(errs, field.Invalid(uf, u.Scheme, "'https' is the only allowed URL scheme; desired format: https://host[/path]"))
		case u.Host == "":
			errs = append(errs, field.Invalid(uf, u.Host, "host must be specified; desired format: https://host[/path]"))
		}
	default:
		sf := fld.Child("webhookClientConfig", "service")
		if cc.Service.Name == "" {
			errs = append(errs, field.Required(sf.Child("name"), ""))
		}
		if cc.Service.Namespace == "" {
			errs = append(errs, field.Required(sf.Child("namespace"), ""))
		}
		if e := utilvalidation.IsValidPortNum(int(cc.Service.Port)); len(e) > 0 {
			errs = append(errs, field.Invalid(sf.Child("port"), cc.Service.Port, "port is not valid: "+strings.Join(e, ", ")))
		}
	}
	if len(c.ConversionReviewVersions) == 0 {
		errs = append(errs, field.Required(fld.Child("conversionReviewVersions"), ""))
	} else if !slices.Contains(c.ConversionReviewVersions, "v1") && !slices.Contains(c.ConversionReviewVersions, "v1beta1") {
		errs = append(errs, field.Invalid(fld.Child("conversionReviewVersions"), c.ConversionReviewVersions, "must include at least one of v1, v1beta1"))
	}
	return errs
}
