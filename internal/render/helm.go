package render

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/releaseutil"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/openapi"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/driftless-dev/driftless/internal/registry"
	"github.com/driftless-dev/driftless/internal/spec"
)

// Media types of a chart pushed to an OCI registry (helm push); the second
// is what Helm 3.0 to 3.7 pushed, which helm still pulls.
const (
	ChartLayerMediaType       = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
	legacyChartLayerMediaType = "application/tar+gzip"
)

// ChartInputs are what a chart is rendered with, besides the chart.
type ChartInputs struct {
	// Registry reaches the registry of an OCI chart.
	Registry registry.Options
	// Image is the pipeline's image pinned by digest, repo@sha256:...,
	// given to the chart through chart.imageValues; none when empty.
	Image string
	// Version is the release version, given through imageValues.tag.
	Version string
	// Origins annotates every object with the template it came from
	// (OriginAnnotation, the file in the repository for a chart
	// directory), as Wrapper.Origins does for an overlay.
	Origins bool
}

// ChartOutput is a chart rendered as `helm template` renders it.
type ChartOutput struct {
	// Chart is the loaded chart.
	Chart *chart.Chart
	// Values are the values the templates saw (.Values), coalesced.
	Values map[string]any
	// Manifests is the multi-document stream `helm template` prints for
	// the same inputs, hooks aside: the CRDs when included, then the
	// manifests in Helm's install order, each after a "# Source:" line.
	Manifests []byte
	// Dropped are the test hooks left out (chart.testHooks: drop).
	Dropped []Hook

	docs []chartDoc
}

// chartDoc is one document of the output and the template it came from.
type chartDoc struct{ template, content string }

// Hook is a chart object annotated helm.sh/hook.
type Hook struct {
	// Object is Kind/name.
	Object string
	// Template is the template that rendered it, as Helm names it
	// (chart/templates/x.yaml).
	Template string
	// Events is the annotation's value: pre-install,pre-upgrade.
	Events string
}

func (h Hook) String() string {
	return fmt.Sprintf("%s (%s): %s: %s", h.Object, h.Template, release.HookAnnotation, h.Events)
}

// HookError refuses a chart with hooks: driftless applies the chart's
// objects itself and has no hook phases to run them in.
type HookError struct {
	Chart string
	Hooks []Hook
	// Tests says whether every hook is a test hook, which
	// chart.testHooks: drop would leave out.
	Tests bool
}

func (e *HookError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "chart %s: %d object(s) are Helm hooks, which driftless does not run (it applies the chart's objects itself, with no hook phases):", e.Chart, len(e.Hooks))
	for _, h := range e.Hooks {
		b.WriteString("\n  " + h.String())
	}
	if e.Tests {
		b.WriteString("\nthey are test hooks: set chart.testHooks: drop to leave them out (smoke-test checks a deployment)")
	} else {
		b.WriteString("\nmake each a regular object (no helm.sh/hook annotation, e.g. behind a value the environment's values file turns off) or a CI step before apply-env; test hooks alone can be left out with chart.testHooks: drop")
	}
	return b.String()
}

// TemplateError is a template that failed to render, at the position Helm
// gives.
type TemplateError struct {
	// Template is the template as Helm names it (chart/templates/x.yaml).
	Template string
	// File is that template in the repository, when the chart is a
	// directory there.
	File      string
	Line, Col int
	Msg       string
}

func (e *TemplateError) Error() string {
	loc := e.Template
	if e.File != "" {
		loc = e.File
	}
	if e.Line > 0 {
		loc += ":" + strconv.Itoa(e.Line)
		if e.Col > 0 {
			loc += ":" + strconv.Itoa(e.Col)
		}
	}
	return fmt.Sprintf("rendering chart: %s: %s", loc, e.Msg)
}

// ValuesError is the chart's values.schema.json refusing the values.
type ValuesError struct {
	Chart    string
	Problems []ValuesProblem
}

// ValuesProblem is one value the schema refuses.
type ValuesProblem struct {
	// Chart is the chart (or subchart) whose schema refuses it.
	Chart string
	// Pointer is the value's JSON pointer in the top chart's values
	// (/image/tag), as the values files write it.
	Pointer string
	Msg     string
}

