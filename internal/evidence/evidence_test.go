package evidence

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/driftless-dev/driftless/internal/registry"
	"github.com/driftless-dev/driftless/internal/registry/distribution"
	"github.com/driftless-dev/driftless/internal/registry/registrytest"
)

var t0 = time.Date(2026, 3, 27, 12, 0, 0, 0, time.UTC)

// registries start the three kinds of registry evidence must work with.
var registries = []struct {
	name string
	// referrersAPI says whether the registry lists referrers itself (no
	// sha256-<hex> fallback tag).
	referrersAPI bool
	start        func(t *testing.T) string
}{
	{"ggcr with the referrers API", true, referrersRegistry},
	{"ggcr without the referrers API", false, func(t *testing.T) string { return registrytest.New(t) }},
	{"distribution 2.8", false, startDistribution},
}

// referrersRegistry is go-containerregistry's in-process registry with the
// referrers API on (registrytest's has it off, the package default).
func referrersRegistry(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)), ggcrregistry.WithReferrersSupport(true)))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// startDistribution runs Debian's docker-registry for the test; without it
// the test fails in CI (which installs it) and is skipped elsewhere.
func startDistribution(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath(distribution.Binary); err != nil && os.Getenv("CI") == "" {
		t.Skip("docker-registry is not installed; scripts/deps installs it")
	}
	s, err := distribution.Start(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s.Host
}

func ropts(t *testing.T) []remote.Option {
	// Retries as in production (Distribution answers 500 to a read racing a
	// tag update), only faster.
	return registry.Options{Backoff: remote.Backoff{Duration: 10 * time.Millisecond, Factor: 2, Steps: 5}}.Remote(t.Context())
}

// pushImage pushes a random image to host/app and returns it by digest.
func pushImage(t *testing.T, host string) name.Digest {
	t.Helper()
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	d, err := name.NewDigest(registrytest.Push(t, host+"/app", img))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func statement(d name.Digest, env string, at time.Time) Statement {
	return NewStatement(d, Predicate{
		Environment: env,
		VerifiedAt:  at,
		Checks: []Check{
			{Name: "version", Passed: true, Detail: "v1.4.2", Latency: Duration(12 * time.Millisecond)},
			{Name: "health", Passed: true, Latency: Duration(3 * time.Millisecond)},
		},
		GitSHA:         "0123456789abcdef0123456789abcdef01234567",
		Version:        "v1.4.2",
		ConfigRevision: "sha256:c0ffee",
		RunURL:         "https://github.com/o/r/actions/runs/42",
		CI:             "github",
	})
}

type keyPair struct {
	signer   *Signer
	verifier *Verifier
	privPEM  []byte
	pubPEM   []byte
}

func newKey(t *testing.T, kind string) keyPair {
	t.Helper()
	var priv any
	switch kind {
	case "ed25519":
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		priv = k
	case "p256":
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		priv = k
	default:
		t.Fatalf("unknown key kind %q", kind)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	kp := keyPair{privPEM: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})}
	if kp.signer, err = ParseSigner(kp.privPEM, kind+".key"); err != nil {
		t.Fatal(err)
	}
	pub, err := x509.MarshalPKIXPublicKey(kp.signer.Public())
	if err != nil {
		t.Fatal(err)
	}
	kp.pubPEM = pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})
	if kp.verifier, err = ParseVerifier(kp.pubPEM, kind+".pub"); err != nil {
		t.Fatal(err)
	}
	return kp
}

// summary is what a test compares of a Result.
type summary struct {
	Records  []string // verifiedAt, signed by
	Rejected []string // verifiedAt: reason
}

func summarize(r Result) summary {
	var s summary
	for _, rec := range r.Records {
		by := "unsigned"
		if rec.Signed {
			by = "signed by " + rec.KeyID[:8]
		}
		s.Records = append(s.Records, rec.VerifiedAt.Format(time.TimeOnly)+" "+rec.Statement.Predicate.Environment+" "+by)
	}
	for _, rej := range r.Rejected {
		s.Rejected = append(s.Rejected, rej.VerifiedAt.Format(time.TimeOnly)+": "+rej.Reason)
	}
	return s
}

