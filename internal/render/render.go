package render

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/driftless-dev/driftless/internal/meta"

	"github.com/google/go-containerregistry/pkg/name"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/api/resource"
	"sigs.k8s.io/kustomize/api/types"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/driftless-dev/driftless/internal/imageref"
	"github.com/driftless-dev/driftless/internal/registry"
	"github.com/driftless-dev/driftless/internal/spec"
)

// Options are what a render pins and records.
type Options struct {
	// Registry reaches the registry of an environment's OCI chart.
	Registry registry.Options
	// Image is the pipeline's image pinned by digest, repo@sha256:...
	Image string
	// Version, GitSHA and ConfigRevision are recorded on every object.
	Version        string
	GitSHA         string
	ConfigRevision string
}

// Result is one rendered environment.
type Result struct {
	Env string
	// Namespace is the environment's namespace.
	Namespace string
	// YAML is the rendered multi-document stream, byte-for-byte what is
	// written to OUT/<env>.yaml.
	YAML []byte
	// SHA256 is the hex digest of YAML.
	SHA256 string
	// Objects are the rendered objects, in output order.
	Objects []Object
	// Dropped are the chart's test hooks left out (chart.testHooks:
	// drop), for the step to say so.
	Dropped []Hook
}

// Object is a rendered object's identity and content.
type Object struct {
	APIVersion, Kind, Namespace, Name string
	Content                           map[string]any
}

// ID is Kind/namespace/name, or Kind/name for cluster-scoped objects.
func (o Object) ID() string {
	if o.Namespace == "" {
		return o.Kind + "/" + o.Name
	}
	return o.Kind + "/" + o.Namespace + "/" + o.Name
}

// ImageProblem is one container image that would float.
type ImageProblem struct {
	Object    string
	Container string
	Image     string
	Reason    string
}

// FloatingImagesError refuses an environment whose images are not pinned.
type FloatingImagesError struct {
	Env      string
	Problems []ImageProblem
}

func (e *FloatingImagesError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "environment %q not written: %d image(s) would float", e.Env, len(e.Problems))
	for _, p := range e.Problems {
		fmt.Fprintf(&b, "\n  %s container %q: %q %s", p.Object, p.Container, p.Image, p.Reason)
	}
	return b.String()
}

// Environment renders env's overlay or chart with the pipeline's image
// pinned and traceability metadata added. It returns *FloatingImagesError
// when any image would float.
func Environment(p *spec.Pipeline, env *spec.Environment, opts Options) (*Result, error) {
	return EnvironmentContext(context.Background(), p, env, opts)
}

// EnvironmentContext is Environment with a context for pulling an OCI
// chart.
func EnvironmentContext(ctx context.Context, p *spec.Pipeline, env *spec.Environment, opts Options) (*Result, error) {
	var images []types.Image
	pinnedRepo, digest := "", ""
	if opts.Image != "" {
		d, err := name.NewDigest(opts.Image)
		if err != nil {
			return nil, fmt.Errorf("image %q is not pinned by digest: want repo@sha256:<64 hex>, as bake-image outputs: %w", opts.Image, err)
		}
		pinnedRepo, digest = opts.Image[:strings.LastIndex(opts.Image, "@")], d.DigestStr()
		// Both the name the manifests use and the full repository are
		// pinned, so either spelling in an overlay resolves to the digest.
		// So is the repository pinned to: a chart given it through
		// imageValues (with a tag, say) renders that name.
		for _, n := range uniq(append(PipelineRepos(p), pinnedRepo)...) {
			images = append(images, types.Image{Name: n, NewName: pinnedRepo, Digest: digest})
		}
	}
	m, dropped, err := Source(ctx, p, env, Wrapper{Images: images}, ChartInputs{Registry: opts.Registry, Image: opts.Image, Version: opts.Version})
	if err != nil {
		return nil, err
	}
	if err := addTraceability(m, opts, uniq(append(PipelineRepos(p), pinnedRepo)...)); err != nil {
		return nil, fmt.Errorf("environment %q: adding traceability metadata: %w", env.Name, err)
	}
	objs, err := objects(m)
	if err != nil {
		return nil, fmt.Errorf("environment %q: %w", env.Name, err)
	}
	pipelineRepos := uniq(append(PipelineRepos(p), pinnedRepo)...)
	// What is pinned and recorded must be what runs: an image.name that
	// matches no container would leave the real image unpinned while
	// every object claims the digest.
	if err := CheckPipelineImage(env.Name, objs, pipelineRepos, digest); err != nil {
		return nil, err
	}
	var problems []ImageProblem
	for _, o := range objs {
		for _, c := range Containers(o.Content) {
			if reason := Floating(c.Image, pipelineRepos); reason != "" {
				problems = append(problems, ImageProblem{Object: o.ID(), Container: c.Name, Image: c.Image, Reason: reason})
			}
		}
	}
	if len(problems) > 0 {
		return nil, &FloatingImagesError{Env: env.Name, Problems: problems}
	}
	y, err := m.AsYaml()
	if err != nil {
		return nil, fmt.Errorf("environment %q: serialising: %w", env.Name, err)
	}
	sum := sha256.Sum256(y)
	return &Result{Env: env.Name, Namespace: env.Namespace, YAML: y, SHA256: hex.EncodeToString(sum[:]), Objects: objs, Dropped: dropped}, nil
}

// Source renders env's overlay with kustomize, or its chart with Helm and
// then kustomize around the output, with w's additions either way. It
// returns the chart's test hooks left out, if any.
func Source(ctx context.Context, p *spec.Pipeline, env *spec.Environment, w Wrapper, in ChartInputs) (resmap.ResMap, []Hook, error) {
	if env.Chart == nil {
		m, err := Kustomize(p.Path(env.Overlay), w)
		return m, nil, err
	}
	in.Origins = in.Origins || w.Origins
	m, out, err := chartKustomize(ctx, p, env, in, w)
	if err != nil {
		return nil, nil, fmt.Errorf("environment %q: %w", env.Name, err)
	}
	return m, out.Dropped, nil
}

