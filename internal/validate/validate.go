package validate

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/driftless-dev/driftless/internal/render"
	"github.com/driftless-dev/driftless/internal/spec"
)

// Report is the outcome of a validation.
type Report struct {
	Findings []Finding
	// Objects is how many rendered objects were checked.
	Objects int
}

// Count returns the number of findings of a severity.
func (r *Report) Count(s Severity) int {
	n := 0
	for _, f := range r.Findings {
		if f.Severity == s {
			n++
		}
	}
	return n
}

// Pipeline validates the static configuration and the named environments
// of p (all when envs is empty).
func Pipeline(p *spec.Pipeline, envs []string) (*Report, error) {
	selected, err := selectEnvs(p, envs)
	if err != nil {
		return nil, err
	}
	r := &Report{Findings: Static(p)}
	c := &checker{crds: NewCRDs(), singletons: p.Validation.Singletons, pipelineRef: render.PipelineRepos(p)}
	r.Findings = append(r.Findings, c.loadSpecCRDs(p)...)
	loc := newLocator()
	c.loc = loc
	for _, env := range selected {
		kfile := kustomizationFile(p.Path(env.Overlay))
		m, err := render.Kustomize(p.Path(env.Overlay), render.Wrapper{Origins: true, Transformations: true})
		if err != nil {
			f := Finding{File: kfile, Severity: Error, Env: env.Name, Message: err.Error()}
			var re *render.Error
			if errors.As(err, &re) {
				f.File, f.Line, f.Message = re.File, re.Line, re.Msg
			}
			r.Findings = append(r.Findings, f)
			continue
		}
		var objs []*object
		for _, res := range m.Resources() {
			content, err := res.Map()
			if err != nil {
				r.Findings = append(r.Findings, Finding{File: kfile, Severity: Error, Env: env.Name, Message: fmt.Sprintf("%s/%s: %v", res.GetKind(), res.GetName(), err)})
				continue
			}
			origin, _ := render.ParseOrigin(res.GetAnnotations())
			transformations, _ := render.ParseTransformations(res.GetAnnotations())
			stripOrigin(content)
			o := newObject(env.Name, content)
			o.transformations = transformations
			o.src = loc.find(origin, o.kind, o.name)
			if o.src.file == "" {
				o.src.file = kfile
			}
			objs = append(objs, o)
		}
		c.env = &envContext{name: env.Name, namespace: env.Namespace, kustomization: kfile}
		c.check(objs)
		r.Findings = append(r.Findings, pipelineImage(p, env, objs)...)
		r.Objects += len(objs)
	}
	r.Findings = append(r.Findings, c.findings...)
	r.Findings = dedupe(r.Findings)
	Sort(r.Findings)
	return r, nil
}

// Manifests validates already rendered files (kustomize-render's output,
// or any multi-document YAML). p may be nil; it supplies the pipeline's
// image name, singletons and CRD files.
func Manifests(p *spec.Pipeline, files []string) (*Report, error) {
	c := &checker{crds: NewCRDs()}
	r := &Report{}
	if p != nil {
		c.singletons, c.pipelineRef = p.Validation.Singletons, render.PipelineRepos(p)
		r.Findings = append(r.Findings, c.loadSpecCRDs(p)...)
	}
	var objs []*object
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("reading manifests: %w", err)
		}
		dec := yaml.NewDecoder(strings.NewReader(string(b)))
		for {
			var doc yaml.Node
			err := dec.Decode(&doc)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				r.Findings = append(r.Findings, Finding{File: f, Severity: Error, Message: "invalid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")})
				break
			}
			if len(doc.Content) == 0 {
				continue
			}
			root := doc.Content[0]
			if root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" {
				continue // an empty document, as after a trailing ---
			}
			var content map[string]any
			if root.Kind != yaml.MappingNode {
				r.Findings = append(r.Findings, Finding{File: f, Line: root.Line, Col: root.Column, Severity: Error, Message: "not a Kubernetes object (a YAML mapping)"})
				continue
			}
			if path, key := complexKey(root, ""); key != nil {
				r.Findings = append(r.Findings, Finding{File: f, Line: key.Line, Col: key.Column, Severity: Error, Message: fmt.Sprintf("%s: a key is a %s, not a string: Kubernetes objects are JSON, whose keys are strings", orRoot(path), nodeKind(key))})
				continue
			}
			if err := root.Decode(&content); err != nil {
				r.Findings = append(r.Findings, Finding{File: f, Line: root.Line, Col: root.Column, Severity: Error, Message: "cannot be read as a Kubernetes object: " + strings.TrimPrefix(err.Error(), "yaml: ")})
				continue
			}
			o := newObject("", normalizeYAML(content).(map[string]any))
			o.src = source{file: f, node: root}
			objs = append(objs, o)
		}
	}
	c.check(objs)
	r.Objects = len(objs)
	r.Findings = append(r.Findings, c.findings...)
	Sort(r.Findings)
	return r, nil
}

