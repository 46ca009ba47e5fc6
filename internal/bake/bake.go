package bake

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/driftless-dev/driftless/internal/repofs"
)

// OCI annotation and label keys driftless writes.
const (
	KeyCreated    = "org.opencontainers.image.created"
	KeyRevision   = "org.opencontainers.image.revision"
	KeySource     = "org.opencontainers.image.source"
	KeyVersion    = "org.opencontainers.image.version"
	KeyBaseName   = "org.opencontainers.image.base.name"
	KeyBaseDigest = "org.opencontainers.image.base.digest"
	// KeyConfigRevision is the revision hash of the static configuration,
	// as the service computes it at start.
	KeyConfigRevision = "dev.driftless.config-revision"
	// EnvConfigRevision carries the same hash in the image's environment.
	EnvConfigRevision = "DRIFTLESS_CONFIG_REVISION"
	// Scratch is the base name for an image with no base.
	Scratch = "scratch"
)

// Spec is everything a bake depends on. The same Spec gives the same
// digest, byte for byte.
type Spec struct {
	// Root is the repository every layer's and the static configuration's
	// files must come from (repofs.FindRoot of the spec's directory):
	// driftless.yaml is edited in pull requests, and must not be able to
	// bake the runner's files into an image. Required.
	Root *repofs.Root
	// Base is a tag, a digest or "scratch".
	Base string
	// Layers are added in order, one layer each; the static
	// configuration, if any, comes last in a layer of its own so that a
	// configuration change changes only that layer.
	Layers []File
	// Static is the static configuration directory, or nil.
	Static *File
	// ConfigRevision is the hash of Static (configrev.Dir).
	ConfigRevision string

	Entrypoint []string
	Cmd        []string
	Env        map[string]string
	Labels     map[string]string
	User       string

	// Created is the image's creation time, from SOURCE_DATE_EPOCH or the
	// commit time, never the clock.
	Created  time.Time
	Revision string
	Source   string
	Version  string

	// Platforms limits a multi-platform base to these (os/arch[/variant]);
	// all when empty.
	Platforms []string
}

// Result is a baked image or index, not yet written anywhere.
type Result struct {
	// Image is set for a single-platform bake, Index for a multi-platform one.
	Image v1.Image
	Index v1.ImageIndex
	// Digest of the manifest (or index).
	Digest v1.Hash
	// BaseName and BaseDigest identify the base actually used.
	BaseName   string
	BaseDigest string
	// Platforms baked, for a multi-platform bake.
	Platforms []string
}

// Taggable returns what to write: the image or the index.
func (r *Result) Taggable() remote.Taggable {
	if r.Index != nil {
		return r.Index
	}
	return r.Image
}

// Bake builds the image described by s on its base, reading the base with
// the given remote options.
//
// Every file is read through s.Root's rules (internal/repofs), and the
// reads stop once ctx ends.
func Bake(ctx context.Context, s Spec, ropts []remote.Option, nopts ...name.Option) (*Result, error) {
	if s.Root == nil {
		return nil, errors.New("no repository root to confine the image's files to (Spec.Root)")
	}
	if s.Base == Scratch || s.Base == "" {
		base := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
		base = mutate.ConfigMediaType(base, types.OCIConfigJSON)
		img, err := bakeOne(ctx, s, base, "", Scratch, "", types.OCILayer)
		if err != nil {
			return nil, err
		}
		return imageResult(img, Scratch, "")
	}
	ref, err := name.ParseReference(s.Base, nopts...)
	if err != nil {
		return nil, fmt.Errorf("base %q is not an image reference: %w", s.Base, err)
	}
	desc, err := remote.Get(ref, ropts...)
	if err != nil {
		return nil, fmt.Errorf("reading base %s: %w", ref, err)
	}
	baseName, baseDigest := ref.String(), desc.Digest.String()
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err != nil {
			return nil, fmt.Errorf("reading base index %s: %w", ref, err)
		}
		return bakeIndex(ctx, s, idx, baseName, baseDigest, desc.MediaType)
	}
	base, err := desc.Image()
	if err != nil {
		return nil, fmt.Errorf("reading base image %s: %w", ref, err)
	}
	img, err := bakeOne(ctx, s, base, "", baseName, baseDigest, layerMediaType(desc.MediaType))
	if err != nil {
		return nil, err
	}
	return imageResult(img, baseName, baseDigest)
}

func imageResult(img v1.Image, baseName, baseDigest string) (*Result, error) {
	d, err := img.Digest()
	if err != nil {
		return nil, fmt.Errorf("computing the image digest: %w", err)
	}
	return &Result{Image: img, Digest: d, BaseName: baseName, BaseDigest: baseDigest}, nil
}

// layerMediaType keeps layers in the base's family (Docker or OCI): some
// registries and runtimes refuse manifests that mix them.
func layerMediaType(manifest types.MediaType) types.MediaType {
	if manifest == types.DockerManifestSchema2 {
		return types.DockerLayer
	}
	return types.OCILayer
}

