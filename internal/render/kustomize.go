package render

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"sigs.k8s.io/kustomize/api/konfig"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"
)

// OriginAnnotation is where kustomize records which file an object came
// from when buildMetadata includes originAnnotations.
const OriginAnnotation = "config.kubernetes.io/origin"

// TransformationsAnnotation is where kustomize records, when buildMetadata
// includes transformerAnnotations, a list of the kustomizations whose
// transformers (patches, images, replicas, ...) ran over an object, in the
// order they ran.
const TransformationsAnnotation = "alpha.config.kubernetes.io/transformations"

// Wrapper is what driftless adds around a user's overlay. The overlay is
// rendered as the only resource of a generated kustomization, so the user's
// files are never modified and the additions are done by kustomize itself.
type Wrapper struct {
	// Images are kustomize images entries (the pipeline's image pinned).
	Images []types.Image
	// Origins asks kustomize to annotate every object with the file it came
	// from (validate-config uses this to point findings at source lines).
	Origins bool
	// Transformations asks kustomize to annotate every object with the
	// kustomizations whose transformers ran over it
	// (TransformationsAnnotation), so a finding about a field a patch
	// wrote can point at the patch.
	Transformations bool
}

// Kustomize renders the overlay in dir. Paths in origin annotations are
// rewritten to be relative to the working directory.
func Kustomize(dir string, w Wrapper) (resmap.ResMap, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("rendering %q: %w", dir, err)
	}
	tmp, err := os.MkdirTemp("", "driftless-render-")
	if err != nil {
		return nil, fmt.Errorf("rendering %q: %w", dir, err)
	}
	defer os.RemoveAll(tmp)
	rel, err := filepath.Rel(tmp, abs)
	if err != nil {
		return nil, fmt.Errorf("rendering %q: %w", dir, err)
	}
	// Sort order and build metadata are honoured only in the top
	// kustomization, which the wrapper now is: inherit the overlay's.
	top, err := readKustomization(abs)
	if err != nil {
		return nil, fmt.Errorf("rendering overlay %q: %w", dir, err)
	}
	if len(top.OpenAPI) > 0 {
		return nil, fmt.Errorf("rendering overlay %q: its kustomization sets openapi, which driftless cannot apply from a wrapper yet; move openapi into a base the overlay includes", dir)
	}
	k := types.Kustomization{
		TypeMeta:      types.TypeMeta{APIVersion: types.KustomizationVersion, Kind: types.KustomizationKind},
		Resources:     []string{filepath.ToSlash(rel)},
		Images:        w.Images,
		SortOptions:   top.SortOptions,
		BuildMetadata: top.BuildMetadata,
	}
	if w.Origins && !slices.Contains(k.BuildMetadata, types.OriginAnnotations) {
		k.BuildMetadata = append(slices.Clone(k.BuildMetadata), types.OriginAnnotations)
	}
	if w.Transformations && !slices.Contains(k.BuildMetadata, types.TransformerAnnotations) {
		k.BuildMetadata = append(slices.Clone(k.BuildMetadata), types.TransformerAnnotations)
	}
	b, err := kyaml.Marshal(k)
	if err != nil {
		return nil, fmt.Errorf("rendering %q: %w", dir, err)
	}
	if err := os.WriteFile(filepath.Join(tmp, "kustomization.yaml"), b, 0o644); err != nil {
		return nil, fmt.Errorf("rendering %q: %w", dir, err)
	}
	opts := krusty.MakeDefaultOptions()
	// What `kustomize build` and `kubectl kustomize` do: legacy order
	// unless the kustomization says otherwise.
	opts.Reorder = krusty.ReorderOptionUnspecified
	m, err := krusty.MakeKustomizer(opts).Run(filesys.MakeFsOnDisk(), tmp)
	if err != nil {
		return nil, kustomizeError(err, tmp, abs, filepath.ToSlash(rel), dir)
	}
	if w.Origins || w.Transformations {
		if err := rebaseOrigins(m, tmp); err != nil {
			return nil, fmt.Errorf("rendering overlay %q: %w", dir, err)
		}
	}
	return m, nil
}

// readKustomization reads the fields of the overlay's kustomization that
// only take effect at the top. A file kustomize cannot read is left for
// kustomize to report.
func readKustomization(dir string) (types.Kustomization, error) {
	var k types.Kustomization
	for _, n := range konfig.RecognizedKustomizationFileNames() {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return k, err
		}
		_ = kyaml.Unmarshal(b, &k)
		return k, nil
	}
	return k, nil
}

// Origin is where kustomize says an object came from.
type Origin struct {
	// Path is the resource file, relative to the working directory.
	Path string `json:"path,omitempty" yaml:"path,omitempty"`
	// ConfiguredIn is the kustomization that generated the object (a
	// generator), relative to the working directory.
	ConfiguredIn string `json:"configuredIn,omitempty" yaml:"configuredIn,omitempty"`
	// ConfiguredBy is the generator's kind (ConfigMapGenerator, ...).
	ConfiguredBy struct {
		Kind string `json:"kind,omitempty" yaml:"kind,omitempty"`
		Name string `json:"name,omitempty" yaml:"name,omitempty"`
	} `json:"configuredBy,omitempty" yaml:"configuredBy,omitempty"`
}

// File is the file to point at: the resource file, else the kustomization
// that generated it.
func (o Origin) File() string {
	if o.Path != "" {
		return o.Path
	}
	return o.ConfiguredIn
}

// ParseTransformations reads an object's transformations annotation.
func ParseTransformations(annotations map[string]string) ([]Origin, bool) {
	raw, ok := annotations[TransformationsAnnotation]
	if !ok {
		return nil, false
	}
	var ts []Origin
	if err := kyaml.Unmarshal([]byte(raw), &ts); err != nil {
		return nil, false
	}
	return ts, true
}

// ParseOrigin reads an object's origin annotation.
func ParseOrigin(annotations map[string]string) (Origin, bool) {
	raw, ok := annotations[OriginAnnotation]
	if !ok {
		return Origin{}, false
	}
	var o Origin
	if err := kyaml.Unmarshal([]byte(raw), &o); err != nil {
		return Origin{}, false
	}
	return o, true
}

func rebaseOrigins(m resmap.ResMap, tmp string) error {
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	rebase := func(p string) string {
		if p == "" || strings.Contains(p, "://") {
			return p
		}
		abs := filepath.Clean(filepath.Join(tmp, p))
		if r, err := filepath.Rel(wd, abs); err == nil {
			return r
		}
		return abs
	}
	for _, r := range m.Resources() {
		ann := r.GetAnnotations()
		changed := false
		if o, ok := ParseOrigin(ann); ok {
			o.Path, o.ConfiguredIn = rebase(o.Path), rebase(o.ConfiguredIn)
			b, err := kyaml.Marshal(o)
			if err != nil {
				return err
			}
			ann[OriginAnnotation], changed = string(b), true
		}
		if ts, ok := ParseTransformations(ann); ok {
			for i := range ts {
				ts[i].Path, ts[i].ConfiguredIn = rebase(ts[i].Path), rebase(ts[i].ConfiguredIn)
			}
			b, err := kyaml.Marshal(ts)
			if err != nil {
				return err
			}
			ann[TransformationsAnnotation], changed = string(b), true
		}
		if !changed {
			continue
		}
		if err := r.SetAnnotations(ann); err != nil {
			return err
		}
	}
	return nil
}