func (e *ValuesError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "chart %s: the values do not match values.schema.json:", e.Chart)
	for _, p := range e.Problems {
		fmt.Fprintf(&b, "\n  %s: %s", displayPointer(p.Pointer), p.Msg)
	}
	return b.String()
}

func displayPointer(p string) string {
	if p == "" {
		return "(root)"
	}
	return p
}

// ChartName names env's chart in messages: its path or OCI reference.
func ChartName(c *spec.Chart) string {
	if c.OCI != "" {
		return strconv.Quote(c.OCI)
	}
	return strconv.Quote(c.Path)
}

// ReleaseName is the release name a chart is rendered with.
func ReleaseName(p *spec.Pipeline, c *spec.Chart) string {
	if c.Release != "" {
		return c.Release
	}
	return p.Name
}

// LoadChart loads env's chart from its directory or its registry.
func LoadChart(ctx context.Context, p *spec.Pipeline, c *spec.Chart, reg registry.Options) (*chart.Chart, error) {
	var ch *chart.Chart
	var err error
	if c.OCI != "" {
		ch, err = pullChart(ctx, c.OCI, reg)
	} else {
		ch, err = loader.LoadDir(p.Path(c.Path))
	}
	if err != nil {
		return nil, fmt.Errorf("loading chart %s: %w", ChartName(c), err)
	}
	if t := ch.Metadata.Type; t != "" && t != "application" {
		return nil, fmt.Errorf("chart %s is a %s chart, which renders no objects; name an application chart", ChartName(c), t)
	}
	var missing []string
	for _, d := range ch.Metadata.Dependencies {
		if !slices.ContainsFunc(ch.Dependencies(), func(s *chart.Chart) bool { return s.Name() == d.Name }) {
			missing = append(missing, strconv.Quote(d.Name))
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("chart %s: dependencies %s are not in its charts/ directory; run helm dependency build and commit charts/, so every render uses the same dependencies", ChartName(c), strings.Join(missing, ", "))
	}
	return ch, nil
}

// pullChart reads a chart pushed to an OCI registry (helm push), by
// digest: go-containerregistry checks that what it reads has that digest.
func pullChart(ctx context.Context, oci string, reg registry.Options) (*chart.Chart, error) {
	ref, err := name.NewDigest(strings.TrimPrefix(oci, "oci://"), reg.NameOptions()...)
	if err != nil {
		return nil, fmt.Errorf("not pinned by digest (oci://registry/repo/chart@sha256:<64 hex>): %w", err)
	}
	img, err := remote.Image(ref, reg.Remote(ctx)...)
	if err != nil {
		return nil, err
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, err
	}
	var types []string
	for _, l := range m.Layers {
		if l.MediaType != ChartLayerMediaType && l.MediaType != legacyChartLayerMediaType {
			types = append(types, string(l.MediaType))
			continue
		}
		layer, err := img.LayerByDigest(l.Digest)
		if err != nil {
			return nil, err
		}
		rc, err := layer.Compressed()
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		// The archive is read whole before it is used, so a digest
		// mismatch (reported at EOF) stops the render.
		b, err := io.ReadAll(rc)
		if err != nil {
			return nil, err
		}
		return loader.LoadArchive(bytes.NewReader(b))
	}
	return nil, fmt.Errorf("not a Helm chart: no layer of type %s (layers: %s)", ChartLayerMediaType, strings.Join(types, ", "))
}

// ChartValues merges the values an environment gives its chart: the
// values files in order, then chart.set, each over the one before as helm
// -f merges them (maps merge key by key, anything else replaces), then the
// pipeline's image (chart.imageValues).
func ChartValues(p *spec.Pipeline, c *spec.Chart, image, version string) (map[string]any, error) {
	vals := map[string]any{}
	for _, f := range c.Values {
		b, err := os.ReadFile(p.Path(f))
		if err != nil {
			return nil, fmt.Errorf("reading values file %q: %w", f, err)
		}
		cur := map[string]any{}
		if err := sigsyaml.Unmarshal(b, &cur); err != nil {
			return nil, fmt.Errorf("values file %q: %w", f, err)
		}
		vals = MergeValues(vals, cur)
	}
	if len(c.Set) > 0 {
		// As one more values file: through JSON, so numbers are what
		// they would be read from a file.
		b, err := json.Marshal(c.Set)
		if err != nil {
			return nil, fmt.Errorf("chart.set: %w", err)
		}
		cur := map[string]any{}
		if err := json.Unmarshal(b, &cur); err != nil {
			return nil, fmt.Errorf("chart.set: %w", err)
		}
		vals = MergeValues(vals, cur)
	}
	if iv := c.ImageValues; iv != nil && image != "" {
		repo, digest, _ := strings.Cut(image, "@")
		for _, s := range []struct{ path, value string }{{iv.Repository, repo}, {iv.Digest, digest}, {iv.Reference, image}, {iv.Tag, version}} {
			if s.path == "" || s.value == "" {
				continue
			}
			if err := setValue(vals, s.path, s.value); err != nil {
				return nil, fmt.Errorf("chart.imageValues: %w", err)
			}
		}
	}
	return vals, nil
}

// MergeValues merges b over a as helm merges its -f files.
func MergeValues(a, b map[string]any) map[string]any {
	out := make(map[string]any, len(a))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		if vm, ok := v.(map[string]any); ok {
			if am, ok := out[k].(map[string]any); ok {
				out[k] = MergeValues(am, vm)
				continue
			}
		}
		out[k] = v
	}
	return out
}

