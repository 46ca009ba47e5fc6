package validate

import (
	"encoding/json"
	"strings"

	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	openapierrors "k8s.io/kube-openapi/pkg/validation/errors"
	"k8s.io/kube-openapi/pkg/validation/spec"
	"k8s.io/kube-openapi/pkg/validation/strfmt"
	"k8s.io/kube-openapi/pkg/validation/validate"
)

// What apiextensions-apiserver's schema validation does around
// kube-openapi's validator, rewritten here on the packages of
// apiextensions-apiserver that do not link the API server (its own
// validation and defaulting packages pull in CEL, metrics and
// OpenTelemetry).

// crdFormats are the string formats kube-apiserver 1.34 checks in custom
// resources: those of its compatibility version, 1.33 (k8s-short-name and
// k8s-long-name, new in 1.34, are not checked yet). Names are normalised
// as go-openapi does, without dashes. Other formats are ignored.
var crdFormats = map[string]bool{
	"bsonobjectid": true, "uri": true, "email": true, "hostname": true, "ipv4": true, "ipv6": true,
	"cidr": true, "mac": true, "uuid": true, "uuid3": true, "uuid4": true, "uuid5": true,
	"isbn": true, "isbn10": true, "isbn13": true, "creditcard": true, "ssn": true,
	"hexcolor": true, "rgbcolor": true, "byte": true, "password": true, "date": true,
	"duration": true, "datetime": true,
}

// schemaValidator builds the kube-openapi validator for a structural
// schema as the API server does: int-or-string fields are an integer or
// a string, and unsupported formats are dropped.
func schemaValidator(s *structuralschema.Structural) *validate.SchemaValidator {
	openapi := s.ToKubeOpenAPI()
	serverSchema(openapi)
	return validate.NewSchemaValidator(openapi, nil, "", strfmt.Default)
}

func serverSchema(s *spec.Schema) {
	if s == nil {
		return
	}
	if v, ok := s.Extensions.GetBool("x-kubernetes-int-or-string"); ok && v {
		s.Type = spec.StringOrArray{"integer", "string"}
	}
	if s.Format != "" && !crdFormats[strings.ReplaceAll(s.Format, "-", "")] {
		s.Format = ""
	}
	if s.Items != nil {
		serverSchema(s.Items.Schema)
		for i := range s.Items.Schemas {
			serverSchema(&s.Items.Schemas[i])
		}
	}
	if s.AdditionalProperties != nil {
		serverSchema(s.AdditionalProperties.Schema)
	}
	for k, p := range s.Properties {
		serverSchema(&p)
		s.Properties[k] = p
	}
	for _, list := range [][]spec.Schema{s.AllOf, s.AnyOf, s.OneOf} {
		for i := range list {
			serverSchema(&list[i])
		}
	}
	serverSchema(s.Not)
}

// schemaErrors turns kube-openapi's result into the field errors the API
// server reports for it (apiextensions-apiserver's
// kubeOpenAPIResultToFieldErrors).
func schemaErrors(fldPath *field.Path, result *validate.Result) field.ErrorList {
	if result.IsValid() {
		return nil
	}
	int64Or := func(v any) int {
		if i, ok := v.(int64); ok {
			return int(i)
		}
		return -1
	}
	var errs field.ErrorList
	for _, err := range result.Errors {
		verr, ok := err.(*openapierrors.Validation)
		if !ok {
			errs = append(errs, field.Invalid(fldPath, "", err.Error()))
			continue
		}
		path := fldPath
		if verr.Name != "" && verr.Name != "." {
			path = path.Child(strings.TrimPrefix(verr.Name, "."))
		}
		value := any("")
		if verr.Value != nil {
			value = verr.Value
		}
		switch verr.Code() {
		case openapierrors.RequiredFailCode:
			errs = append(errs, field.Required(path, ""))
		case openapierrors.EnumFailCode:
			var values []string
			for _, allowed := range verr.Values {
				if s, ok := allowed.(string); ok {
					values = append(values, s)
					continue
				}
				b, _ := json.Marshal(allowed)
				values = append(values, string(b))
			}
			errs = append(errs, field.NotSupported(path, verr.Value, values))
		case openapierrors.TooLongFailCode:
			errs = append(errs, field.TooLong(path, "", int64Or(verr.Valid)))
		case openapierrors.MaxItemsFailCode, openapierrors.TooManyPropertiesCode:
			errs = append(errs, field.TooMany(path, int64Or(verr.Value), int64Or(verr.Valid)))
		case openapierrors.InvalidTypeCode:
			errs = append(errs, field.TypeInvalid(path, value, verr.Error()))
		default:
			errs = append(errs, field.Invalid(path, value, verr.Error()))
		}
	}
	return errs
}

// applyDefaults sets the schema's defaults where x has no value, or a null
// one the schema does not allow, as the API server's defaulting does.
func applyDefaults(x any, s *structuralschema.Structural) {
	if s == nil {
		return
	}
	nonNullableNull := func(v any, s *structuralschema.Structural) bool {
		return v == nil && s != nil && !s.Nullable
	}
	switch x := x.(type) {
	case map[string]any:
		for k, prop := range s.Properties {
			if prop.Default.Object == nil {
				continue
			}
			if v, found := x[k]; !found || nonNullableNull(v, &prop) {
				x[k] = runtime.DeepCopyJSONValue(prop.Default.Object)
			}
		}
		for k, v := range x {
			if prop, found := s.Properties[k]; found {
				applyDefaults(v, &prop)
				continue
			}
			if ap := s.AdditionalProperties; ap != nil && ap.Structural != nil {
				if nonNullableNull(v, ap.Structural) && ap.Structural.Default.Object != nil {
					x[k] = runtime.DeepCopyJSONValue(ap.Structural.Default.Object)
				}
				applyDefaults(x[k], ap.Structural)
			}
		}
	case []any:
		for i := range x {
			if nonNullableNull(x[i], s.Items) && s.Items.Default.Object != nil {
				x[i] = runtime.DeepCopyJSONValue(s.Items.Default.Object)
			}
			applyDefaults(x[i], s.Items)
		}
	}
}

// pruneNulls drops the null values the schema neither allows nor
// defaults, as the API server does before defaulting.
func pruneNulls(x any, s *structuralschema.Structural) {
	switch x := x.(type) {
	case map[string]any:
		for k, v := range x {
			var sub *structuralschema.Structural
			if s != nil {
				if p, ok := s.Properties[k]; ok {
					sub = &p
				} else if s.AdditionalProperties != nil {
					sub = s.AdditionalProperties.Structural
				}
			}
			if v == nil && sub != nil && !sub.Nullable && sub.Default.Object == nil {
				delete(x, k)
				continue
			}
			pruneNulls(v, sub)
		}
	case []any:
		var items *structuralschema.Structural
		if s != nil {
			items = s.Items
		}
		for _, v := range x {
			pruneNulls(v, items)
		}
	}
}