// normalizeYAML turns yaml.v3's decoded values into JSON's (map keys are
// strings already; ints stay numbers).
func normalizeYAML(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			t[k] = normalizeYAML(x)
		}
	case []any:
		for i, x := range t {
			t[i] = normalizeYAML(x)
		}
	}
	return v
}

func newObject(env string, content map[string]any) *object {
	o := &object{env: env, content: content}
	o.apiVersion, _ = content["apiVersion"].(string)
	o.kind, _ = content["kind"].(string)
	o.name, _ = lookup(content, "metadata", "name").(string)
	o.namespace, _ = lookup(content, "metadata", "namespace").(string)
	return o
}

// check runs every object check over one environment's objects.
func (c *checker) check(objs []*object) {
	var ok []*object
	for _, o := range objs {
		c.representable(o)
		if !o.broken {
			ok = append(ok, o)
		}
	}
	for _, o := range ok {
		if o.kind == "CustomResourceDefinition" && strings.HasPrefix(o.apiVersion, "apiextensions.k8s.io/") {
			c.addCRD(o)
		}
	}
	for _, o := range ok {
		c.decode(o)
	}
	c.namespaces(ok)
	c.policies(ok)
}

// addCRD makes a CRD's kind known, or remembers that it is invalid so its
// custom resources can say so.
func (c *checker) addCRD(o *object) {
	group, _ := lookup(o.content, "spec", "group").(string)
	kind, _ := lookup(o.content, "spec", "names", "kind").(string)
	gk := schema.GroupKind{Group: group, Kind: kind}
	err := c.crds.Add(o.content)
	if err == nil {
		delete(c.invalidCRDs, gk)
		return
	}
	c.add(o, Error, "", "invalid CustomResourceDefinition: %v", err)
	if kind == "" {
		return
	}
	if c.invalidCRDs == nil {
		c.invalidCRDs = map[schema.GroupKind]invalidCRD{}
	}
	line, _ := o.src.position("")
	c.invalidCRDs[gk] = invalidCRD{name: "CustomResourceDefinition " + o.name, at: fmt.Sprintf("%s:%d", o.src.file, line)}
}

// namespaces reports namespaced objects that have no namespace: apply-env
// refuses them, as the API server gives it nowhere to put them.
func (c *checker) namespaces(objs []*object) {
	for _, o := range objs {
		if o.namespace != "" || o.kind == "" {
			continue
		}
		gk := schema.FromAPIVersionAndKind(o.apiVersion, o.kind).GroupKind()
		namespaced, known := builtinScopes()[gk]
		if !known {
			namespaced, known = c.crds.Namespaced(o.apiVersion, o.kind)
		}
		if !known || !namespaced {
			continue
		}
		if c.env == nil {
			c.policy(o, Error, "", "namespaced %s without a namespace: apply-env refuses it; set namespace: in the overlay that renders it", o.kind)
			continue
		}
		c.policy(o, Error, "", "namespaced %s without a namespace, and the overlay sets none: apply-env refuses it; set namespace: %s (environment %q's namespace in the spec) in %s", o.kind, c.env.namespace, c.env.name, c.env.kustomization)
	}
}

func (c *checker) loadSpecCRDs(p *spec.Pipeline) []Finding {
	var out []Finding
	for i, path := range p.Validation.CRDs {
		line, col := p.Position(fmt.Sprintf("validation.crds[%d]", i))
		crds, err := LoadCRDFiles([]string{p.Path(path)})
		if err != nil {
			out = append(out, Finding{File: p.File, Line: line, Col: col, Severity: Error, Message: fmt.Sprintf("loading CRDs from %q: %v", path, err)})
			continue
		}
		for _, crd := range crds {
			if err := c.crds.Add(crd); err != nil {
				out = append(out, Finding{File: p.File, Line: line, Col: col, Severity: Error, Message: fmt.Sprintf("CRD in %q: %v", path, err)})
			}
		}
	}
	return out
}

