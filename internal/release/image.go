package release

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Action is what a sync does, or did, with one image tag.
type Action string

// Actions on image tags.
const (
	// Created: the tag did not exist and now names the image.
	Created Action = "created"
	// Confirmed: the tag already named the image.
	Confirmed Action = "confirmed"
	// Moved: a floating tag moved forward from an older release.
	Moved Action = "moved"
	// Kept: a floating tag stays at a newer (or the same) release, or at an
	// image whose release is unknown.
	Kept Action = "kept"
)

// TagChange is one image tag and what the sync does with it.
type TagChange struct {
	// Tag is repo:tag.
	Tag name.Tag
	// Floating is minor, major or latest; empty for the version tag.
	Floating string
	Action   Action
	// Digest is what the tag names after the sync.
	Digest v1.Hash
	// Previous is what the tag named before a move.
	Previous v1.Hash
	// Release is the release the tag named before: moved from it, kept at
	// it. Empty when unknown.
	Release string
	// Warning says why a floating tag was kept at an image whose release is
	// unknown.
	Warning string
}

// Written reports whether the tag names the image after the sync.
func (c TagChange) Written() bool { return c.Action != Kept }

// Describe is the action as the summary shows it: created, confirmed,
// moved from v1.2.3, kept at v1.3.0.
func (c TagChange) Describe() string {
	switch {
	case c.Action == Moved && c.Release != "":
		return "moved from " + c.Release
	case c.Action == Moved:
		return "moved from " + c.Previous.String()
	case c.Action == Kept && c.Release != "":
		return "kept at " + c.Release
	case c.Action == Kept:
		return "kept (no " + VersionLabel + " label)"
	}
	return string(c.Action)
}

// Plan is what tagging an image with a version will do. PlanTags makes it
// without changing anything; Apply carries it out.
type Plan struct {
	Image   name.Digest
	Version Version
	// Changes: the version tag first, then the floating tags.
	Changes []TagChange

	desc *remote.Descriptor
}

// PlanTags looks at the registry and decides, for the version tag and each
// floating tag of v, what tagging image does. A version tag that already
// names another digest is a *Refusal: version tags are immutable. Every
// other error means the registry could not be read.
//
// Floating tags only move forward: the release a floating tag names now is
// read from the VersionLabel of the image it names (for an index, the
// index's annotation, else its first image's label); a newer or equal one
// keeps the tag, and so does one without the label (with a warning).
func PlanTags(image name.Digest, v Version, floating []string, opts []remote.Option) (*Plan, error) {
	repo := image.Context()
	desc, err := remote.Get(image, opts...)
	if err != nil {
		if isNotFound(err) {
			return nil, fmt.Errorf("image %s does not exist: tag-sync tags an image already pushed by digest (bake-image's image output): %w", image, err)
		}
		return nil, fmt.Errorf("reading image %s: %w", image, err)
	}
	p := &Plan{Image: image, Version: v, desc: desc}
	want := desc.Digest

	vt := repo.Tag(v.ImageTag())
	cur, err := head(vt, opts)
	if err != nil {
		return nil, err
	}
	switch {
	case cur == nil:
		p.Changes = append(p.Changes, TagChange{Tag: vt, Action: Created, Digest: want})
	case *cur == want:
		p.Changes = append(p.Changes, TagChange{Tag: vt, Action: Confirmed, Digest: want})
	default:
		return nil, refusef("image tag %s already names %s, not %s: version tags are immutable, so nothing was tagged (floating tags neither); deploy %s@%s if that is release %s, or release this image under a new version", vt, *cur, want, repo, *cur, v)
	}

	fl, err := v.FloatingTags(floating)
	if err != nil {
		return nil, err
	}
	for _, f := range fl {
		c, err := planFloating(repo.Tag(f.Tag), f.Kind, v, want, opts)
		if err != nil {
			return nil, err
		}
		p.Changes = append(p.Changes, c)
	}
	return p, nil
}

func planFloating(t name.Tag, kind string, v Version, want v1.Hash, opts []remote.Option) (TagChange, error) {
	c := TagChange{Tag: t, Floating: kind, Digest: want}
	cur, err := remote.Get(t, opts...)
	switch {
	case isNotFound(err):
		c.Action = Created
		return c, nil
	case err != nil:
		return c, fmt.Errorf("reading image tag %s: %w", t, err)
	case cur.Digest == want:
		c.Action = Confirmed
		return c, nil
	}
	c.Previous = cur.Digest
	label, err := releaseOf(t.Context(), cur, opts)
	if err != nil {
		return c, fmt.Errorf("reading the release image tag %s names (%s): %w", t, cur.Digest, err)
	}
	old, ok := ParseLabel(label, v.prefix)
	switch {
	case !ok:
		c.Action, c.Digest = Kept, cur.Digest
		what := "has no " + VersionLabel + " label"
		if label != "" {
			what = fmt.Sprintf("has the %s label %q, which is not a release version", VersionLabel, label)
		}
		c.Warning = fmt.Sprintf("image tag %s was not moved to %s: the image it names (%s) %s, so it cannot be told whether %s is newer; move it by hand if it should be", t, v, cur.Digest, what, v)
	case old.Compare(v) >= 0:
		c.Action, c.Digest, c.Release = Kept, cur.Digest, old.Tag
	default:
		c.Action, c.Release = Moved, old.Tag
	}
	return c, nil
}

// releaseOf reads VersionLabel from an image's config, or an index's
// annotations, else from the config of the index's first image.
func releaseOf(repo name.Repository, d *remote.Descriptor, opts []remote.Option) (string, error) {
	if d.MediaType.IsIndex() {
		var idx v1.IndexManifest
		if err := json.Unmarshal(d.Manifest, &idx); err != nil {
			return "", fmt.Errorf("decoding index manifest: %w", err)
		}
		if l := idx.Annotations[VersionLabel]; l != "" {
			return l, nil
		}
		if len(idx.Manifests) == 0 {
			return "", nil
		}
		child, err := remote.Get(repo.Digest(idx.Manifests[0].Digest.String()), opts...)
		if err != nil {
			return "", err
		}
		if child.MediaType.IsIndex() {
			return releaseOf(repo, child, opts)
		}
		d = child
	}
	if !d.MediaType.IsImage() {
		return "", nil
	}
	img, err := d.Image()
	if err != nil {
		return "", err
	}
	// Only the config blob is read, never a layer.
	cf, err := img.ConfigFile()
	if err != nil {
		return "", err
	}
	return cf.Config.Labels[VersionLabel], nil
}

// head returns the digest tag names, nil when the tag does not exist.
func head(t name.Tag, opts []remote.Option) (*v1.Hash, error) {
	d, err := remote.Head(t, opts...)
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading image tag %s: %w", t, err)
	}
	return &d.Digest, nil
}

func isNotFound(err error) bool {
	var te *transport.Error
	return errors.As(err, &te) && te.StatusCode == http.StatusNotFound
}

// Apply writes the plan: the image's manifest, as fetched, under each tag
// that is created or moved, the version tag first. Nothing but manifests is
// written; the registry already holds every blob they name.
func (p *Plan) Apply(opts []remote.Option) error {
	for _, c := range p.Changes {
		if c.Action != Created && c.Action != Moved {
			continue
		}
		if err := remote.Tag(c.Tag, p.desc, opts...); err != nil {
			return fmt.Errorf("tagging %s as %s: %w", p.Image, c.Tag, err)
		}
	}
	return nil
}

// Tags returns the image tags that name the image after Apply: written or
// confirmed.
func (p *Plan) Tags() []string {
	var out []string
	for _, c := range p.Changes {
		if c.Written() {
			out = append(out, c.Tag.TagStr())
		}
	}
	return out
}
