package bake

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/driftless-dev/driftless/internal/registry/distribution"
)

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

// TestDistribution bakes against CNCF Distribution, through a proxy that
// injects 503s and a dropped connection, then re-bakes and uploads nothing.
func TestDistribution(t *testing.T) {
	t.Parallel()
	upstream := startDistribution(t)
	target, _ := url.Parse("http://" + upstream)
	proxy := httputil.NewSingleHostReverseProxy(target)
	rec := &recorder{}
	var mu sync.Mutex
	seen := map[string]bool{}
	srv := httptest.NewServer(rec.wrap(faulty(func(n int64, r *http.Request) (int, bool) {
		mu.Lock()
		defer mu.Unlock()
		kind := r.Method
		if seen[kind] || r.URL.Path == "/v2/" {
			return 0, false
		}
		seen[kind] = true
		if kind == http.MethodPatch {
			return 0, true
		}
		return http.StatusServiceUnavailable, false
	})(proxy)))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")

	pushBase(t, upstream, "base/runtime:1.4", 3)
	dir := t.TempDir()
	tree(t, dir, sources)
	repo, _ := name.NewRepository(host + "/team/api")
	res, err := Bake(context.Background(), specFor(dir, host+"/base/runtime:1.4"), ropts())
	if err != nil {
		t.Fatal(err)
	}
	if pushed, err := Push(res, repo, ropts()); err != nil || !pushed {
		t.Fatalf("push: %v %v", pushed, err)
	}
	got, err := remote.Image(repo.Digest(res.Digest.String()), ropts()...)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := got.Digest(); d != res.Digest {
		t.Errorf("registry has %s, pushed %s", d, res.Digest)
	}
	rec.reset()
	again, _ := Bake(context.Background(), specFor(dir, host+"/base/runtime:1.4"), ropts())
	if pushed, err := Push(again, repo, ropts()); err != nil || pushed {
		t.Fatalf("re-push: pushed=%v err=%v", pushed, err)
	}
	if n := rec.uploads(); n != 0 {
		t.Errorf("a re-bake uploaded %d blobs", n)
	}
}