func selectEnvs(p *spec.Pipeline, names []string) ([]*spec.Environment, error) {
	if len(names) == 0 {
		out := make([]*spec.Environment, len(p.Environments))
		for i := range p.Environments {
			out[i] = &p.Environments[i]
		}
		return out, nil
	}
	var out []*spec.Environment
	for _, n := range names {
		e, err := p.Environment(n)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

func kustomizationFile(dir string) string {
	for _, n := range spec.KustomizationFileNames {
		if _, err := os.Stat(filepath.Join(dir, n)); err == nil {
			return filepath.Join(dir, n)
		}
	}
	return filepath.Join(dir, "kustomization.yaml")
}

func stripOrigin(content map[string]any) {
	meta, _ := content["metadata"].(map[string]any)
	ann, _ := meta["annotations"].(map[string]any)
	delete(ann, render.OriginAnnotation)
	delete(ann, render.TransformationsAnnotation)
	if ann != nil && len(ann) == 0 {
		delete(meta, "annotations")
	}
}

// dedupe merges findings that several environments share (a mistake in a
// base shows in every overlay) into one that names them all.
func dedupe(fs []Finding) []Finding {
	type key struct {
		file      string
		line, col int
		sev       Severity
		msg       string
	}
	idx := map[key]int{}
	var out []Finding
	for _, f := range fs {
		k := key{f.File, f.Line, f.Col, f.Severity, f.Message}
		if i, ok := idx[k]; ok && f.Env != "" {
			if !strings.Contains(", "+out[i].Env+",", ", "+f.Env+",") {
				out[i].Env += ", " + f.Env
			}
			continue
		}
		idx[k] = len(out)
		out = append(out, f)
	}
	return out
}

// complexKey finds a mapping key that is itself a sequence or a mapping,
// which no Go map (and no JSON object) can hold.
func complexKey(n *yaml.Node, path string) (string, *yaml.Node) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode && k.Kind != yaml.AliasNode {
				return path, k
			}
			if p, bad := complexKey(v, joinPath(path, k.Value)); bad != nil {
				return p, bad
			}
		}
	case yaml.SequenceNode:
		for i, item := range n.Content {
			if p, bad := complexKey(item, fmt.Sprintf("%s[%d]", path, i)); bad != nil {
				return p, bad
			}
		}
	}
	return "", nil
}

func nodeKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "sequence"
	case yaml.MappingNode:
		return "mapping"
	}
	return "non-scalar"
}

// pipelineImage reports an environment in which no container runs the
// pipeline's image: kustomize-render would pin nothing and refuse it. The
// finding points at the spec's image.name (or image.repository), the line
// to change when the manifests call the image otherwise.
func pipelineImage(p *spec.Pipeline, env *spec.Environment, objs []*object) []Finding {
	var robjs []render.Object
	for _, o := range objs {
		if !o.broken {
			robjs = append(robjs, render.Object{APIVersion: o.apiVersion, Kind: o.kind, Namespace: o.namespace, Name: o.name, Content: o.content})
		}
	}
	repos := render.PipelineRepos(p)
	var ue *render.ImageUseError
	if !errors.As(render.CheckPipelineImage(env.Name, robjs, repos, ""), &ue) {
		return nil
	}
	field := "image.name"
	if p.Image.Name == "" {
		field = "image.repository"
	}
	f := Finding{File: p.File, Severity: Error, Env: env.Name, Policy: true}
	f.Line, f.Col = p.Position(field)
	names := quoteList(repos)
	switch s := ue.Suggest(); {
	case len(ue.Found) == 0:
		f.Message = fmt.Sprintf("no container runs the pipeline's image (%s): the overlay has no containers at all, and an environment must run the image it deploys", names)
	case s != "":
		f.Message = fmt.Sprintf("no container runs the pipeline's image (%s); the containers run %s; set %s: %s, the name the manifests use, so kustomize-render pins it", names, quoteList(ue.Found), "image.name", s)
	default:
		f.Message = fmt.Sprintf("no container runs the pipeline's image (%s); the containers run %s; set image.name to the name the manifests give the service's image", names, quoteList(ue.Found))
	}
	return []Finding{f}
}

func quoteList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}
