package bake

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Push writes the result to repo by digest, uploading only the blobs the
// registry lacks (go-containerregistry checks each blob and mounts base
// layers across repositories of the same registry). It returns false
// without uploading anything when the manifest is already there. The
// manifest goes last, so the registry never holds a manifest whose blobs
// are missing, and no tag is written here at all.
//
// Retries are ropts' (registry.Options.Remote), and so is the context that
// ends them. Blobs are uploaded one by one, up to jobs at a time, so that a
// blob that cannot be uploaded is named, with its repository, in the error;
// the manifest write that follows finds them all done.
func Push(r *Result, repo name.Repository, ropts []remote.Option) (bool, error) {
	ref := repo.Digest(r.Digest.String())
	if _, err := remote.Head(ref, ropts...); err == nil {
		return false, nil
	} else if !isNotFound(err) {
		return false, fmt.Errorf("checking for %s: %w", ref, err)
	}
	pusher, err := remote.NewPusher(ropts...)
	if err != nil {
		return false, err
	}
	ropts = append(slices.Clip(ropts), remote.Reuse(pusher))
	if err := uploadBlobs(r, repo, ropts); err != nil {
		return false, fmt.Errorf("pushing %s: %w", ref, err)
	}
	if r.Index != nil {
		err = remote.WriteIndex(ref, r.Index, ropts...)
	} else {
		err = remote.Write(ref, r.Image, ropts...)
	}
	if err != nil {
		return false, fmt.Errorf("pushing %s: %w", ref, err)
	}
	return true, nil
}

// jobs is how many blobs are uploaded at once, registry.Options.Jobs' default.
const jobs = 4

// uploadBlobs uploads every blob of the result (layers and configs of every
// image) that repo lacks, and returns an error naming each blob that could
// not be; blobs that failed alike (no access, say) share one line.
func uploadBlobs(r *Result, repo name.Repository, ropts []remote.Option) error {
	blobs, err := blobsOf(r)
	if err != nil {
		return err
	}
	errs := make([]error, len(blobs))
	sem := make(chan struct{}, jobs)
	var wg sync.WaitGroup
	for i, b := range blobs {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			errs[i] = remote.WriteLayer(repo, b.layer, ropts...)
		})
	}
	wg.Wait()
	var causes []error
	named := map[string][]string{} // cause → blobs
	for i, err := range errs {
		if err == nil {
			continue
		}
		if _, ok := named[err.Error()]; !ok {
			causes = append(causes, err)
		}
		named[err.Error()] = append(named[err.Error()], fmt.Sprintf("%s (%s)", blobs[i].digest, blobs[i].what))
	}
	var out []error
	for _, err := range causes {
		which := named[err.Error()]
		what := "blob " + which[0]
		if len(which) > 1 {
			what = "blobs " + strings.Join(which, ", ")
		}
		out = append(out, fmt.Errorf("uploading %s to %s: %w", what, repo, err))
	}
	return errors.Join(out...)
}

type blob struct {
	digest v1.Hash
	what   string // "layer 2 of 3", "config", with the platform of an index's image
	layer  v1.Layer
}

// blobsOf lists the distinct blobs of an image or index, in manifest order.
func blobsOf(r *Result) ([]blob, error) {
	var out []blob
	seen := map[v1.Hash]bool{}
	add := func(img v1.Image, platform string) error {
		layers, err := img.Layers()
		if err != nil {
			return err
		}
		cfg, err := partial.ConfigLayer(img)
		if err != nil {
			return err
		}
		for i, l := range append(layers, cfg) {
			d, err := l.Digest()
			if err != nil {
				return err
			}
			if seen[d] {
				continue
			}
			seen[d] = true
			what := fmt.Sprintf("layer %d of %d", i+1, len(layers))
			if i == len(layers) {
				what = "config"
			}
			if platform != "" {
				what += " of " + platform
			}
			out = append(out, blob{digest: d, what: what, layer: l})
		}
		return nil
	}
	if r.Index == nil {
		return out, add(r.Image, "")
	}
	var walk func(idx v1.ImageIndex) error
	walk = func(idx v1.ImageIndex) error {
		im, err := idx.IndexManifest()
		if err != nil {
			return err
		}
		for _, desc := range im.Manifests {
			switch {
			case desc.MediaType.IsIndex():
				child, err := idx.ImageIndex(desc.Digest)
				if err != nil {
					return err
				}
				if err := walk(child); err != nil {
					return err
				}
			case desc.MediaType.IsImage():
				img, err := idx.Image(desc.Digest)
				if err != nil {
					return err
				}
				platform := desc.Digest.String()
				if desc.Platform != nil {
					platform = desc.Platform.String()
				}
				if err := add(img, platform); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return out, walk(r.Index)
}

func isNotFound(err error) bool {
	var te *transport.Error
	return errors.As(err, &te) && te.StatusCode == 404
}

// WriteLayout adds the result to the OCI image layout in dir (created if
// missing) under the reference name refName. It returns false when the
// layout already holds that digest.
func WriteLayout(r *Result, dir, refName string) (bool, error) {
	p, err := layout.FromPath(dir)
	if err != nil {
		if _, statErr := os.Stat(filepath.Join(dir, "index.json")); !os.IsNotExist(statErr) {
			return false, fmt.Errorf("opening OCI layout %q: %w", dir, err)
		}
		if p, err = layout.Write(dir, empty.Index); err != nil {
			return false, fmt.Errorf("creating OCI layout %q: %w", dir, err)
		}
	}
	idx, err := p.ImageIndex()
	if err != nil {
		return false, fmt.Errorf("reading OCI layout %q: %w", dir, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return false, fmt.Errorf("reading OCI layout %q: %w", dir, err)
	}
	for _, d := range im.Manifests {
		if d.Digest == r.Digest {
			return false, nil
		}
	}
	opt := layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": refName})
	if r.Index != nil {
		err = p.AppendIndex(r.Index, opt)
	} else {
		err = p.AppendImage(r.Image, opt)
	}
	if err != nil {
		return false, fmt.Errorf("writing to OCI layout %q: %w", dir, err)
	}
	return true, nil
}

// ReadLayout returns the image or index with the given digest from an OCI
// layout.
func ReadLayout(dir string, digest v1.Hash) (*Result, error) {
	p, err := layout.FromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("opening OCI layout %q: %w", dir, err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		return nil, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	for _, d := range im.Manifests {
		if d.Digest != digest {
			continue
		}
		if d.MediaType.IsIndex() {
			ii, err := idx.ImageIndex(digest)
			return &Result{Index: ii, Digest: digest}, err
		}
		img, err := idx.Image(digest)
		return &Result{Image: img, Digest: digest}, err
	}
	return nil, fmt.Errorf("OCI layout %q has no %s", dir, digest)
}
