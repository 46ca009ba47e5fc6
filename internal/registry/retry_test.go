package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// answers serves the statuses in order (200 once they run out) and
// records each request as "METHOD body".
type answers struct {
	mu       sync.Mutex
	statuses []int
	header   http.Header
	got      []string
}

func (a *answers) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	a.mu.Lock()
	a.got = append(a.got, strings.TrimSpace(r.Method+" "+string(body)))
	status := http.StatusOK
	if len(a.statuses) > 0 {
		status, a.statuses = a.statuses[0], a.statuses[1:]
	}
	a.mu.Unlock()
	for k, v := range a.header {
		w.Header()[k] = v
	}
	w.WriteHeader(status)
}

func (a *answers) requests() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.got...)
}

func TestRetryTransport(t *testing.T) {
	t.Parallel()
	fast := remote.Backoff{Duration: time.Millisecond, Factor: 2, Steps: 4}
	for _, tc := range []struct {
		name       string
		method     string
		body       string
		statuses   []int
		want       int
		wantSent   []string
		retryAfter string
	}{
		{name: "answered after two 503s", method: http.MethodHead, statuses: []int{503, 503}, want: 200,
			wantSent: []string{"HEAD", "HEAD", "HEAD"}},
		{name: "a manifest is sent again whole", method: http.MethodPut, body: "{manifest}", statuses: []int{429, 502}, want: 200,
			wantSent: []string{"PUT {manifest}", "PUT {manifest}", "PUT {manifest}"}},
		{name: "an upload start", method: http.MethodPost, statuses: []int{429}, want: 200,
			wantSent: []string{"POST", "POST"}},
		{name: "a chunk is never sent twice", method: http.MethodPatch, body: "chunk", statuses: []int{503}, want: 503,
			wantSent: []string{"PATCH chunk"}},
		{name: "not a retried status", method: http.MethodGet, statuses: []int{404}, want: 404,
			wantSent: []string{"GET"}},
		{name: "budget spent", method: http.MethodGet, statuses: []int{500, 500, 500, 500, 500}, want: 500,
			wantSent: []string{"GET", "GET", "GET", "GET"}},
		{name: "Retry-After is honoured", method: http.MethodGet, statuses: []int{429}, want: 200, retryAfter: "1",
			wantSent: []string{"GET", "GET"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := &answers{statuses: tc.statuses, header: http.Header{}}
			if tc.retryAfter != "" {
				a.header.Set("Retry-After", tc.retryAfter)
			}
			srv := httptest.NewServer(a)
			t.Cleanup(srv.Close)
			var body io.Reader
			if tc.body != "" {
				body = bytes.NewBufferString(tc.body)
			}
			req, err := http.NewRequest(tc.method, srv.URL, body)
			if err != nil {
				t.Fatal(err)
			}
			rt := &retryTransport{base: http.DefaultTransport, backoff: fast}
			start := time.Now()
			resp, err := rt.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.want)
			}
			if diff := cmp.Diff(tc.wantSent, a.requests()); diff != "" {
				t.Errorf("requests (-want +got)\n%s", diff)
			}
			if took := time.Since(start); tc.retryAfter != "" && took < time.Second {
				t.Errorf("sent again after %v, before Retry-After: %s", took, tc.retryAfter)
			}
		})
	}
}

// A wait for the next try ends with the context, and the error says both
// what the registry answered and why no more tries were made.
func TestRetryTransportContext(t *testing.T) {
	t.Parallel()
	a := &answers{statuses: []int{503, 503, 503}}
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	rt := &retryTransport{base: http.DefaultTransport, backoff: remote.Backoff{Duration: time.Minute, Steps: 3}}
	start := time.Now()
	_, err := rt.RoundTrip(req)
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("returned %v after the deadline", took)
	}
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), `answered "503 Service Unavailable"`) {
		t.Errorf("error %v should say 503 and context deadline exceeded", err)
	}
}

func TestRetryable(t *testing.T) {
	t.Parallel()
	upload := func(method string, status int, codes ...transport.ErrorCode) error {
		u, _ := url.Parse("http://127.0.0.1:5000/v2/team/api/blobs/uploads/abc")
		te := &transport.Error{StatusCode: status, Request: &http.Request{Method: method, URL: u}}
		for _, c := range codes {
			te.Errors = append(te.Errors, transport.Diagnostic{Code: c})
		}
		return te
	}
	manifest := func(method string, status int) error {
		u, _ := url.Parse("http://127.0.0.1:5000/v2/team/api/manifests/v1")
		return &transport.Error{StatusCode: status, Request: &http.Request{Method: method, URL: u}}
	}
	urlErr := func(err error) error { return &url.Error{Op: "Patch", URL: "http://127.0.0.1:5000/", Err: err} }
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{urlErr(io.EOF), true},
		{urlErr(io.ErrUnexpectedEOF), true},
		{urlErr(syscall.ECONNRESET), true},
		{urlErr(syscall.EPIPE), true},
		{fmt.Errorf("uploading: %w", urlErr(syscall.ECONNRESET)), true},
		// The step's context ended: never again, though a deadline is a timeout.
		{urlErr(context.DeadlineExceeded), false},
		{urlErr(context.Canceled), false},
		// A chunk refused: the upload starts over.
		{upload(http.MethodPatch, 503), true},
		{upload(http.MethodPatch, 429), true},
		// The upload session is gone: start over.
		{upload(http.MethodPut, 404, transport.BlobUploadUnknownErrorCode), true},
		{upload(http.MethodPatch, 416), true},
		{upload(http.MethodPut, 400, transport.BlobUploadInvalidErrorCode), true},
		// Our transport sent these again already.
		{upload(http.MethodPost, 503), false},
		{upload(http.MethodPut, 503), false},
		{manifest(http.MethodPut, 503), false},
		// Not transient.
		{upload(http.MethodPut, 400, transport.DigestInvalidErrorCode), false},
		{manifest(http.MethodPut, 400), false},
		{manifest(http.MethodHead, 404), false},
		{manifest(http.MethodPut, 401), false},
	} {
		if got := Retryable(tc.err); got != tc.want {
			t.Errorf("Retryable(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		header string
		want   time.Duration
	}{
		{"", 0},
		{"3", 3 * time.Second},
		{"0", 0},
		{"-4", 0},
		{"3600", MaxRetryAfter},
		{now.Add(10 * time.Second).Format(http.TimeFormat), 10 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
		{"soon", 0},
	} {
		if got := retryAfter(tc.header, now); got != tc.want {
			t.Errorf("retryAfter(%q) = %v, want %v", tc.header, got, tc.want)
		}
	}
}

// Options.Remote retries nothing once the context is done, even an error
// that would be retried otherwise.
func TestRemoteStopsWithContext(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		mu.Unlock()
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	ref, err := name.ParseReference(strings.TrimPrefix(srv.URL, "http://") + "/team/api:v1")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = remote.Head(ref, Options{}.Remote(ctx)...)
	if err == nil || !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context canceled", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("took %v with a cancelled context", took)
	}
	mu.Lock()
	defer mu.Unlock()
	if n > 0 {
		t.Errorf("%d requests with a cancelled context", n)
	}
}
