package validate

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/listtype"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/objectmeta"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	serializerjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/kube-openapi/pkg/validation/validate"
	sigsyaml "sigs.k8s.io/yaml"
)

// CRDs validates custom resources against the schemas of the
// CustomResourceDefinitions added to it, the way kube-apiserver does on
// create: unknown fields are what pruning would drop, defaults are applied,
// then the OpenAPI schema, embedded resources and list types are checked.
// x-kubernetes-validations (CEL) rules are neither compiled nor run: they
// need the API server's CEL libraries, which would double validate-config's
// size; the server runs them on apply-env's dry run and apply.
//
// Add must not run concurrently with other calls; once filled, Known and
// Validate are safe for concurrent use.
type CRDs struct {
	kinds map[schema.GroupKind]*crdKind
	// decoder decodes CRDs strictly, as the API server does.
	decoder runtime.Decoder
}

// crdKind is one CustomResourceDefinition, ready to validate its objects.
type crdKind struct {
	name string // CustomResourceDefinition/widgets.example.com
	// namespaced is the CRD's scope.
	namespaced bool
	// served lists the served versions in the CRD's order, for messages.
	served   []string
	versions map[string]*crdVersion // all versions, served or not
}

// crdVersion holds what the API server builds for one version.
type crdVersion struct {
	served     bool
	structural *structuralschema.Structural
	validator  *validate.SchemaValidator
}

// FieldError is one problem in a custom resource.
type FieldError struct {
	// Path is the field in dotted form: spec.replicas, spec.items[0].name.
	// Empty for the object as a whole.
	Path    string
	Message string
}

// NewCRDs returns an empty set of CRDs.
func NewCRDs() *CRDs {
	scheme := runtime.NewScheme()
	utilruntime.Must(apiextensionsv1.AddToScheme(scheme))
	return &CRDs{
		kinds:   map[schema.GroupKind]*crdKind{},
		decoder: serializerjson.NewSerializerWithOptions(serializerjson.DefaultMetaFactory, scheme, scheme, serializerjson.SerializerOptions{Strict: true}),
	}
}

// Add checks an apiextensions.k8s.io/v1 CustomResourceDefinition, given as
// unstructured content, the way the API server checks one it is asked to
// create, and makes its kind known. A CRD for a group and kind already known
// replaces the earlier one.
func (c *CRDs) Add(crd map[string]any) error {
	name := crdName(crd)
	apiVersion, _ := crd["apiVersion"].(string)
	kind, _ := crd["kind"].(string)
	if kind != "CustomResourceDefinition" || apiVersion != apiextensionsv1.SchemeGroupVersion.String() {
		if kind == "CustomResourceDefinition" && apiVersion == "apiextensions.k8s.io/v1beta1" {
			return fmt.Errorf("%s: apiextensions.k8s.io/v1beta1 is no longer served (since Kubernetes 1.22); convert it to apiextensions.k8s.io/v1", name)
		}
		return fmt.Errorf("%s: not a CustomResourceDefinition: apiVersion %q, kind %q; want apiextensions.k8s.io/v1, CustomResourceDefinition", name, apiVersion, kind)
	}
	data, err := json.Marshal(crd)
	if err != nil {
		return fmt.Errorf("%s: the object cannot be represented as JSON: %w", name, err)
	}
	v1 := &apiextensionsv1.CustomResourceDefinition{}
	if _, _, err := c.decoder.Decode(data, nil, v1); err != nil {
		return fmt.Errorf("%s: decoding: %w", name, err)
	}
	apiextensionsv1.SetObjectDefaults_CustomResourceDefinition(v1)
	crdObj := &apiextensions.CustomResourceDefinition{}
	if err := apiextensionsv1.Convert_v1_CustomResourceDefinition_To_apiextensions_CustomResourceDefinition(v1, crdObj, nil); err != nil {
		return fmt.Errorf("%s: converting to the internal version: %w", name, err)
	}
	// What the registry's PrepareForCreate does: status is the server's, and
	// the storage version becomes the stored one.
	crdObj.Status = apiextensions.CustomResourceDefinitionStatus{}
	for _, v := range crdObj.Spec.Versions {
		if v.Storage {
			crdObj.Status.StoredVersions = []string{v.Name}
			break
		}
	}
	if errs := validateCRD(crdObj); len(errs) > 0 {
		var msgs []string
		for _, e := range errs {
			// status is the server's; an error there follows from one in
			// spec (no storage version).
			if strings.HasPrefix(e.Field, "status.") && len(errs) > 1 {
				continue
			}
			msgs = append(msgs, v1Path(e.Field, len(v1.Spec.Versions))+": "+errorBody(e))
		}
		return fmt.Errorf("%s is invalid: %s", name, strings.Join(msgs, "; "))
	}

	k := &crdKind{name: name, namespaced: crdObj.Spec.Scope == apiextensions.NamespaceScoped, versions: map[string]*crdVersion{}}
	for _, v := range crdObj.Spec.Versions {
		cv := &crdVersion{served: v.Served}
		k.versions[v.Name] = cv
		if !v.Served {
			continue
		}
		k.served = append(k.served, v.Name)
		val, err := apiextensions.GetSchemaForVersion(crdObj, v.Name)
		if err != nil {
			return fmt.Errorf("%s: version %q: %w", name, v.Name, err)
		}
		var props *apiextensions.JSONSchemaProps
		if val != nil {
			props = val.OpenAPIV3Schema
		}
		s, err := structuralschema.NewStructural(props)
		if err != nil {
			return fmt.Errorf("%s: version %q: schema is not structural: %w", name, v.Name, err)
		}
		// validateCRD found the defaults pruned already, as the server
		// requires them to be: the server's own pruning of them changes
		// nothing.
		cv.structural = s
		cv.validator = schemaValidator(s)
	}
	c.kinds[schema.GroupKind{Group: crdObj.Spec.Group, Kind: crdObj.Spec.Names.Kind}] = k
	return nil
}

