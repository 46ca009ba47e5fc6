package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// kubernetesOpenAPI returns the path of the OpenAPI v2 document of the
// Kubernetes release the local control plane runs: api/openapi-spec/
// swagger.json of the k8s.io/kubernetes module tools/cluster pins, from
// the Go module cache (go mod download fills it through the module proxy,
// as building kube-apiserver does).
func kubernetesOpenAPI(root string) (path, version string, err error) {
	cmd := exec.Command("go", "mod", "download", "-json", "k8s.io/kubernetes")
	cmd.Dir = filepath.Join(root, "tools", "cluster")
	cmd.Env = append(os.Environ(), "GOWORK=off")
	out, err := cmd.Output()
	if err != nil {
		return "", "", fmt.Errorf("locating k8s.io/kubernetes (tools/cluster/go.mod) in the module cache: %w", err)
	}
	var m struct{ Dir, Version string }
	if err := json.Unmarshal(out, &m); err != nil {
		return "", "", fmt.Errorf("go mod download -json k8s.io/kubernetes: %w", err)
	}
	return filepath.Join(m.Dir, "api", "openapi-spec", "swagger.json"), m.Version, nil
}

// writeSchemas writes a JSON Schema for every kind in the OpenAPI v2
// document at openAPI into dir, in the layout and form kubeconform reads
// from its default schema repository (openapi2jsonschema --kubernetes
// --expanded --stand-alone --strict): <kind>-<group>-<version>.json, the
// group cut at its first dot and left out for the core group; every $ref
// inlined; IntOrString a string or an integer, Quantity a string or a
// number; kind and apiVersion enums; objects with properties closed
// (additionalProperties: false); the kind's optional fields nullable. It
// returns how many files it wrote. Kinds whose schema refers to itself
// (CustomResourceDefinition's JSONSchemaProps) cannot be inlined and are
// left out, as openapi2jsonschema leaves them out.
func writeSchemas(openAPI, dir string) (int, error) {
	data, err := os.ReadFile(openAPI)
	if err != nil {
		return 0, err
	}
	var doc struct {
		Definitions map[string]map[string]any `json:"definitions"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return 0, fmt.Errorf("%s: %w", openAPI, err)
	}
	defs := doc.Definitions
	defs["io.k8s.apimachinery.pkg.util.intstr.IntOrString"] = map[string]any{"oneOf": []any{map[string]any{"type": "string"}, map[string]any{"type": "integer"}}}
	defs["io.k8s.apimachinery.pkg.api.resource.Quantity"] = map[string]any{"oneOf": []any{map[string]any{"type": "string"}, map[string]any{"type": "number"}}}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	written := 0
	for name, def := range defs {
		gvks, _ := def["x-kubernetes-group-version-kind"].([]any)
		if len(gvks) != 1 || strings.HasPrefix(name, "io.k8s.apimachinery.") {
			continue // meta types (DeleteOptions, WatchEvent) no manifest is
		}
		gvk, _ := gvks[0].(map[string]any)
		group, _ := gvk["group"].(string)
		version, _ := gvk["version"].(string)
		kind, _ := gvk["kind"].(string)
		schema, err := inline(defs, def, map[string]bool{name: true})
		if err != nil {
			continue // recursive
		}
		s := schema.(map[string]any)
		apiVersion, file := version, strings.ToLower(kind)
		if group != "" {
			apiVersion = group + "/" + version
			file += "-" + strings.ToLower(strings.SplitN(group, ".", 2)[0])
		}
		file += "-" + strings.ToLower(version) + ".json"
		props, _ := s["properties"].(map[string]any)
		if p, ok := props["kind"].(map[string]any); ok {
			p["enum"] = []any{kind}
		}
		if p, ok := props["apiVersion"].(map[string]any); ok {
			p["enum"] = []any{apiVersion}
		}
		closeObjects(s)
		nullableOptional(def, s)
		out, err := json.Marshal(s)
		if err != nil {
			return written, err
		}
		if err := os.WriteFile(filepath.Join(dir, file), out, 0o644); err != nil {
			return written, err
		}
		written++
	}
	return written, nil
}

// inline returns a deep copy of v with every #/definitions/ reference
// replaced by the definition, itself inlined.
func inline(defs map[string]map[string]any, v any, path map[string]bool) (any, error) {
	switch t := v.(type) {
	case map[string]any:
		if ref, ok := t["$ref"].(string); ok {
			name := strings.TrimPrefix(ref, "#/definitions/")
			if path[name] {
				return nil, fmt.Errorf("%s refers to itself", name)
			}
			def, ok := defs[name]
			if !ok {
				return nil, fmt.Errorf("no definition %s", name)
			}
			path[name] = true
			defer delete(path, name)
			return inline(defs, def, path)
		}
		out := make(map[string]any, len(t))
		for k, x := range t {
			if strings.HasPrefix(k, "x-kubernetes-") || k == "description" {
				continue
			}
			y, err := inline(defs, x, path)
			if err != nil {
				return nil, err
			}
			out[k] = y
		}
		return out, nil
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			y, err := inline(defs, x, path)
			if err != nil {
				return nil, err
			}
			out[i] = y
		}
		return out, nil
	}
	return v, nil
}

// closeObjects refuses properties a schema does not list: kubeconform's
// -strict schemas.
func closeObjects(v any) {
	switch t := v.(type) {
	case map[string]any:
		if _, ok := t["properties"]; ok {
			if _, set := t["additionalProperties"]; !set {
				t["additionalProperties"] = false
			}
		}
		for _, x := range t {
			closeObjects(x)
		}
	case []any:
		for _, x := range t {
			closeObjects(x)
		}
	}
}

// nullableOptional lets the kind's own optional fields of a plain type be
// null, as openapi2jsonschema does: those the definition gives a type,
// not a $ref (apiVersion and kind), and does not require.
func nullableOptional(def, s map[string]any) {
	raw, _ := def["properties"].(map[string]any)
	props, _ := s["properties"].(map[string]any)
	required := map[string]bool{}
	for _, r := range asSlice(def["required"]) {
		if name, ok := r.(string); ok {
			required[name] = true
		}
	}
	for name, p := range raw {
		pm, _ := p.(map[string]any)
		typ, ok := pm["type"].(string)
		if !ok || typ == "null" || required[name] {
			continue
		}
		if out, ok := props[name].(map[string]any); ok {
			out["type"] = []any{typ, "null"}
		}
	}
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}
