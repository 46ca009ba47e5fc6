package registrytest

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// The same seed gives the same faults, none more than MaxRun in a row.
func TestProxyFaultsAreSeeded(t *testing.T) {
	t.Parallel()
	upstream := New(t)
	statuses := func(seed uint64) []int {
		host, _ := Proxy(t, upstream, Faults{Seed: seed, Rate: 0.5, MaxRun: 2})
		var out []int
		for range 200 {
			resp, err := http.Get("http://" + host + "/v2/")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			out = append(out, resp.StatusCode)
		}
		return out
	}
	a, b, c := statuses(1), statuses(1), statuses(2)
	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("seed 1 twice (-first +second)\n%s", diff)
	}
	if cmp.Equal(a, c) {
		t.Error("seeds 1 and 2 gave the same faults")
	}
	faults, run := 0, 0
	for _, s := range a {
		if s == http.StatusOK {
			run = 0
			continue
		}
		if s != http.StatusTooManyRequests && s != http.StatusServiceUnavailable {
			t.Fatalf("status %d", s)
		}
		faults++
		if run++; run > 2 {
			t.Fatal("more than MaxRun faults in a row")
		}
	}
	if faults < 60 || faults > 120 {
		t.Errorf("%d faults in 200 requests at rate 0.5 (at most 2 in a row)", faults)
	}
}

// Cuts cuts the first upload of so many blobs; CutForever cuts a blob's
// every upload.
func TestProxyCuts(t *testing.T) {
	t.Parallel()
	upstream := New(t)
	img, err := random.Image(4096, 3)
	if err != nil {
		t.Fatal(err)
	}
	host, log := Proxy(t, upstream, Faults{Cuts: 2})
	ref, _ := name.ParseReference(host + "/a/b:v1")
	// Without retries the first cut fails the push; with them, it succeeds.
	if err := remote.Write(ref, img, remote.WithRetryBackoff(remote.Backoff{Steps: 1})); err == nil {
		t.Fatal("no upload was cut")
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	if n := log.Count("cut"); n != 2 {
		t.Errorf("%d cuts, want 2: %v", n, log.Faults())
	}

	// The in-process registry shares blobs across repositories: a new one.
	layers, _ := img.Layers()
	host, log = Proxy(t, New(t), Faults{CutForever: layers[1:2]})
	ref, _ = name.ParseReference(host + "/a/c:v1")
	err = remote.Write(ref, img, remote.WithRetryBackoff(remote.Backoff{Duration: time.Millisecond, Steps: 3}))
	var te *transport.Error
	if err == nil || errors.As(err, &te) {
		t.Fatalf("got %v, want a connection error", err)
	}
	for _, f := range log.Faults() {
		if f.Kind != "cut" || f.Method != http.MethodPatch || !strings.HasPrefix(f.Path, "/v2/a/c/blobs/uploads/") {
			t.Errorf("fault %s", f)
		}
	}
	if n := log.Count("cut"); n < 2 {
		t.Errorf("%d cuts: the blob was not retried", n)
	}
}
