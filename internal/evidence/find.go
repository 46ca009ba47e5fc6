package evidence

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"
)

// maxEvidence bounds the size of an evidence layer Find reads.
const maxEvidence = 4 << 20

// Record is evidence Find accepted.
type Record struct {
	// Digest names the referrer manifest that holds the evidence.
	Digest name.Digest
	// Statement is the statement, signature checked when Signed.
	Statement Statement
	// VerifiedAt is Statement.Predicate.VerifiedAt.
	VerifiedAt time.Time
	// Signed reports that a DSSE signature by KeyID was verified; it is
	// never true without a Verifier.
	Signed bool
	// KeyID is the trusted key that signed the evidence.
	KeyID string
}

// Rejected is evidence for the environment that Find did not accept.
type Rejected struct {
	// Digest names the referrer manifest.
	Digest name.Digest
	// VerifiedAt is what the evidence claims, when it could be read.
	VerifiedAt time.Time
	// Reason says why it does not count.
	Reason string
}

// Result is what Find found.
type Result struct {
	// Records is the accepted evidence, newest first.
	Records []Record
	// Rejected is evidence for the environment that does not count, with
	// the reasons, newest first.
	Rejected []Rejected
}

// Newest returns the newest accepted record, if any.
func (r Result) Newest() (Record, bool) {
	if len(r.Records) == 0 {
		return Record{}, false
	}
	return r.Records[0], true
}