func setValue(vals map[string]any, dotted, value string) error {
	keys := strings.Split(dotted, ".")
	m := vals
	for i, k := range keys[:len(keys)-1] {
		switch next := m[k].(type) {
		case map[string]any:
			m = next
		case nil:
			n := map[string]any{}
			m[k], m = n, n
		default:
			return fmt.Errorf("%q: %s is a %T in the values, not a mapping", dotted, strings.Join(keys[:i+1], "."), next)
		}
	}
	m[keys[len(keys)-1]] = value
	return nil
}

// Capabilities are what the templates see of the target cluster: the
// spec's kubeVersion, and Kubernetes' own API versions (as helm template
// has them) plus the spec's apiVersions.
func Capabilities(c *spec.Chart) (*chartutil.Capabilities, error) {
	caps := chartutil.DefaultCapabilities.Copy()
	kv, err := chartutil.ParseKubeVersion(c.KubeVersion)
	if err != nil {
		return nil, fmt.Errorf("chart.kubeVersion %q: %w", c.KubeVersion, err)
	}
	caps.KubeVersion = *kv
	caps.APIVersions = append(slices.Clone(caps.APIVersions), c.APIVersions...)
	return caps, nil
}

// RenderChart renders env's chart as `helm template` does for the same
// inputs (release name, namespace, values files, kube and API versions,
// CRDs), in-process, without contacting any cluster. Hooks are refused
// (*HookError) unless they are test hooks and chart.testHooks is drop.
// The values are checked against the chart's values.schema.json first
// (*ValuesError); a template that fails is a *TemplateError.
func RenderChart(ctx context.Context, p *spec.Pipeline, env *spec.Environment, in ChartInputs) (*ChartOutput, error) {
	c := env.Chart
	ch, err := LoadChart(ctx, p, c, in.Registry)
	if err != nil {
		return nil, err
	}
	vals, err := ChartValues(p, c, in.Image, in.Version)
	if err != nil {
		return nil, err
	}
	caps, err := Capabilities(c)
	if err != nil {
		return nil, err
	}
	if kv := ch.Metadata.KubeVersion; kv != "" && !chartutil.IsCompatibleRange(kv, caps.KubeVersion.String()) {
		return nil, fmt.Errorf("chart %s requires kubeVersion %s, which Kubernetes %s (chart.kubeVersion) is not", ChartName(c), kv, caps.KubeVersion.String())
	}
	if err := chartutil.ProcessDependenciesWithMerge(ch, vals); err != nil {
		return nil, fmt.Errorf("chart %s: %w", ChartName(c), err)
	}
	opts := chartutil.ReleaseOptions{Name: ReleaseName(p, c), Namespace: env.Namespace, Revision: 1, IsInstall: true}
	// The schema is checked here, with no loader that reaches the
	// network, rather than by Helm, which would fetch remote $refs.
	top, err := chartutil.ToRenderValuesWithSchemaValidation(ch, vals, opts, caps, true)
	if err != nil {
		return nil, fmt.Errorf("chart %s: %w", ChartName(c), err)
	}
	coalesced := top["Values"].(chartutil.Values).AsMap()
	if problems := ValidateValues(ch, coalesced, ""); len(problems) > 0 {
		return nil, &ValuesError{Chart: ChartName(c), Problems: problems}
	}
	var e engine.Engine
	files, err := e.Render(ch, top)
	if err != nil {
		return nil, templateError(p, c, err)
	}
	for k := range files {
		if strings.HasSuffix(k, "NOTES.txt") {
			delete(files, k)
		}
	}
	hooks, manifests, err := releaseutil.SortManifests(files, caps.APIVersions, releaseutil.InstallOrder)
	if err != nil {
		return nil, fmt.Errorf("chart %s: %w", ChartName(c), err)
	}
	out := &ChartOutput{Chart: ch, Values: coalesced}
	var refused []Hook
	tests := true
	for _, h := range hooks {
		hk := Hook{Object: h.Kind + "/" + h.Name, Template: h.Path, Events: hookEvents(h)}
		test := slices.Contains(h.Events, release.HookTest)
		if test && c.TestHooks == "drop" {
			out.Dropped = append(out.Dropped, hk)
			continue
		}
		tests = tests && test
		refused = append(refused, hk)
	}
	if len(refused) > 0 {
		return nil, &HookError{Chart: ChartName(c), Hooks: refused, Tests: tests}
	}
	var b bytes.Buffer
	if c.IncludeCRDs {
		for _, crd := range ch.CRDObjects() {
			fmt.Fprintf(&b, "---\n# Source: %s\n%s\n", crd.Filename, crd.File.Data)
			out.docs = append(out.docs, chartDoc{crd.Filename, string(crd.File.Data)})
		}
	}
	for _, m := range manifests {
		fmt.Fprintf(&b, "---\n# Source: %s\n%s\n", m.Name, m.Content)
		out.docs = append(out.docs, chartDoc{m.Name, m.Content})
	}
	out.Manifests = b.Bytes()
	return out, nil
}

