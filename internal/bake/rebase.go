package bake

import (
	"fmt"
	"maps"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// BaseCheck compares the base an image was baked on with the base's
// current digest.
type BaseCheck struct {
	// Current is the image (or index) that was checked.
	Current *remote.Descriptor
	// BaseName is the base as it was named at bake time (a tag).
	BaseName string
	// Recorded is the base digest recorded in the image.
	Recorded string
	// Latest is the digest BaseName points at now.
	Latest string
}

// Changed reports whether the base has moved since the image was baked.
func (c *BaseCheck) Changed() bool { return c.Recorded != c.Latest }

// CheckBase reads the base recorded in the image at current and resolves
// that base's name again.
func CheckBase(current name.Reference, ropts []remote.Option, nopts ...name.Option) (*BaseCheck, error) {
	desc, err := remote.Get(current, ropts...)
	if err != nil {
		return nil, fmt.Errorf("reading the current image %s: %w", current, err)
	}
	var ann map[string]string
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", current, err)
		}
		im, err := idx.IndexManifest()
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", current, err)
		}
		ann = im.Annotations
	} else {
		img, err := desc.Image()
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", current, err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, fmt.Errorf("reading the config of %s: %w", current, err)
		}
		ann = cf.Config.Labels
	}
	c := &BaseCheck{Current: desc, BaseName: ann[KeyBaseName], Recorded: ann[KeyBaseDigest]}
	switch {
	case c.BaseName == "":
		return nil, fmt.Errorf("image %s records no base (%s): it was not baked by bake-image; bake it without --if-base-changed", current, KeyBaseName)
	case c.BaseName == Scratch:
		c.Latest = c.Recorded // scratch never changes
		return c, nil
	}
	baseRef, err := name.ParseReference(c.BaseName, nopts...)
	if err != nil {
		return nil, fmt.Errorf("image %s records base %q, which is not a reference: %w", current, c.BaseName, err)
	}
	latest, err := remote.Head(baseRef, ropts...)
	if err != nil {
		return nil, fmt.Errorf("resolving base %s: %w", baseRef, err)
	}
	c.Latest = latest.Digest.String()
	return c, nil
}

// Rebase moves the current image's own layers, byte for byte, from the
// recorded base onto the latest one, and records the new base digest.
func Rebase(c *BaseCheck, ropts []remote.Option, nopts ...name.Option) (*Result, error) {
	ref, err := name.ParseReference(c.BaseName, nopts...)
	if err != nil {
		return nil, err
	}
	oldDesc, err := remote.Get(ref.Context().Digest(c.Recorded), ropts...)
	if err != nil {
		return nil, fmt.Errorf("reading the old base %s@%s (it must still be in the registry to rebase): %w", ref.Context(), c.Recorded, err)
	}
	newDesc, err := remote.Get(ref.Context().Digest(c.Latest), ropts...)
	if err != nil {
		return nil, fmt.Errorf("reading the new base %s@%s: %w", ref.Context(), c.Latest, err)
	}
	if !c.Current.MediaType.IsIndex() {
		cur, oldB, newB, err := images(c.Current, oldDesc, newDesc)
		if err != nil {
			return nil, err
		}
		img, err := rebaseImage(cur, oldB, newB, c)
		if err != nil {
			return nil, err
		}
		return imageResult(img, c.BaseName, c.Latest)
	}
	cur, err := c.Current.ImageIndex()
	if err != nil {
		return nil, err
	}
	oldIdx, err := oldDesc.ImageIndex()
	if err != nil {
		return nil, fmt.Errorf("the old base %s is not an index like the image: %w", c.BaseName, err)
	}
	newIdx, err := newDesc.ImageIndex()
	if err != nil {
		return nil, fmt.Errorf("the new base %s is not an index like the image: %w", c.BaseName, err)
	}
	im, err := cur.IndexManifest()
	if err != nil {
		return nil, err
	}
	out := mutate.IndexMediaType(empty.Index, im.MediaType)
	var platforms []string
	for _, d := range im.Manifests {
		p := d.Platform
		if p == nil {
			continue
		}
		curImg, err := cur.Image(d.Digest)
		if err != nil {
			return nil, err
		}
		oldB, err := platformImage(oldIdx, *p)
		if err != nil {
			return nil, fmt.Errorf("old base %s: %w", c.BaseName, err)
		}
		newB, err := platformImage(newIdx, *p)
		if err != nil {
			return nil, fmt.Errorf("new base %s: %w", c.BaseName, err)
		}
		img, err := rebaseImage(curImg, oldB, newB, c)
		if err != nil {
			return nil, fmt.Errorf("platform %s: %w", p, err)
		}
		out = mutate.AppendManifests(out, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: p}})
		platforms = append(platforms, p.String())
	}
	ann := maps.Clone(im.Annotations)
	ann[KeyBaseDigest] = c.Latest
	out = mutate.Annotations(out, ann).(v1.ImageIndex)
	d, err := out.Digest()
	if err != nil {
		return nil, err
	}
	return &Result{Index: out, Digest: d, BaseName: c.BaseName, BaseDigest: c.Latest, Platforms: platforms}, nil
}

func images(descs ...*remote.Descriptor) (cur, oldB, newB v1.Image, err error) {
	var out [3]v1.Image
	for i, d := range descs {
		if out[i], err = d.Image(); err != nil {
			return nil, nil, nil, err
		}
	}
	return out[0], out[1], out[2], nil
}

func platformImage(idx v1.ImageIndex, p v1.Platform) (v1.Image, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	for _, d := range im.Manifests {
		if d.Platform != nil && d.Platform.Equals(p) {
			return idx.Image(d.Digest)
		}
	}
	return nil, fmt.Errorf("no image for platform %s", p)
}

// rebaseImage is mutate.Rebase plus what it drops: the manifest and config
// media types, the creation time, and the manifest annotations, with the
// new base digest recorded.
func rebaseImage(cur, oldB, newB v1.Image, c *BaseCheck) (v1.Image, error) {
	img, err := mutate.Rebase(cur, oldB, newB)
	if err != nil {
		return nil, fmt.Errorf("rebasing: %w", err)
	}
	m, err := cur.Manifest()
	if err != nil {
		return nil, err
	}
	cf, err := cur.ConfigFile()
	if err != nil {
		return nil, err
	}
	img = mutate.MediaType(img, m.MediaType)
	img = mutate.ConfigMediaType(img, m.Config.MediaType)
	rcf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	rcf = rcf.DeepCopy()
	rcf.Created = cf.Created
	rcf.Config.Labels = maps.Clone(cf.Config.Labels)
	rcf.Config.Labels[KeyBaseDigest] = c.Latest
	if img, err = mutate.ConfigFile(img, rcf); err != nil {
		return nil, err
	}
	ann := maps.Clone(m.Annotations)
	if ann == nil {
		ann = map[string]string{}
	}
	ann[KeyBaseDigest] = c.Latest
	return mutate.Annotations(img, ann).(v1.Image), nil
}
