package spec

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
)

// SchemaID is the $id of the published JSON Schema.
const SchemaID = "https://raw.githubusercontent.com/driftless-dev/driftless/main/schema/pipeline.v1alpha1.json"

// durationPattern is what time.ParseDuration accepts, minus the sign.
const durationPattern = `^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`

// Schema returns the JSON Schema (draft 2020-12) of driftless.yaml,
// generated from the same Go types the decoder uses, so editors complete
// and check exactly what the steps accept.
func Schema() []byte {
	s := typeSchema(reflect.TypeOf(Pipeline{}))
	s["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	s["$id"] = SchemaID
	s["title"] = "driftless pipeline spec (" + APIVersion + ")"
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		panic(err) // the schema is built from static types
	}
	return append(b, '\n')
}

type obj = map[string]any

func typeSchema(t reflect.Type) obj {
	if t == durationType {
		return obj{"type": "string", "pattern": durationPattern}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return typeSchema(t.Elem())
	case reflect.Struct:
		props := obj{}
		var required []string
		var groups []string
		oneOf := map[string][]any{}
		for _, f := range fieldsOf(t) {
			if g := f.sf.Tag.Get("oneOf"); g != "" {
				if _, seen := oneOf[g]; !seen {
					groups = append(groups, g)
				}
				oneOf[g] = append(oneOf[g], obj{"required": []string{f.name}})
			}
			fs := typeSchema(f.sf.Type)
			tag := f.sf.Tag
			if d := tag.Get("doc"); d != "" {
				fs["description"] = d
			}
			if len(f.enum) > 0 {
				if f.sf.Type.Kind() == reflect.Slice {
					fs["items"] = obj{"type": "string", "enum": f.enum}
				} else {
					fs["enum"] = f.enum
				}
			}
			if p := tag.Get("pattern"); p != "" {
				fs["pattern"] = p
			}
			for _, k := range []string{"minimum", "maximum", "minItems"} {
				if v := tag.Get(k); v != "" {
					n, _ := strconv.Atoi(v)
					fs[k] = n
				}
			}
			if d := tag.Get("default"); d != "" {
				fs["default"] = defaultValue(f.sf.Type, d)
			}
			props[f.name] = fs
			if f.required {
				required = append(required, f.name)
			}
		}
		s := obj{"type": "object", "properties": props, "additionalProperties": false}
		if len(required) > 0 {
			s["required"] = required
		}
		switch len(groups) {
		case 0:
		case 1:
			s["oneOf"] = oneOf[groups[0]]
		default:
			var all []any
			for _, g := range groups {
				all = append(all, obj{"oneOf": oneOf[g]})
			}
			s["allOf"] = all
		}
		return s
	case reflect.Slice:
		return obj{"type": "array", "items": typeSchema(t.Elem())}
	case reflect.Map:
		return obj{"type": "object", "additionalProperties": typeSchema(t.Elem())}
	case reflect.String:
		return obj{"type": "string"}
	case reflect.Int:
		return obj{"type": "integer"}
	case reflect.Bool:
		return obj{"type": "boolean"}
	case reflect.Interface:
		return obj{} // any value
	}
	panic("spec: no schema for " + t.String())
}

func defaultValue(t reflect.Type, d string) any {
	switch t.Kind() {
	case reflect.Int:
		n, _ := strconv.Atoi(d)
		return n
	case reflect.Slice:
		return strings.Split(d, ",")
	}
	return d
}