func hookEvents(h *release.Hook) string {
	ev := make([]string, len(h.Events))
	for i, e := range h.Events {
		ev[i] = string(e)
	}
	return strings.Join(ev, ",")
}

// ValidateValues checks values (coalesced, as the templates see them)
// against ch's values.schema.json and its subcharts', as Helm does, and
// returns one problem per value refused. Remote $refs are not fetched.
func ValidateValues(ch *chart.Chart, values map[string]any, prefix string) []ValuesProblem {
	var out []ValuesProblem
	if ch.Schema != nil {
		out = append(out, validateSchema(ch.Name(), ch.Schema, values, prefix)...)
	}
	for _, sub := range ch.Dependencies() {
		raw, ok := values[sub.Name()]
		if !ok || raw == nil {
			continue
		}
		sv, ok := raw.(map[string]any)
		if !ok {
			out = append(out, ValuesProblem{Chart: sub.Name(), Pointer: prefix + "/" + sub.Name(), Msg: fmt.Sprintf("the values of subchart %s must be a mapping, not a %T", sub.Name(), raw)})
			continue
		}
		out = append(out, ValidateValues(sub, sv, prefix+"/"+escapePointer(sub.Name()))...)
	}
	return out
}

func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

func validateSchema(chartName string, schemaJSON []byte, values map[string]any, prefix string) []ValuesProblem {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schemaJSON))
	if err != nil {
		return []ValuesProblem{{Chart: chartName, Pointer: prefix, Msg: fmt.Sprintf("values.schema.json of chart %s is not JSON: %v", chartName, err)}}
	}
	comp := jsonschema.NewCompiler()
	comp.UseLoader(jsonschema.SchemeURLLoader{}) // no remote or file $refs
	const u = "file:///values.schema.json"
	if err := comp.AddResource(u, doc); err != nil {
		return []ValuesProblem{{Chart: chartName, Pointer: prefix, Msg: fmt.Sprintf("values.schema.json of chart %s: %v", chartName, err)}}
	}
	sch, err := comp.Compile(u)
	if err != nil {
		return []ValuesProblem{{Chart: chartName, Pointer: prefix, Msg: fmt.Sprintf("values.schema.json of chart %s does not compile: %s", chartName, strings.Join(strings.Fields(err.Error()), " "))}}
	}
	// The validator wants JSON's types (numbers as float64 or json.Number).
	b, err := json.Marshal(values)
	if err != nil {
		return []ValuesProblem{{Chart: chartName, Pointer: prefix, Msg: err.Error()}}
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return []ValuesProblem{{Chart: chartName, Pointer: prefix, Msg: err.Error()}}
	}
	err = sch.Validate(inst)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return []ValuesProblem{{Chart: chartName, Pointer: prefix, Msg: err.Error()}}
	}
	var out []ValuesProblem
	for _, l := range leaves(ve.DetailedOutput(), nil) {
		out = append(out, ValuesProblem{Chart: chartName, Pointer: prefix + l.InstanceLocation, Msg: l.Error.String()})
	}
	slices.SortStableFunc(out, func(a, b ValuesProblem) int { return strings.Compare(a.Pointer, b.Pointer) })
	return out
}

