package evidence

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// emptyJSON is the OCI empty descriptor's content: the config of an
// artifact that has none.
var emptyJSON = []byte("{}")

const (
	// attachAttempts bounds how often Attach rewrites a referrer that does
	// not show up in the subject's referrers list.
	attachAttempts = 3
	// settle is how long Attach waits before it reads the referrers tag a
	// second time, on registries without the referrers API.
	settle = time.Second
)

// Attach writes st, a statement about subject, to subject's repository as a
// referrer of subject and returns the referrer manifest's digest. With a
// signer the layer is a DSSE envelope around the statement; with a nil
// signer it is the bare statement. ropts come from registry.Options.Remote.
//
// On a registry without the referrers API, go-containerregistry adds the
// referrer to the index under the tag sha256-<hex of subject>; that update
// is a read-modify-write without a lock (Distribution 2.8 has no
// conditional PUT), so Attach reads the list back, again a second later,
// and writes again when a concurrent writer dropped the new entry. That
// narrows the race; it cannot close it. A lost entry makes a later gate
// refuse, never admit.
func Attach(ctx context.Context, subject name.Digest, st Statement, signer *Signer, ropts []remote.Option) (name.Digest, error) {
	if !strings.HasPrefix(subject.DigestStr(), "sha256:") {
		return name.Digest{}, fmt.Errorf("attaching evidence to %s: only sha256 digests are supported", subject)
	}
	if err := st.check(subject); err != nil {
		return name.Digest{}, err
	}
	opts := append(slices.Clip(ropts), remote.WithContext(ctx))
	body, err := json.Marshal(st)
	if err != nil {
		return name.Digest{}, fmt.Errorf("encoding the statement about %s: %w", subject, err)
	}
	mt := types.MediaType(ArtifactType)
	if signer != nil {
		env, err := signer.sign(ctx, body)
		if err != nil {
			return name.Digest{}, err
		}
		if body, err = json.Marshal(env); err != nil {
			return name.Digest{}, fmt.Errorf("encoding the DSSE envelope: %w", err)
		}
		mt = DSSEMediaType
	}
	sub, err := remote.Head(subject, opts...)
	if err != nil {
		return name.Digest{}, fmt.Errorf("attaching evidence to %s: reading the image's manifest descriptor: %w", subject, err)
	}
	art, err := newArtifact(body, mt, v1.Descriptor{MediaType: sub.MediaType, Size: sub.Size, Digest: sub.Digest}, st.Predicate)
	if err != nil {
		return name.Digest{}, err
	}
	repo := subject.Context()
	ref := repo.Digest(art.digest.String())
	for _, l := range []v1.Layer{static.NewLayer(emptyJSON, types.OCIEmptyJSON), art.layer} {
		if err := remote.WriteLayer(repo, l, opts...); err != nil {
			return name.Digest{}, fmt.Errorf("attaching evidence to %s: uploading a blob: %w", subject, err)
		}
	}
	fallback := false
	for attempt := 1; ; attempt++ {
		// Put, unlike Write, sends the manifest even when the registry
		// has it, which makes go-containerregistry update the referrers
		// tag again.
		if err := remote.Put(ref, art, opts...); err != nil {
			return name.Digest{}, fmt.Errorf("attaching evidence to %s: writing the referrer manifest %s: %w", subject, art.digest, err)
		}
		if attempt == 1 {
			_, err := remote.Head(fallbackTag(subject), opts...)
			fallback = err == nil
		}
		listed, err := isListed(subject, art.digest, opts)
		if listed && fallback {
			// A writer that read the referrers tag before this one wrote
			// it writes it again without this referrer; such a write
			// follows its read within a request or two.
			select {
			case <-ctx.Done():
				return name.Digest{}, ctx.Err()
			case <-time.After(settle):
			}
			listed, err = isListed(subject, art.digest, opts)
		}
		if err != nil {
			return name.Digest{}, fmt.Errorf("attaching evidence to %s: reading back its referrers: %w", subject, err)
		}
		if listed {
			return ref, nil
		}
		if attempt == attachAttempts {
			return name.Digest{}, fmt.Errorf("attaching evidence to %s: the referrer %s was written but is not among the image's referrers after %d attempts; is another job updating the referrers tag %s at the same time?", subject, art.digest, attachAttempts, fallbackTag(subject).TagStr())
		}
	}
}

// fallbackTag is the referrers tag schema's tag for d: sha256-<hex>.
func fallbackTag(d name.Digest) name.Tag {
	return d.Context().Tag(strings.Replace(d.DigestStr(), ":", "-", 1))
}

func isListed(subject name.Digest, h v1.Hash, opts []remote.Option) (bool, error) {
	idx, err := remote.Referrers(subject, opts...)
	if err != nil {
		return false, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return false, err
	}
	return slices.ContainsFunc(im.Manifests, func(d v1.Descriptor) bool { return d.Digest == h }), nil
}

// artifact is the referrer manifest: empty config, one layer, a subject.
type artifact struct {
	raw    []byte
	digest v1.Hash
	layer  v1.Layer
}

func newArtifact(body []byte, mt types.MediaType, subject v1.Descriptor, p Predicate) (*artifact, error) {
	layer := static.NewLayer(body, mt)
	ld, err := layer.Digest()
	if err != nil {
		return nil, err
	}
	eh, _, err := v1.SHA256(bytes.NewReader(emptyJSON))
	if err != nil {
		return nil, err
	}
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		ArtifactType:  ArtifactType,
		Config:        v1.Descriptor{MediaType: types.OCIEmptyJSON, Size: int64(len(emptyJSON)), Digest: eh, Data: emptyJSON},
		Layers: []v1.Descriptor{{
			MediaType:   mt,
			Size:        int64(len(body)),
			Digest:      ld,
			Annotations: map[string]string{"in-toto.io/predicate-type": PredicateType},
		}},
		Subject: &subject,
		Annotations: map[string]string{
			AnnotationEnvironment: p.Environment,
			AnnotationCreated:     p.VerifiedAt.UTC().Format(time.RFC3339),
		},
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encoding the referrer manifest: %w", err)
	}
	h, _, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	return &artifact{raw: raw, digest: h, layer: layer}, nil
}

// RawManifest and MediaType make an artifact a remote.Taggable.
func (a *artifact) RawManifest() ([]byte, error)        { return a.raw, nil }
func (a *artifact) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }
