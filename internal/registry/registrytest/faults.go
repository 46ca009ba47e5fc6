package registrytest

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Faults is what a flaky registry, or a flaky proxy in front of one, does
// wrong. The schedule is a function of Seed and of what each request is
// (its method, its path, and for a blob upload the blob's bytes), not of
// when it arrives, so parallel uploads meet the same faults run after run.
type Faults struct {
	// Seed picks which requests fail: the same seed, the same faults.
	Seed uint64
	// Rate is the share of requests (blob checks, chunks, commits,
	// manifests, the API root; not upload starts, which name no blob)
	// answered 429 or 503, unserved.
	Rate float64
	// MaxRun is how many times in a row one request (the same method, path
	// and blob) is answered 429 or 503 at most; 3 when zero. A registry that
	// refuses one request forever is not flaky but broken.
	MaxRun int
	// Cuts is how many uploads (blobs, and manifests: tags too) have their
	// first attempt cut mid-body: the first Cuts to arrive.
	Cuts int
	// CutForever are blobs whose every upload is cut mid-body.
	CutForever []v1.Layer
}

// Fault is one fault a proxy injected.
type Fault struct {
	// Kind is "429", "503" or "cut".
	Kind   string
	Method string
	Path   string
}

func (f Fault) String() string { return f.Kind + " " + f.Method + " " + f.Path }

// FaultLog holds the faults a proxy injected, in order.
type FaultLog struct {
	mu     sync.Mutex
	faults []Fault
}

// Faults returns the faults injected so far.
func (l *FaultLog) Faults() []Fault {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Fault(nil), l.faults...)
}

// Count returns how many faults of kind were injected.
func (l *FaultLog) Count(kind string) int {
	n := 0
	for _, f := range l.Faults() {
		if f.Kind == kind {
			n++
		}
	}
	return n
}

func (l *FaultLog) add(f Fault) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.faults = append(l.faults, f)
}

// Proxy starts, for the duration of the test, a proxy on 127.0.0.1 in front
// of the registry at upstream (host:port) that injects f's faults, and
// returns the proxy's host:port and the log of what it injected.
func Proxy(t testing.TB, upstream string, f Faults) (string, *FaultLog) {
	t.Helper()
	target, err := url.Parse("http://" + upstream)
	if err != nil {
		t.Fatalf("registrytest: upstream %q: %v", upstream, err)
	}
	next := httputil.NewSingleHostReverseProxy(target)
	next.ErrorLog = log.New(io.Discard, "", 0)
	p := &faultProxy{
		Faults:  f,
		next:    next,
		log:     &FaultLog{},
		seen:    map[string]int{},
		run:     map[string]int{},
		cut:     map[string]bool{},
		forever: map[string]bool{},
	}
	if p.MaxRun == 0 {
		p.MaxRun = 3
	}
	for _, l := range f.CutForever {
		k, err := layerKey(l)
		if err != nil {
			t.Fatalf("registrytest: reading a blob to cut: %v", err)
		}
		p.forever[k] = true
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), p.log
}

type faultProxy struct {
	Faults
	next http.Handler
	log  *FaultLog

	mu      sync.Mutex
	seen    map[string]int  // requests so far, by key
	run     map[string]int  // 429s and 503s in a row, by key
	cut     map[string]bool // uploads seen, and whether the first was cut
	forever map[string]bool // keys of CutForever
}

// headMax is how much of a blob identifies it: its length and the first
// half of its bytes, at most this many. Reading no more than half keeps the
// cut in the middle of the body.
const headMax = 64 << 10

func (p *faultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key := r.Method + " " + r.URL.Path
	upload := strings.Contains(r.URL.Path, "/blobs/uploads/")
	switch {
	case upload && r.Method == http.MethodPatch:
		blob := blobKey(r.ContentLength, peek(r))
		key = "PATCH blob " + blob
		if p.cutNow(blob) {
			p.log.add(Fault{Kind: "cut", Method: r.Method, Path: r.URL.Path})
			cut(w)
			return
		}
	case upload && r.URL.Query().Get("digest") != "":
		// The commit names its blob; the session id in the path is random.
		key = r.Method + " blob " + r.URL.Query().Get("digest")
	case upload:
		// An upload start names no blob (unless it asks for a mount): were
		// it answered 429 or 503, which of several blobs starting at once
		// met the fault would depend on timing.
		p.next.ServeHTTP(w, r)
		return
	case r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/"):
		peek(r)
		if p.cutNow(key) {
			p.log.add(Fault{Kind: "cut", Method: r.Method, Path: r.URL.Path})
			cut(w)
			return
		}
	}
	if status := p.status(key); status != 0 {
		p.log.add(Fault{Kind: fmt.Sprint(status), Method: r.Method, Path: r.URL.Path})
		code := "UNAVAILABLE"
		if status == http.StatusTooManyRequests {
			code = "TOOMANYREQUESTS"
		}
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"errors":[{"code":%q,"message":"injected by registrytest.Proxy"}]}`, code)
		return
	}
	p.next.ServeHTTP(w, r)
}

// peek reads the first half of the request's body (at most headMax) and
// puts it back; it returns what it read.
func peek(r *http.Request) []byte {
	head := make([]byte, max(0, min(r.ContentLength/2, headMax)))
	n, _ := io.ReadFull(r.Body, head)
	head = head[:n]
	r.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(head), r.Body), r.Body}
	return head
}

// cutNow decides whether this upload (of a blob, or of a manifest) is cut.
func (p *faultProxy) cutNow(key string) bool {
	if p.forever[key] {
		return true
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, done := p.cut[key]; done {
		return false
	}
	doCut := len(p.cut) < p.Cuts
	p.cut[key] = doCut
	return doCut
}

// status is the fault for the n-th request with this key: 0, 429 or 503.
func (p *faultProxy) status(key string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := p.seen[key]
	p.seen[key]++
	x := draw(p.Seed, key, n)
	if x >= p.Rate || p.run[key] >= p.MaxRun {
		p.run[key] = 0
		return 0
	}
	p.run[key]++
	if draw(p.Seed^1, key, n) < 0.5 {
		return http.StatusTooManyRequests
	}
	return http.StatusServiceUnavailable
}

// draw is a number in [0, 1) that depends only on seed, key and n.
func draw(seed uint64, key string, n int) float64 {
	h := sha256.New()
	binary.Write(h, binary.BigEndian, seed)
	binary.Write(h, binary.BigEndian, int64(n))
	io.WriteString(h, key)
	return float64(binary.BigEndian.Uint64(h.Sum(nil))>>11) / (1 << 53)
}

func blobKey(size int64, head []byte) string {
	sum := sha256.Sum256(head)
	return fmt.Sprintf("%d:%x", size, sum[:8])
}

// layerKey is blobKey for a layer's compressed bytes, as its upload sends them.
func layerKey(l v1.Layer) (string, error) {
	size, err := l.Size()
	if err != nil {
		return "", err
	}
	rc, err := l.Compressed()
	if err != nil {
		return "", err
	}
	defer rc.Close()
	head := make([]byte, min(size/2, headMax))
	if _, err := io.ReadFull(rc, head); err != nil {
		return "", err
	}
	return blobKey(size, head), nil
}

// cut drops the connection without an answer, the rest of the body unread.
func cut(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("registrytest: the proxy cannot hijack connections")
	}
	c, _, err := hj.Hijack()
	if err == nil {
		c.Close()
	}
}
