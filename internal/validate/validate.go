package validate

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/scheme"

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
		m, kfile, bad := renderEnv(p, env)
		if bad != nil {
			r.Findings = append(r.Findings, bad...)
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
	// One worker: the locator that finds patches is not safe for
	// concurrent use, and an environment has few objects.
	run := c.start(1, false)
	run.each(len(objs), func(w *checker, i int) { w.checkObject(objs[i]) })
	for _, o := range objs {
		run.hold(o)
	}
	run.finish()
}

// checkObject runs every check that needs only o and the CRDs: its schema,
// metadata and namespace and its own policies, and records what the
// policies across objects need of it. While a run is under way, an object
// that may be a custom resource waits for it to finish (see hold), as
// does a CRD: the CRDs among the objects are not known yet.
func (c *checker) checkObject(o *object) {
	if c.run != nil && !c.run.finishing {
		c.representable(o)
		if o.broken {
			return
		}
		if isCRD(o) || !builtin(o) {
			o.waits = true
			return
		}
	}
	c.decode(o)
	c.namespace(o)
	w := c.objectPolicies(o)
	if c.run != nil && c.run.slim {
		c.slim(o, w)
	}
}

func isCRD(o *object) bool {
	return o.kind == "CustomResourceDefinition" && strings.HasPrefix(o.apiVersion, "apiextensions.k8s.io/")
}

// builtin reports whether o is checked without knowing any CRD: a kind of
// Kubernetes' own, or an object without apiVersion or kind.
func builtin(o *object) bool {
	if o.apiVersion == "" || o.kind == "" {
		return true
	}
	gvk := schema.FromAPIVersionAndKind(o.apiVersion, o.kind)
	return gvk.GroupKind() == apiServiceKind && gvk.Version == "v1" || scheme.Scheme.Recognizes(gvk)
}

// slim drops what the checks across objects do not need of o once its
// own are done: its content, typed value and YAML, but the positions of
// the fields those checks report at.
func (c *checker) slim(o *object, w *workload) {
	o.src.keep(o.policyPaths(w)...)
	o.content, o.typed = nil, nil
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

// namespace reports a namespaced object that has no namespace: apply-env
// refuses it, as the API server gives it nowhere to put it.
func (c *checker) namespace(o *object) {
	if o.namespace != "" || o.kind == "" {
		return
	}
	gk := schema.FromAPIVersionAndKind(o.apiVersion, o.kind).GroupKind()
	namespaced, known := builtinScopes()[gk]
	if !known {
		namespaced, known = c.crds.Namespaced(o.apiVersion, o.kind)
	}
	if !known || !namespaced {
		return
	}
	if c.env == nil {
		c.policy(o, Error, "", "namespaced %s without a namespace: apply-env refuses it; set namespace: in the overlay that renders it", o.kind)
		return
	}
	c.policy(o, Error, "", "namespaced %s without a namespace, and the overlay sets none: apply-env refuses it; set namespace: %s (environment %q's namespace in the spec) in %s", o.kind, c.env.namespace, c.env.name, c.env.kustomization)
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