func bakeIndex(ctx context.Context, s Spec, idx v1.ImageIndex, baseName, baseDigest string, mt types.MediaType) (*Result, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("reading base index %s: %w", baseName, err)
	}
	out := mutate.IndexMediaType(empty.Index, mt)
	var platforms []string
	for _, d := range im.Manifests {
		// Attestations and other non-runnable entries (unknown/unknown)
		// describe the base's images, not ours: they are dropped.
		if d.Platform == nil || d.Platform.OS == "unknown" || !d.MediaType.IsImage() {
			continue
		}
		p := d.Platform.String()
		if len(s.Platforms) > 0 && !slices.Contains(s.Platforms, p) {
			continue
		}
		base, err := idx.Image(d.Digest)
		if err != nil {
			return nil, fmt.Errorf("reading base %s for %s: %w", baseName, p, err)
		}
		img, err := bakeOne(ctx, s, base, p, baseName, baseDigest, layerMediaType(d.MediaType))
		if err != nil {
			return nil, fmt.Errorf("platform %s: %w", p, err)
		}
		out = mutate.AppendManifests(out, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: d.Platform}})
		platforms = append(platforms, p)
	}
	if len(platforms) == 0 {
		return nil, fmt.Errorf("base %s has none of the platforms %v", baseName, s.Platforms)
	}
	out = mutate.Annotations(out, annotations(s, baseName, baseDigest)).(v1.ImageIndex)
	d, err := out.Digest()
	if err != nil {
		return nil, fmt.Errorf("computing the index digest: %w", err)
	}
	return &Result{Index: out, Digest: d, BaseName: baseName, BaseDigest: baseDigest, Platforms: platforms}, nil
}

func annotations(s Spec, baseName, baseDigest string) map[string]string {
	a := map[string]string{
		KeyCreated:  s.Created.UTC().Format(time.RFC3339),
		KeyBaseName: baseName,
	}
	if baseDigest != "" {
		a[KeyBaseDigest] = baseDigest
	}
	for k, v := range map[string]string{KeyRevision: s.Revision, KeySource: s.Source, KeyVersion: s.Version, KeyConfigRevision: s.ConfigRevision} {
		if v != "" {
			a[k] = v
		}
	}
	return a
}

// expand substitutes ${TARGETOS}, ${TARGETARCH} and ${TARGETVARIANT} in a
// layer source, so each platform of a multi-platform bake gets its own
// binaries (the names Docker's build arguments use).
func expand(src, platform string) string {
	if platform == "" {
		platform = "linux/amd64"
	}
	parts := strings.SplitN(platform, "/", 3)
	os, arch, variant := parts[0], "", ""
	if len(parts) > 1 {
		arch = parts[1]
	}
	if len(parts) > 2 {
		variant = parts[2]
	}
	return strings.NewReplacer("${TARGETOS}", os, "${TARGETARCH}", arch, "${TARGETVARIANT}", variant).Replace(src)
}

func bakeOne(ctx context.Context, s Spec, base v1.Image, platform, baseName, baseDigest string, lmt types.MediaType) (v1.Image, error) {
	type source struct {
		File
		links repofs.Links
	}
	files := make([]source, 0, len(s.Layers)+1)
	for _, l := range s.Layers {
		l.Source = expand(l.Source, platform)
		files = append(files, source{l, repofs.KeepLinks})
	}
	if s.Static != nil {
		// The revision hash covers regular files only; a link would be
		// baked but not hashed.
		files = append(files, source{*s.Static, repofs.RefuseLinks})
	}
	var adds []mutate.Addendum
	for _, f := range files {
		l, err := newLayer(ctx, s.Root, f.File, f.links, s.Created, lmt)
		if err != nil {
			return nil, fmt.Errorf("layer %s: %w", f.Target, err)
		}
		adds = append(adds, mutate.Addendum{
			Layer:     l,
			MediaType: lmt,
			History:   v1.History{Created: v1.Time{Time: s.Created}, CreatedBy: "driftless bake-image: " + f.Target, Comment: "driftless"},
		})
	}
	img, err := mutate.Append(base, adds...)
	if err != nil {
		return nil, fmt.Errorf("adding layers: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading the base config: %w", err)
	}
	cf = cf.DeepCopy()
	cf.Created = v1.Time{Time: s.Created}
	if len(s.Entrypoint) > 0 {
		cf.Config.Entrypoint = s.Entrypoint
		cf.Config.Cmd = nil // as in a Dockerfile: a new ENTRYPOINT resets CMD
	}
	if len(s.Cmd) > 0 {
		cf.Config.Cmd = s.Cmd
	}
	if s.User != "" {
		cf.Config.User = s.User
	}
	env := map[string]string{}
	var order []string
	for _, kv := range cf.Config.Env {
		k, v, _ := strings.Cut(kv, "=")
		if _, ok := env[k]; !ok {
			order = append(order, k)
		}
		env[k] = v
	}
	extra := maps.Clone(s.Env)
	if extra == nil {
		extra = map[string]string{}
	}
	if s.ConfigRevision != "" {
		extra[EnvConfigRevision] = s.ConfigRevision
	}
	for _, k := range slices.Sorted(maps.Keys(extra)) {
		if _, ok := env[k]; !ok {
			order = append(order, k)
		}
		env[k] = extra[k]
	}
	cf.Config.Env = nil
	for _, k := range order {
		cf.Config.Env = append(cf.Config.Env, k+"="+env[k])
	}
	if cf.Config.Labels == nil {
		cf.Config.Labels = map[string]string{}
	}
	for k, v := range s.Labels {
		cf.Config.Labels[k] = v
	}
	for k, v := range annotations(s, baseName, baseDigest) {
		cf.Config.Labels[k] = v
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("writing the image config: %w", err)
	}
	return mutate.Annotations(img, annotations(s, baseName, baseDigest)).(v1.Image), nil
}

// Labels returns the config labels of a baked image, or of the first image
// of a baked index.
func (r *Result) Labels() (map[string]string, error) {
	img := r.Image
	if r.Index != nil {
		im, err := r.Index.IndexManifest()
		if err != nil {
			return nil, err
		}
		if len(im.Manifests) == 0 {
			return nil, errors.New("empty index")
		}
		if img, err = r.Index.Image(im.Manifests[0].Digest); err != nil {
			return nil, err
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	return cf.Config.Labels, nil
}