// hoisted are the fields the conversion to the internal version moves from
// spec.versions[*] to spec when all versions agree on them.
var hoisted = map[string]string{
	"spec.validation":               "schema",
	"spec.subresources":             "subresources",
	"spec.additionalPrinterColumns": "additionalPrinterColumns",
	"spec.selectableFields":         "selectableFields",
}

// v1Path maps a field of the internal CRD the validation names back to the
// v1 document the user wrote; kube-apiserver itself reports
// spec.validation.openAPIV3Schema... for a v1 CRD.
func v1Path(p string, versions int) string {
	for internal, v1 := range hoisted {
		rest, ok := strings.CutPrefix(p, internal)
		if !ok || rest != "" && rest[0] != '.' && rest[0] != '[' {
			continue
		}
		idx := "*"
		if versions == 1 {
			idx = "0"
		}
		return "spec.versions[" + idx + "]." + v1 + rest
	}
	return p
}

// crdName names a CRD in messages as Kind/name, before it is decoded.
func crdName(crd map[string]any) string {
	kind, _ := crd["kind"].(string)
	if kind == "" {
		kind = "CustomResourceDefinition"
	}
	meta, _ := crd["metadata"].(map[string]any)
	name, _ := meta["name"].(string)
	if name == "" {
		name = "(unnamed)"
	}
	return kind + "/" + name
}

// Known reports whether a CRD for the group of apiVersion and kind was added,
// whatever its versions; Validate reports a version that is not served.
func (c *CRDs) Known(apiVersion, kind string) bool {
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return false
	}
	_, ok := c.kinds[schema.GroupKind{Group: gv.Group, Kind: kind}]
	return ok
}

// Namespaced reports whether the custom resources of kind in apiVersion's
// group live in a namespace, and whether a CRD for them was added at all.
func (c *CRDs) Namespaced(apiVersion, kind string) (namespaced, known bool) {
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return false, false
	}
	k, ok := c.kinds[schema.GroupKind{Group: gv.Group, Kind: kind}]
	if !ok {
		return false, false
	}
	return k.namespaced, true
}

