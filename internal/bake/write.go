package bake

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Push writes the result to repo by digest, uploading only the blobs the
// registry lacks (go-containerregistry checks each blob and mounts base
// layers across repositories of the same registry). It returns false
// without uploading anything when the manifest is already there. The
// manifest goes last, so the registry never holds a manifest whose blobs
// are missing, and no tag is written here at all.
func Push(r *Result, repo name.Repository, ropts []remote.Option) (bool, error) {
	ref := repo.Digest(r.Digest.String())
	if _, err := remote.Head(ref, ropts...); err == nil {
		return false, nil
	} else if !isNotFound(err) {
		return false, fmt.Errorf("checking for %s: %w", ref, err)
	}
	var err error
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