// TestRegistries attaches and finds evidence on each kind of registry.
func TestRegistries(t *testing.T) {
	t.Parallel()
	key := newKey(t, "ed25519")
	other := newKey(t, "p256")
	for _, reg := range registries {
		t.Run(reg.name, func(t *testing.T) {
			t.Parallel()
			host := reg.start(t)
			ctx := t.Context()
			d := pushImage(t, host)
			opts := ropts(t)

			for _, a := range []struct {
				env    string
				at     time.Time
				signer *Signer
			}{
				{"test", t0, nil},
				{"test", t0.Add(2 * time.Hour), key.signer},
				{"test", t0.Add(time.Hour), key.signer},
				{"prod", t0.Add(3 * time.Hour), key.signer},
			} {
				ref, err := Attach(ctx, d, statement(d, a.env, a.at), a.signer, opts)
				if err != nil {
					t.Fatalf("Attach(%s at %s): %v", a.env, a.at, err)
				}
				if ref.Context() != d.Context() {
					t.Errorf("Attach wrote to %s, want the subject's repository %s", ref.Context(), d.Context())
				}
			}

			kid := key.signer.KeyID()[:8]
			for _, tc := range []struct {
				name     string
				env      string
				verifier *Verifier
				want     summary
			}{
				{
					name: "no verifier: every statement for test, newest first", env: "test",
					want: summary{Records: []string{"14:00:00 test unsigned", "13:00:00 test unsigned", "12:00:00 test unsigned"}},
				},
				{
					name: "verifier: signed only; unsigned rejected", env: "test", verifier: key.verifier,
					want: summary{
						Records:  []string{"14:00:00 test signed by " + kid, "13:00:00 test signed by " + kid},
						Rejected: []string{"12:00:00: it is not signed, and only evidence signed by a trusted key (" + key.signer.KeyID() + ") counts"},
					},
				},
				{name: "other environment", env: "prod", verifier: key.verifier, want: summary{Records: []string{"15:00:00 prod signed by " + kid}}},
				{name: "environment without evidence", env: "staging", verifier: key.verifier},
				{
					name: "another key: all rejected", env: "prod", verifier: other.verifier,
					want: summary{Rejected: []string{"15:00:00: signed by key " + key.signer.KeyID() + ", which is not a trusted evidence public key (trusted: " + other.signer.KeyID() + ")"}},
				},
			} {
				got, err := Find(ctx, d, tc.env, tc.verifier, opts)
				if err != nil {
					t.Fatalf("%s: Find: %v", tc.name, err)
				}
				if diff := cmp.Diff(tc.want, summarize(got)); diff != "" {
					t.Errorf("%s: Find (-want +got):\n%s", tc.name, diff)
				}
			}

			// The whole record survives the round trip.
			got, err := Find(ctx, d, "prod", key.verifier, opts)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(statement(d, "prod", t0.Add(3*time.Hour)), got.Records[0].Statement); diff != "" {
				t.Errorf("statement read back (-want +got):\n%s", diff)
			}

			// The fallback tag exists exactly where the registry lacks the
			// referrers API.
			fallback := d.Context().Tag(strings.Replace(d.DigestStr(), ":", "-", 1))
			_, err = remote.Head(fallback, opts...)
			if hasTag := err == nil; hasTag == reg.referrersAPI {
				t.Errorf("referrers tag %s exists = %t (%v), want %t", fallback.TagStr(), hasTag, err, !reg.referrersAPI)
			}

			// An image nobody verified has no evidence and no error.
			bare := pushImage(t, host)
			none, err := Find(ctx, bare, "test", key.verifier, opts)
			if err != nil {
				t.Fatalf("Find on an image without referrers: %v", err)
			}
			if diff := cmp.Diff(summary{}, summarize(none)); diff != "" {
				t.Errorf("Find on an image without referrers (-want +got):\n%s", diff)
			}
		})
	}
}

// TestConcurrentAttach attaches from several writers at once: on registries
// without the referrers API they race on the fallback tag, and Attach
// writes again until its referrer is listed.
func TestConcurrentAttach(t *testing.T) {
	t.Parallel()
	for _, reg := range registries {
		t.Run(reg.name, func(t *testing.T) {
			t.Parallel()
			host := reg.start(t)
			d := pushImage(t, host)
			const writers = 3
			var wg sync.WaitGroup
			errs := make([]error, writers)
			for i := range writers {
				wg.Go(func() {
					_, errs[i] = Attach(t.Context(), d, statement(d, "test", t0.Add(time.Duration(i)*time.Minute)), nil, ropts(t))
				})
			}
			wg.Wait()
			for _, err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			got, err := Find(t.Context(), d, "test", nil, ropts(t))
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Records) != writers {
				t.Errorf("found %d records after %d concurrent attaches: %v", len(got.Records), writers, summarize(got))
			}
		})
	}
}