// Find returns the evidence that subject was verified in env, newest first.
// With a nil verifier any well-formed statement counts, signed or not (and
// signatures are not checked); with a verifier only statements signed by one
// of its keys do, and the others are Rejected with the reason. Referrers
// that are not driftless evidence for env are skipped. An image without
// referrers has an empty Result. ropts come from registry.Options.Remote.
func Find(ctx context.Context, subject name.Digest, env string, verifier *Verifier, ropts []remote.Option) (Result, error) {
	opts := append(slices.Clip(ropts), remote.WithContext(ctx))
	idx, err := remote.Referrers(subject, opts...)
	if err != nil {
		return Result{}, fmt.Errorf("looking up evidence on %s: listing the image's referrers: %w", subject, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return Result{}, fmt.Errorf("looking up evidence on %s: reading the image's referrers: %w", subject, err)
	}
	var res Result
	for _, d := range im.Manifests {
		if !candidate(d, env) {
			continue
		}
		r := reader{subject: subject, env: env, verifier: verifier, opts: opts, desc: d}
		rec, rej, err := r.read(ctx)
		switch {
		case err != nil:
			return Result{}, fmt.Errorf("looking up evidence on %s: reading referrer %s: %w", subject, d.Digest, err)
		case rec != nil:
			res.Records = append(res.Records, *rec)
		case rej != nil:
			res.Rejected = append(res.Rejected, *rej)
		}
	}
	slices.SortStableFunc(res.Records, func(a, b Record) int {
		if c := b.VerifiedAt.Compare(a.VerifiedAt); c != 0 {
			return c
		}
		return strings.Compare(a.Digest.DigestStr(), b.Digest.DigestStr())
	})
	slices.SortStableFunc(res.Rejected, func(a, b Rejected) int {
		if c := b.VerifiedAt.Compare(a.VerifiedAt); c != 0 {
			return c
		}
		return strings.Compare(a.Digest.DigestStr(), b.Digest.DigestStr())
	})
	return res, nil
}

// candidate says whether a referrer may be evidence for env, from what the
// referrers list says about it.
func candidate(d v1.Descriptor, env string) bool {
	if d.MediaType != "" && d.MediaType != types.OCIManifestSchema1 {
		return false
	}
	// go-containerregistry's in-process registry reports the config's media
	// type as the artifactType, ignoring the manifest's artifactType field.
	switch d.ArtifactType {
	case "", ArtifactType, string(types.OCIEmptyJSON):
	default:
		return false
	}
	if e, ok := d.Annotations[AnnotationEnvironment]; ok && e != env {
		return false
	}
	return true
}

type reader struct {
	subject  name.Digest
	env      string
	verifier *Verifier
	opts     []remote.Option
	desc     v1.Descriptor
}

// read reads one referrer: a record, a rejection, or neither when the
// referrer is not driftless evidence for the environment.
func (r reader) read(ctx context.Context) (*Record, *Rejected, error) {
	ref := r.subject.Context().Digest(r.desc.Digest.String())
	// Until the statement is read, only a referrer annotated with the
	// environment claims to be its evidence; anything else that does not
	// parse belongs to some other tool and is skipped.
	claimed := r.desc.Annotations[AnnotationEnvironment] == r.env
	reject := func(at time.Time, format string, args ...any) (*Record, *Rejected, error) {
		return nil, &Rejected{Digest: ref, VerifiedAt: at, Reason: fmt.Sprintf(format, args...)}, nil
	}
	skipOrReject := func(format string, args ...any) (*Record, *Rejected, error) {
		if !claimed {
			return nil, nil, nil
		}
		return reject(time.Time{}, format, args...)
	}

	got, err := remote.Get(ref, r.opts...)
	if isNotFound(err) {
		return skipOrReject("the referrers list names the manifest, but the registry does not have it")
	}
	if err != nil {
		return nil, nil, err
	}
	m, err := v1.ParseManifest(bytes.NewReader(got.Manifest))
	if err != nil {
		return skipOrReject("the referrer is not an OCI image manifest: %v", err)
	}
	if m.ArtifactType != ArtifactType {
		return skipOrReject("the referrer's artifactType is %q, want %q", m.ArtifactType, ArtifactType)
	}
	i := slices.IndexFunc(m.Layers, func(l v1.Descriptor) bool {
		return l.MediaType == ArtifactType || l.MediaType == DSSEMediaType
	})
	if i < 0 {
		return skipOrReject("the referrer has no %s or %s layer", ArtifactType, DSSEMediaType)
	}
	layer := m.Layers[i]
	if m.Subject == nil || m.Subject.Digest.String() != r.subject.DigestStr() {
		return reject(time.Time{}, "the referrer manifest's subject is not this image: a referrers tag lists it by mistake or by tampering")
	}
	if layer.Size > maxEvidence {
		return reject(time.Time{}, "the evidence layer is %d bytes, more than the %d a statement may take", layer.Size, maxEvidence)
	}
	body, err := r.blob(layer)
	if isNotFound(err) {
		return reject(time.Time{}, "the registry does not have the evidence layer %s", layer.Digest)
	}
	if err != nil {
		return nil, nil, err
	}

	var env *dsse.Envelope
	payload := body
	if layer.MediaType == DSSEMediaType {
		env = &dsse.Envelope{}
		if err := json.Unmarshal(body, env); err != nil {
			return skipOrReject("the layer is not a DSSE envelope: %v", err)
		}
		if env.PayloadType != ArtifactType {
			return skipOrReject("the DSSE payload type is %q, want %q", env.PayloadType, ArtifactType)
		}
		if payload, err = env.DecodeB64Payload(); err != nil {
			return skipOrReject("the DSSE payload is not base64: %v", err)
		}
	}
	var st Statement
	if err := json.Unmarshal(payload, &st); err != nil {
		return skipOrReject("the evidence is not an in-toto statement: %v", err)
	}
	if st.Type != StatementType || st.PredicateType != PredicateType || st.Predicate.Environment != r.env {
		return nil, nil, nil
	}

	at := st.Predicate.VerifiedAt
	if !st.Names(r.subject) {
		return reject(at, "the statement is about %s, not this image: it was copied from another image", subjects(st))
	}
	rec := &Record{Digest: ref, Statement: st, VerifiedAt: at}
	if r.verifier != nil {
		if env == nil {
			return reject(at, "it is not signed, and only evidence signed by a trusted key (%s) counts", strings.Join(r.verifier.KeyIDs(), ", "))
		}
		signed, keyID, reason := r.verifier.verify(ctx, env)
		if reason != "" {
			return reject(at, "%s", reason)
		}
		if !bytes.Equal(signed, payload) {
			return reject(at, "the signed payload differs from the one read")
		}
		rec.Signed, rec.KeyID = true, keyID
	}
	if at.IsZero() {
		return reject(at, "the statement has no verifiedAt time")
	}
	if failed := st.failed(); len(failed) > 0 {
		return reject(at, "the statement records failed checks (%s)", strings.Join(failed, ", "))
	}
	return rec, nil, nil
}

func (r reader) blob(d v1.Descriptor) ([]byte, error) {
	l, err := remote.Layer(r.subject.Context().Digest(d.Digest.String()), r.opts...)
	if err != nil {
		return nil, err
	}
	rc, err := l.Compressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	// The reader checks the digest at EOF.
	b, err := io.ReadAll(io.LimitReader(rc, maxEvidence+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxEvidence {
		return nil, fmt.Errorf("evidence layer %s is larger than %d bytes", d.Digest, maxEvidence)
	}
	return b, nil
}

func subjects(st Statement) string {
	var s []string
	for _, sub := range st.Subject {
		s = append(s, sub.Name+"@sha256:"+sub.Digest["sha256"])
	}
	if len(s) == 0 {
		return "no image"
	}
	return strings.Join(s, ", ")
}

func isNotFound(err error) bool {
	var te *transport.Error
	return errors.As(err, &te) && te.StatusCode == http.StatusNotFound
}

// Store reads and writes evidence with fixed registry options; it is what
// the promotion gates take.
type Store struct {
	// Options come from registry.Options.Remote.
	Options []remote.Option
	// Explain, when set, rewrites a registry's refusal (registry.Options.
	// Explain: which registry, which credentials were tried, what to set).
	Explain func(error) error
}

// Attach is Attach with the store's options.
func (s Store) Attach(ctx context.Context, subject name.Digest, st Statement, signer *Signer) (name.Digest, error) {
	return Attach(ctx, subject, st, signer, s.Options)
}

// Find is Find with the store's options.
func (s Store) Find(ctx context.Context, subject name.Digest, env string, verifier *Verifier) (Result, error) {
	r, err := Find(ctx, subject, env, verifier, s.Options)
	if err != nil && s.Explain != nil {
		err = s.Explain(err)
	}
	return r, err
}