func leaves(u *jsonschema.OutputUnit, out []jsonschema.OutputUnit) []jsonschema.OutputUnit {
	if len(u.Errors) == 0 {
		if u.Error != nil {
			out = append(out, *u)
		}
		return out
	}
	for i := range u.Errors {
		out = leaves(&u.Errors[i], out)
	}
	return out
}

// helmPosition is where Go's text/template says a template failed:
// template: chart/templates/x.yaml:12:20: executing ... (the column is
// not always there).
var helmPosition = regexp.MustCompile(`template: ([^:\s]+):(\d+)(?::(\d+))?: (.*)`)

func templateError(p *spec.Pipeline, c *spec.Chart, err error) error {
	msg := strings.Join(strings.Fields(err.Error()), " ")
	sm := helmPosition.FindAllStringSubmatch(msg, -1)
	if len(sm) == 0 {
		return fmt.Errorf("rendering chart %s: %s", ChartName(c), msg)
	}
	// The innermost position is the template that failed; outer ones are
	// the includes that led there.
	last := sm[len(sm)-1]
	te := &TemplateError{Template: last[1], Msg: last[4]}
	te.Line, _ = strconv.Atoi(last[2])
	te.Col, _ = strconv.Atoi(last[3])
	te.File = TemplateFile(p, c, last[1])
	return te
}

// TemplateFile is the file in the repository of a template Helm names
// chart/templates/x.yaml (or chart/charts/sub/templates/x.yaml), when the
// chart is a directory there and the file exists; "" otherwise.
func TemplateFile(p *spec.Pipeline, c *spec.Chart, template string) string {
	if c.Path == "" {
		return ""
	}
	// The first element is the chart's name, not its directory's.
	_, rel, ok := strings.Cut(template, "/")
	if !ok {
		return ""
	}
	f := filepath.Join(p.Path(c.Path), filepath.FromSlash(path.Clean(rel)))
	if _, err := os.Stat(f); err != nil {
		return ""
	}
	return f
}