// attachRaw attaches body as evidence without Attach's checks, as a
// careless or hostile writer could.
func attachRaw(t *testing.T, subject name.Digest, body []byte, mt types.MediaType, p Predicate) {
	t.Helper()
	opts := ropts(t)
	sub, err := remote.Head(subject, opts...)
	if err != nil {
		t.Fatal(err)
	}
	art, err := newArtifact(body, mt, v1.Descriptor{MediaType: sub.MediaType, Size: sub.Size, Digest: sub.Digest}, p)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []v1.Layer{static.NewLayer(emptyJSON, types.OCIEmptyJSON), art.layer} {
		if err := remote.WriteLayer(subject.Context(), l, opts...); err != nil {
			t.Fatal(err)
		}
	}
	if err := remote.Put(subject.Context().Digest(art.digest.String()), art, opts...); err != nil {
		t.Fatal(err)
	}
}

func signed(t *testing.T, s *Signer, st Statement) []byte {
	t.Helper()
	payload, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	env, err := s.sign(t.Context(), payload)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestFindRejects(t *testing.T) {
	t.Parallel()
	key := newKey(t, "p256")
	for _, tc := range []struct {
		name     string
		evidence func(t *testing.T, d, other name.Digest) ([]byte, types.MediaType)
		verifier *Verifier
		want     summary
	}{
		{
			name: "signed with ECDSA P-256: accepted", verifier: key.verifier,
			evidence: func(t *testing.T, d, _ name.Digest) ([]byte, types.MediaType) {
				return signed(t, key.signer, statement(d, "test", t0)), DSSEMediaType
			},
			want: summary{Records: []string{"12:00:00 test signed by " + key.signer.KeyID()[:8]}},
		},
		{
			name: "tampered payload", verifier: key.verifier,
			evidence: func(t *testing.T, d, _ name.Digest) ([]byte, types.MediaType) {
				var env map[string]any
				if err := json.Unmarshal(signed(t, key.signer, statement(d, "test", t0)), &env); err != nil {
					t.Fatal(err)
				}
				forged, _ := json.Marshal(statement(d, "test", t0.Add(-24*time.Hour))) // soaked longer
				env["payload"] = encodeB64(forged)
				b, _ := json.Marshal(env)
				return b, DSSEMediaType
			},
			want: summary{Rejected: []string{"12:00:00: the signature by key " + key.signer.KeyID() + " does not verify: the statement was changed after signing, or the signature is corrupt"}},
		},
		{
			name: "tampered payload, no verifier: the signature is not checked", verifier: nil,
			evidence: func(t *testing.T, d, _ name.Digest) ([]byte, types.MediaType) {
				var env map[string]any
				if err := json.Unmarshal(signed(t, key.signer, statement(d, "test", t0)), &env); err != nil {
					t.Fatal(err)
				}
				forged, _ := json.Marshal(statement(d, "test", t0.Add(-time.Hour)))
				env["payload"] = encodeB64(forged)
				b, _ := json.Marshal(env)
				return b, DSSEMediaType
			},
			want: summary{Records: []string{"11:00:00 test unsigned"}},
		},
		{
			name: "statement about another image", verifier: key.verifier,
			evidence: func(t *testing.T, _, other name.Digest) ([]byte, types.MediaType) {
				return signed(t, key.signer, statement(other, "test", t0)), DSSEMediaType
			},
			want: summary{Rejected: []string{"12:00:00: the statement is about OTHER, not this image: it was copied from another image"}},
		},
		{
			name: "failed check recorded",
			evidence: func(t *testing.T, d, _ name.Digest) ([]byte, types.MediaType) {
				st := statement(d, "test", t0)
				st.Predicate.Checks[1].Passed = false
				b, _ := json.Marshal(st)
				return b, ArtifactType
			},
			want: summary{Rejected: []string{`12:00:00: the statement records failed checks ("health")`}},
		},
		{
			name: "not a statement, annotated for test",
			evidence: func(t *testing.T, _, _ name.Digest) ([]byte, types.MediaType) {
				return []byte("not json"), ArtifactType
			},
			want: summary{Rejected: []string{"00:00:00: the evidence is not an in-toto statement: invalid character 'o' in literal null (expecting 'u')"}},
		},
		{
			name: "another tool's in-toto predicate: skipped", verifier: key.verifier,
			evidence: func(t *testing.T, d, _ name.Digest) ([]byte, types.MediaType) {
				st := statement(d, "test", t0)
				st.PredicateType = "https://slsa.dev/provenance/v1"
				b, _ := json.Marshal(st)
				return b, ArtifactType
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			host := referrersRegistry(t)
			d, o := pushImage(t, host), pushImage(t, host)
			body, mt := tc.evidence(t, d, o)
			attachRaw(t, d, body, mt, Predicate{Environment: "test", VerifiedAt: t0})
			got, err := Find(t.Context(), d, "test", tc.verifier, ropts(t))
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range tc.want.Rejected {
				tc.want.Rejected[i] = strings.ReplaceAll(r, "OTHER", o.Context().Name()+"@"+o.DigestStr())
			}
			if diff := cmp.Diff(tc.want, summarize(got)); diff != "" {
				t.Errorf("Find (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAttachRefuses(t *testing.T) {
	t.Parallel()
	host := registrytest.New(t)
	d, other := pushImage(t, host), pushImage(t, host)
	for _, tc := range []struct {
		name string
		st   Statement
		want string
	}{
		{"statement about another image", statement(other, "test", t0), "no subject has the digest " + d.DigestStr()},
		{"no environment", statement(d, "", t0), "predicate.environment is empty"},
		{"no time", statement(d, "test", time.Time{}), "predicate.verifiedAt is not set"},
		{"failed check", func() Statement {
			st := statement(d, "test", t0)
			st.Predicate.Checks[0].Passed = false
			return st
		}(), `checks failed ("version")`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Attach(t.Context(), d, tc.st, nil, ropts(t))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Attach: got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestKeys(t *testing.T) {
	t.Parallel()
	key := newKey(t, "ed25519")
	ecKey, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sec1, err := x509.MarshalECPrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := x509.MarshalPKCS8PrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	block := func(typ string, b []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}) }
	for _, tc := range []struct {
		name, pem, want string
		public          bool
	}{
		{name: "not PEM", pem: "hello", want: `evidence signing key k.pem is not PEM: want a PKCS#8 "PRIVATE KEY" block`},
		{name: "SEC1 EC key", pem: string(block("EC PRIVATE KEY", sec1)), want: `evidence signing key k.pem holds a "EC PRIVATE KEY" PEM block: want an unencrypted PKCS#8 "PRIVATE KEY" (convert with ` + "`openssl pkcs8 -topk8 -nocrypt -in KEY`)"},
		{name: "P-384", pem: string(block("PRIVATE KEY", p384)), want: "evidence signing key k.pem is ECDSA on P-384: want P-256 or ed25519"},
		{name: "public key as signing key", pem: string(key.pubPEM), want: `holds a "PUBLIC KEY" PEM block`},
		{name: "private key as public key", pem: string(key.privPEM), public: true, want: `evidence public key k.pem: PEM block 1 is "PRIVATE KEY", want a PKIX "PUBLIC KEY" (that is a private key: give the public half, ` + "`openssl pkey -in KEY -pubout`)"},
		{name: "no public key", pem: "", public: true, want: `evidence public key k.pem holds no PEM "PUBLIC KEY" block`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var err error
			if tc.public {
				_, err = ParseVerifier([]byte(tc.pem), "k.pem")
			} else {
				_, err = ParseSigner([]byte(tc.pem), "k.pem")
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}

	// Files: two public keys in one file (rotation), one repeated.
	dir := t.TempDir()
	second := newKey(t, "p256")
	pubs := filepath.Join(dir, "evidence.pub")
	if err := os.WriteFile(pubs, append(append([]byte{}, key.pubPEM...), second.pubPEM...), 0o644); err != nil {
		t.Fatal(err)
	}
	again := filepath.Join(dir, "again.pub")
	if err := os.WriteFile(again, key.pubPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	v, err := LoadVerifier(pubs, again)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{key.signer.KeyID(), second.signer.KeyID()}, v.KeyIDs()); diff != "" {
		t.Errorf("KeyIDs (-want +got):\n%s", diff)
	}
	if _, err := LoadSigner(filepath.Join(dir, "missing.key")); err == nil || !strings.Contains(err.Error(), "missing.key") {
		t.Errorf("LoadSigner of a missing file: got %v, want an error naming the file", err)
	}
}

func encodeB64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