// Validate checks a custom resource against its CRD, as kube-apiserver with
// strict field validation would on create: unknown fields (what pruning
// drops, including unknown metadata fields), then, after defaulting, schema
// violations, embedded resources and list-type invariants; not
// x-kubernetes-validations rules (see CRDs). ObjectMeta itself (name
// syntax, namespace) is left to the checks common to all objects. obj is
// not modified. The errors are sorted by path.
func (c *CRDs) Validate(obj map[string]any) []FieldError {
	apiVersion, _ := obj["apiVersion"].(string)
	kind, _ := obj["kind"].(string)
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return []FieldError{{Path: "apiVersion", Message: fmt.Sprintf("%q is not a group/version: %v", apiVersion, err)}}
	}
	k, ok := c.kinds[schema.GroupKind{Group: gv.Group, Kind: kind}]
	if !ok {
		return []FieldError{{Path: "kind", Message: fmt.Sprintf("no CustomResourceDefinition defines kind %q in group %q", kind, gv.Group)}}
	}
	served := strings.Join(k.served, ", ")
	if served == "" {
		served = "none"
	}
	v, ok := k.versions[gv.Version]
	switch {
	case !ok:
		return []FieldError{{Path: "apiVersion", Message: fmt.Sprintf("%s has no version %q; served versions: %s", k.name, gv.Version, served)}}
	case !v.served:
		return []FieldError{{Path: "apiVersion", Message: fmt.Sprintf("version %q of %s is not served; served versions: %s", gv.Version, k.name, served)}}
	}

	// Work on a JSON-decoded copy: the server sees int64 and float64, never
	// the caller's YAML types, and pruning and defaulting mutate.
	u, err := normalize(obj)
	if err != nil {
		return []FieldError{{Message: err.Error()}}
	}
	errs, rejected := v.coerce(u, k.name)
	if rejected {
		return sortFieldErrors(errs)
	}
	applyDefaults(u, v.structural)

	var ferrs field.ErrorList
	ferrs = append(ferrs, schemaErrors(nil, v.validator.Validate(u))...)
	ferrs = append(ferrs, objectmeta.Validate(nil, u, v.structural, false)...)
	ferrs = append(ferrs, listtype.ValidateListSetsAndMaps(nil, v.structural, u)...)
	for _, e := range ferrs {
		errs = append(errs, FieldError{Path: fieldPath(e.Field), Message: errorBody(e)})
	}
	return sortFieldErrors(errs)
}

// coerce does what the API server's decoder does to a custom resource before
// defaulting (unstructuredSchemaCoercer.apply), reporting the fields it
// drops. rejected means the server would refuse the object before
// validating it; the reason is among errs.
func (v *crdVersion) coerce(u map[string]any, crd string) (errs []FieldError, rejected bool) {
	unknown := func(paths []string, in string) {
		for _, p := range paths {
			errs = append(errs, FieldError{Path: p, Message: "unknown field (not in " + in + ")"})
		}
	}
	reject := func(path, msg string) ([]FieldError, bool) {
		return append(errs, FieldError{Path: path, Message: msg}), true
	}
	meta, foundMeta, metaUnknown, err := objectmeta.GetObjectMetaWithOptions(u, objectmeta.ObjectMetaOptions{ReturnUnknownFieldPaths: true})
	if err != nil {
		return reject("metadata", "invalid ObjectMeta: "+err.Error())
	}
	unknown(metaUnknown, "ObjectMeta")
	apiVersion, kind := u["apiVersion"], u["kind"]
	unknown(pruning.PruneWithOptions(u, v.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true}), "the schema of "+crd)
	pruneNulls(u, v.structural)
	ferr, embeddedUnknown := objectmeta.CoerceWithOptions(nil, u, v.structural, false, objectmeta.CoerceOptions{ReturnUnknownFieldPaths: true})
	unknown(embeddedUnknown, "ObjectMeta")
	if ferr != nil {
		return reject(fieldPath(ferr.Field), errorBody(ferr))
	}
	u["apiVersion"], u["kind"] = apiVersion, kind
	if foundMeta {
		if err := objectmeta.SetObjectMeta(u, meta); err != nil {
			return reject("metadata", err.Error())
		}
	}
	return errs, false
}