// chartStream is the chart's output as driftless applies it: every
// document helm template prints (hooks aside), each namespaced object
// given the environment's namespace when the chart sets none, as helm
// install would put it there, and (origins) annotated with the template it
// came from (OriginAnnotation: the file in the repository for a chart
// directory, else the template as Helm names it).
func chartStream(p *spec.Pipeline, env *spec.Environment, out *ChartOutput, origins bool) ([]byte, error) {
	type doc struct {
		node     *kyaml.RNode
		template string
	}
	var docs []doc
	clusterCRDs := map[string]bool{} // group/Kind of cluster-scoped CRDs
	for _, d := range out.docs {
		nodes, err := kio.FromBytes([]byte(d.content))
		if err != nil {
			return nil, fmt.Errorf("%s: the rendered YAML does not parse: %w", d.template, err)
		}
		for _, n := range nodes {
			if n.IsNilOrEmpty() {
				continue
			}
			if n.GetKind() == "CustomResourceDefinition" {
				if scope, _ := n.GetString("spec.scope"); scope == "Cluster" {
					group, _ := n.GetString("spec.group")
					kind, _ := n.GetString("spec.names.kind")
					clusterCRDs[group+"/"+kind] = true
				}
			}
			docs = append(docs, doc{n, d.template})
		}
	}
	wd, _ := os.Getwd()
	var b bytes.Buffer
	for _, d := range docs {
		n := d.node
		if n.GetNamespace() == "" {
			tm := kyaml.TypeMeta{APIVersion: n.GetApiVersion(), Kind: n.GetKind()}
			group, _, _ := strings.Cut(tm.APIVersion, "/")
			if !strings.Contains(tm.APIVersion, "/") {
				group = ""
			}
			if !openapi.IsCertainlyClusterScoped(tm) && !clusterCRDs[group+"/"+tm.Kind] {
				if err := n.SetNamespace(env.Namespace); err != nil {
					return nil, fmt.Errorf("%s: %w", d.template, err)
				}
			}
		}
		if origins {
			file := TemplateFile(p, env.Chart, d.template)
			if file == "" {
				file = d.template
			} else if rel, err := filepath.Rel(wd, file); err == nil && wd != "" {
				file = rel
			}
			// kustomize drops config.kubernetes.io/ annotations it did
			// not make itself: the origin travels under another name.
			if err := n.PipeE(kyaml.SetAnnotation(templateAnnotation, file)); err != nil {
				return nil, fmt.Errorf("%s: %w", d.template, err)
			}
		}
		s, err := n.String()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", d.template, err)
		}
		b.WriteString("---\n")
		b.WriteString(s)
	}
	return b.Bytes(), nil
}

// chartKustomize renders env's chart and reads the output as kustomize
// reads an overlay's resources, in a generated kustomization: the images
// are pinned by the same transformer as an overlay's, and from there on
// the result is treated as an overlay's.
func chartKustomize(ctx context.Context, p *spec.Pipeline, env *spec.Environment, in ChartInputs, w Wrapper) (resmap.ResMap, *ChartOutput, error) {
	out, err := RenderChart(ctx, p, env, in)
	if err != nil {
		return nil, nil, err
	}
	stream, err := chartStream(p, env, out, in.Origins)
	if err != nil {
		return nil, nil, fmt.Errorf("chart %s: %w", ChartName(env.Chart), err)
	}
	tmp, err := os.MkdirTemp("", "driftless-chart-")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(tmp)
	if err := os.WriteFile(filepath.Join(tmp, "chart.yaml"), stream, 0o644); err != nil {
		return nil, nil, err
	}
	if err := os.WriteFile(filepath.Join(tmp, "kustomization.yaml"), []byte("resources: [chart.yaml]\n"), 0o644); err != nil {
		return nil, nil, err
	}
	// The origins are the templates', set above; kustomize's would name
	// the generated file.
	w.Origins, w.Transformations = false, false
	m, err := Kustomize(tmp, w)
	if err != nil {
		var re *Error
		if errors.As(err, &re) {
			err = errors.New(re.Msg)
		}
		return nil, nil, fmt.Errorf("chart %s: reading its output: %w", ChartName(env.Chart), err)
	}
	if in.Origins {
		for _, r := range m.Resources() {
			ann := r.GetAnnotations()
			file, ok := ann[templateAnnotation]
			if !ok {
				continue
			}
			delete(ann, templateAnnotation)
			o, err := kyaml.Marshal(Origin{Path: file})
			if err != nil {
				return nil, nil, err
			}
			ann[OriginAnnotation] = string(o)
			if err := r.SetAnnotations(ann); err != nil {
				return nil, nil, err
			}
		}
	}
	return m, out, nil
}

// templateAnnotation carries an object's template through kustomize.
const templateAnnotation = "render.driftless.dev/template"
