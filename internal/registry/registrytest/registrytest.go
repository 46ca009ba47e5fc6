package registrytest

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// New starts an in-process registry on 127.0.0.1 for the duration of the
// test and returns its host:port. It logs nothing.
func New(t testing.TB) string {
	t.Helper()
	host, _ := Record(t)
	return host
}

// Record is New that also records every request the registry serves.
func Record(t testing.TB) (string, *Recorder) {
	t.Helper()
	rec := &Recorder{}
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.add(Request{Method: r.Method, Path: r.URL.Path})
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), rec
}

// Request is one request a registry served.
type Request struct {
	Method string
	Path   string
}

// IsBlob reports whether the request touched a blob (a layer or a config)
// or a blob upload, as opposed to a manifest, a tag list or the API root.
func (r Request) IsBlob() bool { return strings.Contains(r.Path, "/blobs/") }

func (r Request) String() string { return r.Method + " " + r.Path }

// Recorder holds the requests a registry served, in order.
type Recorder struct {
	mu   sync.Mutex
	reqs []Request
}

func (rec *Recorder) add(r Request) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.reqs = append(rec.reqs, r)
}

// Requests returns the requests served so far.
func (rec *Recorder) Requests() []Request {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]Request(nil), rec.reqs...)
}

// Reset forgets the requests served so far, so a test can look at what
// one operation did after setting up the registry.
func (rec *Recorder) Reset() {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.reqs = nil
}

// Push writes img (blobs and manifest) to ref and returns the image pinned
// by digest: host/repo@sha256:…. A ref without a tag (host/repo) pushes by
// digest only, without tagging latest.
func Push(t testing.TB, ref string, img v1.Image) string {
	t.Helper()
	r := parse(t, ref, img)
	if err := remote.Write(r, img); err != nil {
		t.Fatalf("registrytest: pushing %s: %v", ref, err)
	}
	return pinned(t, r, img)
}

// PushIndex writes idx (its images, their blobs and the index manifest) to
// ref, as Push does, and returns the index pinned by digest.
func PushIndex(t testing.TB, ref string, idx v1.ImageIndex) string {
	t.Helper()
	r := parse(t, ref, idx)
	if err := remote.WriteIndex(r, idx); err != nil {
		t.Fatalf("registrytest: pushing index %s: %v", ref, err)
	}
	return pinned(t, r, idx)
}

type digester interface{ Digest() (v1.Hash, error) }

func parse(t testing.TB, ref string, m digester) name.Reference {
	t.Helper()
	if repo, err := name.NewRepository(ref); err == nil {
		d, err := m.Digest()
		if err != nil {
			t.Fatalf("registrytest: digest of the image for %s: %v", ref, err)
		}
		return repo.Digest(d.String())
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatalf("registrytest: %v", err)
	}
	return r
}

func pinned(t testing.TB, r name.Reference, m digester) string {
	t.Helper()
	d, err := m.Digest()
	if err != nil {
		t.Fatalf("registrytest: digest of %s: %v", r, err)
	}
	return r.Context().Digest(d.String()).String()
}