// errorBody is e.ErrorBody() on one line, without the Go structs some
// errors dump as their value (a whole version, a CEL rule).
func errorBody(e *field.Error) string {
	var body string
	switch e.BadValue.(type) {
	case nil, string, bool, int, int32, int64, float32, float64:
		body = e.ErrorBody()
	default:
		body = e.Type.String()
		if e.Detail != "" {
			body += ": " + e.Detail
		}
	}
	// CEL compilation errors draw the expression and a caret on further
	// lines; the first names line and column.
	first, _, _ := strings.Cut(body, "\n")
	return first
}

// fieldPath turns field.Path.String()'s "<nil>" for the root into "".
func fieldPath(p string) string {
	if p == "<nil>" {
		return ""
	}
	return p
}

func sortFieldErrors(errs []FieldError) []FieldError {
	sort.SliceStable(errs, func(i, j int) bool {
		if errs[i].Path != errs[j].Path {
			return errs[i].Path < errs[j].Path
		}
		return errs[i].Message < errs[j].Message
	})
	return errs
}

// normalize deep-copies obj through JSON, so numbers are int64 or float64 as
// the API server decodes them.
func normalize(obj map[string]any) (map[string]any, error) {
	data, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("the object cannot be represented as JSON: %w", err)
	}
	var out map[string]any
	if err := utiljson.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("the object cannot be represented as JSON: %w", err)
	}
	return out, nil
}

// LoadCRDFiles reads the YAML (or JSON) files at paths, and for directories
// every *.yaml and *.yml file below them, and returns the
// CustomResourceDefinitions among their documents, items of a List
// included. Other kinds are skipped.
func LoadCRDFiles(paths []string) ([]map[string]any, error) {
	var crds []map[string]any
	var errs []error
	for _, p := range paths {
		files, err := crdFiles(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, f := range files {
			got, err := readCRDFile(f)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			crds = append(crds, got...)
		}
	}
	return crds, errors.Join(errs...)
}

// crdFiles expands a directory into its YAML files, in lexical order.
func crdFiles(p string) ([]string, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("reading CRDs: %w", err)
	}
	if !fi.IsDir() {
		return []string{p}, nil
	}
	var files []string
	err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		switch strings.ToLower(filepath.Ext(path)) {
		case ".yaml", ".yml":
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading CRDs from %q: %w", p, err)
	}
	return files, nil
}

func readCRDFile(path string) ([]map[string]any, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading CRDs: %w", err)
	}
	defer f.Close()
	var crds []map[string]any
	r := utilyaml.NewYAMLReader(bufio.NewReader(f))
	for doc := 1; ; doc++ {
		data, err := r.Read()
		if errors.Is(err, io.EOF) {
			return crds, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading CRDs from %q: %w", path, err)
		}
		js, err := sigsyaml.YAMLToJSON(data)
		if err != nil {
			return nil, fmt.Errorf("reading CRDs from %q: document %d: %w", path, doc, err)
		}
		var obj map[string]any
		if err := utiljson.Unmarshal(js, &obj); err != nil {
			// A document that is not a mapping is not a Kubernetes object.
			continue
		}
		crds = appendCRDs(crds, obj)
	}
}

func appendCRDs(crds []map[string]any, obj map[string]any) []map[string]any {
	if obj == nil {
		return crds
	}
	apiVersion, _ := obj["apiVersion"].(string)
	kind, _ := obj["kind"].(string)
	gv, _ := schema.ParseGroupVersion(apiVersion)
	switch {
	case kind == "CustomResourceDefinition" && gv.Group == apiextensionsv1.GroupName:
		crds = append(crds, obj)
	case kind == "List" || strings.HasSuffix(kind, "List") && gv.Group == apiextensionsv1.GroupName:
		items, _ := obj["items"].([]any)
		for _, it := range items {
			m, _ := it.(map[string]any)
			crds = appendCRDs(crds, m)
		}
	}
	return crds
}