// Write writes the result to dir/<env>.yaml and returns the path.
func (r *Result) Write(dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("writing environment %q: %w", r.Env, err)
	}
	path := filepath.Join(dir, r.Env+".yaml")
	if err := os.WriteFile(path, r.YAML, 0o644); err != nil {
		return "", fmt.Errorf("writing environment %q: %w", r.Env, err)
	}
	return path, nil
}

func uniq(ss ...string) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range ss {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

var digestRE = regexp.MustCompile(`^sha256:[a-f0-9]{64}$`)

// Floating says why an image reference is not reproducible, or "".
func Floating(image string, pipelineRepos []string) string {
	repo, tag, digest := imageref.Split(image)
	for _, r := range pipelineRepos {
		if repo == r && !digestRE.MatchString(digest) {
			return "is the pipeline's image without a digest; pass --image repo@sha256:... (bake-image's output)"
		}
	}
	switch {
	case digest != "":
		if !digestRE.MatchString(digest) {
			return "has a malformed digest"
		}
		return ""
	case tag == "":
		return "has no tag (it would pull latest); pin a version tag or a digest"
	case tag == "latest":
		return "uses the tag latest; pin a version tag or a digest"
	}
	return ""
}

// Container is a container found in a rendered object.
type Container = imageref.Container

// Containers finds every container, init container and ephemeral container
// anywhere in an object.
func Containers(obj map[string]any) []Container { return imageref.Containers(obj) }

// podTemplatePaths are where workloads keep the metadata of their pods.
var podTemplatePaths = map[string][]string{
	"Deployment":  {"spec", "template", "metadata"},
	"StatefulSet": {"spec", "template", "metadata"},
	"DaemonSet":   {"spec", "template", "metadata"},
	"ReplicaSet":  {"spec", "template", "metadata"},
	"Job":         {"spec", "template", "metadata"},
	"CronJob":     {"spec", "jobTemplate", "spec", "template", "metadata"},
}

var labelValue = regexp.MustCompile(`[^A-Za-z0-9._-]`)

// addTraceability records version, Git sha, config revision and image on
// every object, and on the pod templates of the workloads that run the
// pipeline's image (one of repos), so that their pods say what they are.
// Other workloads' templates are left as written: a new release must not
// restart a Redis singleton (Recreate, with downtime) whose pods did not
// change. Selectors are never touched: they are immutable.
func addTraceability(m resmap.ResMap, o Options, repos []string) error {
	ann := map[string]string{}
	if o.Version != "" {
		ann[meta.AnnotationVersion] = o.Version
	}
	if o.GitSHA != "" {
		ann[meta.AnnotationGitSHA] = o.GitSHA
	}
	if o.ConfigRevision != "" {
		ann[meta.AnnotationConfigRevision] = o.ConfigRevision
	}
	if o.Image != "" {
		ann[meta.AnnotationImage] = o.Image
	}
	labels := map[string]string{}
	if o.Version != "" {
		// Label values allow [A-Za-z0-9._-] and 63 characters; semver
		// build metadata ("+build.5") does not fit and is replaced.
		v := strings.Trim(labelValue.ReplaceAllString(o.Version, "_"), "._-")
		if len(v) > 63 {
			v = strings.Trim(v[:63], "._-")
		}
		labels[meta.LabelVersion] = v
	}
	if len(ann) == 0 && len(labels) == 0 {
		return nil
	}
	for _, r := range m.Resources() {
		if err := setMeta(r.RNode.YNode(), []string{"metadata"}, labels, ann); err != nil {
			return fmt.Errorf("%s: %w", resID(r), err)
		}
		if path, ok := podTemplatePaths[r.GetKind()]; ok {
			content, err := r.Map()
			if err != nil {
				return fmt.Errorf("%s: %w", resID(r), err)
			}
			if !imageref.AnyRuns([]map[string]any{content}, repos) {
				continue
			}
			if err := setMeta(r.RNode.YNode(), path, labels, ann); err != nil {
				return fmt.Errorf("%s: %w", resID(r), err)
			}
		}
	}
	return nil
}

func setMeta(root *kyaml.Node, path []string, labels, ann map[string]string) error {
	meta, err := kyaml.NewRNode(root).Pipe(kyaml.LookupCreate(kyaml.MappingNode, path...))
	if err != nil {
		return err
	}
	for _, f := range []struct {
		field string
		kv    map[string]string
	}{{"labels", labels}, {"annotations", ann}} {
		if len(f.kv) == 0 {
			continue
		}
		node, err := meta.Pipe(kyaml.LookupCreate(kyaml.MappingNode, f.field))
		if err != nil {
			return err
		}
		for _, k := range slices.Sorted(maps.Keys(f.kv)) {
			if err := node.PipeE(kyaml.SetField(k, kyaml.NewStringRNode(f.kv[k]))); err != nil {
				return err
			}
		}
	}
	return nil
}

func resID(r *resource.Resource) string {
	o := Object{Kind: r.GetKind(), Namespace: r.GetNamespace(), Name: r.GetName()}
	return o.ID()
}

func objects(m resmap.ResMap) ([]Object, error) {
	var out []Object
	var errs []error
	for _, r := range m.Resources() {
		c, err := r.Map()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", resID(r), err))
			continue
		}
		out = append(out, Object{APIVersion: r.GetApiVersion(), Kind: r.GetKind(), Namespace: r.GetNamespace(), Name: r.GetName(), Content: c})
	}
	return out, errors.Join(errs...)
}
