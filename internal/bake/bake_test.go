package bake

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/driftless-dev/driftless/internal/configrev"
	"github.com/driftless-dev/driftless/internal/registry"
	"github.com/driftless-dev/driftless/internal/repofs"
)

// recorder counts the requests a real in-process registry receives.
type recorder struct {
	mu       sync.Mutex
	requests []string
}

func (r *recorder) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.requests = append(r.requests, req.Method+" "+req.URL.Path)
		r.mu.Unlock()
		h.ServeHTTP(w, req)
	})
}

// uploads counts blob uploads started since the last reset.
func (r *recorder) uploads() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, q := range r.requests {
		if strings.HasPrefix(q, "POST ") && strings.HasSuffix(q, "/blobs/uploads/") {
			n++
		}
	}
	return n
}

func (r *recorder) reset() {
	r.mu.Lock()
	r.requests = nil
	r.mu.Unlock()
}

func newRegistry(t *testing.T, wrap func(http.Handler) http.Handler) string {
	t.Helper()
	h := ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	return u.Host
}

var fast = registry.Options{Backoff: remote.Backoff{Duration: 10 * time.Millisecond, Factor: 1.5, Steps: 6}}

func ropts() []remote.Option { return fast.Remote(context.Background()) }

// tree writes files under dir.
func tree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		mode := os.FileMode(0o644)
		if strings.HasPrefix(name, "bin/") {
			mode = 0o755
		}
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
}

var sources = map[string]string{
	"bin/app":              "#!/bin/sh\necho app\n",
	"static/apis/a.yaml":   "name: a\n",
	"static/plans.yaml":    "plans: [free]\n",
	"static/deep/x/y.json": "{}\n",
}

func specFor(dir, base string) Spec {
	rev, _ := configrev.Dir(filepath.Join(dir, "static"))
	root, _ := repofs.NewRoot(dir)
	return Spec{
		Root:           root,
		Base:           base,
		Layers:         []File{{Source: filepath.Join(dir, "bin/app"), Target: "/usr/local/bin/app"}},
		Static:         &File{Source: filepath.Join(dir, "static"), Target: "/var/portal-api/static"},
		ConfigRevision: rev,
		Entrypoint:     []string{"/usr/local/bin/app"},
		Env:            map[string]string{"PSSP_STATIC_DIR": "/var/portal-api/static"},
		Created:        time.Unix(1700000000, 0).UTC(),
		Revision:       "c0ffee",
		Version:        "v1.2.3",
		Source:         "https://example.com/o/r",
	}
}

func pushBase(t *testing.T, host, repoTag string, layers int) v1.Image {
	t.Helper()
	img, err := random.Image(256, int64(layers))
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(host + "/" + repoTag)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, ropts()...); err != nil {
		t.Fatal(err)
	}
	return img
}

func TestReproducibleAcrossClones(t *testing.T) {
	t.Parallel()
	host := newRegistry(t, nil)
	pushBase(t, host, "base/runtime:1.4", 3)
	// Two clones of one commit: different paths, different file mtimes.
	origin := t.TempDir()
	tree(t, origin, sources)
	git := func(dir string, args ...string) {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_AUTHOR_NAME=a", "GIT_AUTHOR_EMAIL=a@example.com", "GIT_COMMITTER_NAME=a", "GIT_COMMITTER_EMAIL=a@example.com")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git(origin, "init", "-q")
	git(origin, "add", ".")
	git(origin, "commit", "-q", "-m", "one")
	var digests []string
	for i := range 2 {
		clone := filepath.Join(t.TempDir(), "clone")
		git(".", "clone", "-q", origin, clone)
		time.Sleep(1100 * time.Millisecond * time.Duration(i)) // different mtimes
		res, err := Bake(context.Background(), specFor(clone, host+"/base/runtime:1.4"), ropts())
		if err != nil {
			t.Fatal(err)
		}
		digests = append(digests, res.Digest.String())
	}
	if digests[0] != digests[1] {
		t.Errorf("two clones of one commit baked %s and %s", digests[0], digests[1])
	}
}

func TestPushUploadsOnlyWhatIsMissing(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	host := newRegistry(t, rec.wrap)
	base := pushBase(t, host, "base/runtime:1.4", 3)
	dir := t.TempDir()
	tree(t, dir, sources)
	repo, _ := name.NewRepository(host + "/team/api")

	rec.reset()
	res, err := Bake(context.Background(), specFor(dir, host+"/base/runtime:1.4"), ropts())
	if err != nil {
		t.Fatal(err)
	}
	pushed, err := Push(res, repo, ropts())
	if err != nil || !pushed {
		t.Fatalf("first push: %v %v", pushed, err)
	}
	// Our two layers and the config are uploaded; the base's three layers
	// are mounted from base/runtime, not uploaded.
	if n := rec.uploads(); n != 3 {
		t.Errorf("first push started %d blob uploads, want 3 (2 layers + config)", n)
	}
	baseLayers, _ := base.Layers()
	for _, l := range baseLayers {
		d, _ := l.Digest()
		if _, err := remote.Layer(repo.Digest(d.String()), ropts()...); err != nil {
			t.Errorf("base layer %s missing in the target: %v", d, err)
		}
	}

	rec.reset()
	again, err := Bake(context.Background(), specFor(dir, host+"/base/runtime:1.4"), ropts())
	if err != nil {
		t.Fatal(err)
	}
	pushed, err = Push(again, repo, ropts())
	if err != nil || pushed {
		t.Fatalf("second push: pushed=%v err=%v, want nothing pushed", pushed, err)
	}
	if again.Digest != res.Digest {
		t.Errorf("re-bake changed the digest: %s → %s", res.Digest, again.Digest)
	}
	for _, q := range rec.requests {
		if q[:3] != "GET" && q[:4] != "HEAD" {
			t.Errorf("a re-bake of unchanged inputs wrote: %s", q)
		}
	}
}

func TestStaticChangeChangesOnlyItsLayer(t *testing.T) {
	t.Parallel()
	host := newRegistry(t, nil)
	pushBase(t, host, "base/runtime:1.4", 2)
	dir := t.TempDir()
	tree(t, dir, sources)
	a, err := Bake(context.Background(), specFor(dir, host+"/base/runtime:1.4"), ropts())
	if err != nil {
		t.Fatal(err)
	}
	tree(t, dir, map[string]string{"static/plans.yaml": "plans: [free, gold]\n"})
	b, err := Bake(context.Background(), specFor(dir, host+"/base/runtime:1.4"), ropts())
	if err != nil {
		t.Fatal(err)
	}
	if a.Digest == b.Digest {
		t.Fatal("a changed static file did not change the digest")
	}
	la, _ := a.Image.Layers()
	lb, _ := b.Image.Layers()
	for i := range la {
		da, _ := la[i].Digest()
		db, _ := lb[i].Digest()
		if last := i == len(la)-1; (da == db) == last {
			t.Errorf("layer %d: %s vs %s (only the last, static layer may differ)", i, da, db)
		}
	}
	ca, _ := a.Image.ConfigFile()
	cb, _ := b.Image.ConfigFile()
	if ca.Config.Labels[KeyConfigRevision] == cb.Config.Labels[KeyConfigRevision] {
		t.Error("config revision label did not change")
	}
	// Nothing else in the config differs: mask the revision and compare.
	for _, c := range []*v1.ConfigFile{ca, cb} {
		c.Config.Labels[KeyConfigRevision] = ""
		for i, e := range c.Config.Env {
			if strings.HasPrefix(e, EnvConfigRevision+"=") {
				c.Config.Env[i] = EnvConfigRevision + "="
			}
		}
		c.RootFS.DiffIDs = c.RootFS.DiffIDs[:len(c.RootFS.DiffIDs)-1]
	}
	if diff := cmp.Diff(ca, cb); diff != "" {
		t.Errorf("config differs beyond the revision (-a +b):\n%s", diff)
	}
}

// TestLabelsAndRevision: the image is traceable, and its config revision
// is what the service computes from the baked directory at start.
func TestLabelsAndRevision(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tree(t, dir, sources)
	s := specFor(dir, Scratch)
	res, err := Bake(context.Background(), s, nil)
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := res.Image.ConfigFile()
	want := map[string]string{
		KeyCreated: "2023-11-14T22:13:20Z", KeyRevision: "c0ffee", KeySource: "https://example.com/o/r", KeyVersion: "v1.2.3",
		KeyBaseName: "scratch", KeyConfigRevision: s.ConfigRevision,
	}
	if diff := cmp.Diff(want, cf.Config.Labels); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
	m, _ := res.Image.Manifest()
	if diff := cmp.Diff(want, m.Annotations); diff != "" {
		t.Errorf("annotations (-want +got):\n%s", diff)
	}
	if m.MediaType != "application/vnd.oci.image.manifest.v1+json" {
		t.Errorf("manifest media type %s", m.MediaType)
	}
	// Extract the image's filesystem and hash the static directory as
	// the service does at start.
	root := t.TempDir()
	extract(t, res.Image, root)
	got, err := configrev.Dir(filepath.Join(root, "var/portal-api/static"))
	if err != nil {
		t.Fatal(err)
	}
	if got != s.ConfigRevision {
		t.Errorf("revision of the baked directory %s, label %s", got, s.ConfigRevision)
	}
	fi, err := os.Stat(filepath.Join(root, "usr/local/bin/app"))
	if err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("binary mode: %v %v", fi, err)
	}
	if !strings.Contains(strings.Join(cf.Config.Env, " "), EnvConfigRevision+"="+s.ConfigRevision) {
		t.Errorf("env %v lacks the revision", cf.Config.Env)
	}
}

func extract(t *testing.T, img v1.Image, root string) {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(root, h.Name)
		switch h.Typeflag {
		case tar.TypeDir:
			os.MkdirAll(p, 0o755)
		case tar.TypeReg:
			os.MkdirAll(filepath.Dir(p), 0o755)
			b, _ := io.ReadAll(tr)
			if err := os.WriteFile(p, b, os.FileMode(h.Mode)); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestMultiPlatform(t *testing.T) {
	t.Parallel()
	host := newRegistry(t, nil)
	var idx v1.ImageIndex = empty.Index
	for _, arch := range []string{"amd64", "arm64"} {
		img, _ := random.Image(128, 2)
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}}})
	}
	ref, _ := name.ParseReference(host + "/base/multi:1")
	if err := remote.WriteIndex(ref, idx, ropts()...); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	tree(t, dir, map[string]string{"bin/app-amd64": "amd64 binary", "bin/app-arm64": "arm64 binary", "static/a.yaml": "a: 1\n"})
	s := specFor(dir, host+"/base/multi:1")
	s.Layers = []File{{Source: filepath.Join(dir, "bin/app-${TARGETARCH}"), Target: "/usr/local/bin/app"}}
	res, err := Bake(context.Background(), s, ropts())
	if err != nil {
		t.Fatal(err)
	}
	if res.Index == nil {
		t.Fatal("a multi-platform base must give an index")
	}
	if diff := cmp.Diff([]string{"linux/amd64", "linux/arm64"}, res.Platforms); diff != "" {
		t.Errorf("platforms (-want +got):\n%s", diff)
	}
	im, _ := res.Index.IndexManifest()
	for _, d := range im.Manifests {
		img, _ := res.Index.Image(d.Digest)
		root := t.TempDir()
		extract(t, img, root)
		b, _ := os.ReadFile(filepath.Join(root, "usr/local/bin/app"))
		if string(b) != d.Platform.Architecture+" binary" {
			t.Errorf("%s got %q", d.Platform, b)
		}
		layers, _ := img.Layers()
		if len(layers) != 4 {
			t.Errorf("%s has %d layers, want 2 base + 2 ours", d.Platform, len(layers))
		}
	}
	if im.Annotations[KeyBaseDigest] == "" {
		t.Error("index lacks the base digest annotation")
	}
	repo, _ := name.NewRepository(host + "/team/api")
	if _, err := Push(res, repo, ropts()); err != nil {
		t.Fatal(err)
	}
}

func TestRebaseWhenBaseChanges(t *testing.T) {
	t.Parallel()
	host := newRegistry(t, nil)
	pushBase(t, host, "base/runtime:1.4", 2)
	dir := t.TempDir()
	tree(t, dir, sources)
	res, err := Bake(context.Background(), specFor(dir, host+"/base/runtime:1.4"), ropts())
	if err != nil {
		t.Fatal(err)
	}
	repo, _ := name.NewRepository(host + "/team/api")
	if _, err := Push(res, repo, ropts()); err != nil {
		t.Fatal(err)
	}
	if err := remote.Tag(repo.Tag("v1.2.3"), res.Image, ropts()...); err != nil {
		t.Fatal(err)
	}
	check, err := CheckBase(repo.Tag("v1.2.3"), ropts())
	if err != nil {
		t.Fatal(err)
	}
	if check.Changed() {
		t.Fatalf("unchanged base reported changed: %+v", check)
	}
	newBase := pushBase(t, host, "base/runtime:1.4", 2) // a security update
	check, err = CheckBase(repo.Tag("v1.2.3"), ropts())
	if err != nil {
		t.Fatal(err)
	}
	nd, _ := newBase.Digest()
	if !check.Changed() || check.Latest != nd.String() {
		t.Fatalf("base change not seen: %+v", check)
	}
	rebased, err := Rebase(check, ropts())
	if err != nil {
		t.Fatal(err)
	}
	got, _ := rebased.Image.Layers()
	want, _ := newBase.Layers()
	ours, _ := res.Image.Layers()
	want = append(want, ours[2:]...)
	for i := range want {
		a, _ := want[i].Digest()
		b, _ := got[i].Digest()
		if a != b {
			t.Errorf("layer %d: %s, want %s", i, b, a)
		}
	}
	cf, _ := rebased.Image.ConfigFile()
	orig, _ := res.Image.ConfigFile()
	if cf.Config.Labels[KeyBaseDigest] != nd.String() || cf.Config.Labels[KeyConfigRevision] != orig.Config.Labels[KeyConfigRevision] || !cf.Created.Equal(orig.Created.Time) {
		t.Errorf("rebased labels %v created %v", cf.Config.Labels, cf.Created)
	}
	m, _ := rebased.Image.Manifest()
	om, _ := res.Image.Manifest()
	if m.Annotations[KeyBaseDigest] != nd.String() || m.MediaType != om.MediaType {
		t.Errorf("rebased manifest %s %v", m.MediaType, m.Annotations)
	}
	if _, err := Push(rebased, repo, ropts()); err != nil {
		t.Fatal(err)
	}
}

// faulty answers the first attempts of some requests with errors, the way
// overloaded or flaky registries do, in front of a real registry.
func faulty(plan func(n int64, r *http.Request) (status int, drop bool)) func(http.Handler) http.Handler {
	var n atomic.Int64
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			status, drop := plan(n.Add(1), r)
			switch {
			case drop:
				// Read part of the body, then cut the connection.
				io.CopyN(io.Discard, r.Body, 64)
				hj, ok := w.(http.Hijacker)
				if !ok {
					panic("no hijacker")
				}
				c, _, _ := hj.Hijack()
				c.Close()
			case status != 0:
				w.WriteHeader(status)
			default:
				h.ServeHTTP(w, r)
			}
		})
	}
}

func TestPushSurvivesFaults(t *testing.T) {
	t.Parallel()
	// The first request of each kind fails, each in its own way.
	var mu sync.Mutex
	seen := map[string]bool{}
	var faults []string
	host := newRegistry(t, faulty(func(n int64, r *http.Request) (int, bool) {
		kind := r.Method + " " + map[bool]string{true: "manifest", false: "blob"}[strings.Contains(r.URL.Path, "/manifests/")]
		mu.Lock()
		defer mu.Unlock()
		if seen[kind] {
			return 0, false
		}
		seen[kind] = true
		faults = append(faults, kind)
		switch kind {
		case "POST blob":
			return http.StatusTooManyRequests, false
		case "PATCH blob", "PUT blob":
			return 0, true // the connection drops mid-upload
		case "PUT manifest":
			return http.StatusBadGateway, false
		}
		return http.StatusServiceUnavailable, false
	}))
	dir := t.TempDir()
	tree(t, dir, sources)
	res, err := Bake(context.Background(), specFor(dir, Scratch), nil)
	if err != nil {
		t.Fatal(err)
	}
	repo, _ := name.NewRepository(host + "/team/api")
	if _, err := Push(res, repo, ropts()); err != nil {
		t.Fatalf("push through faults: %v", err)
	}
	got, err := remote.Image(repo.Digest(res.Digest.String()), ropts()...)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := got.Digest(); d != res.Digest {
		t.Errorf("pushed %s, registry has %s", res.Digest, d)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, want := range []string{"POST blob", "PATCH blob", "PUT manifest", "HEAD manifest"} {
		if !seen[want] {
			t.Errorf("no %s fault was injected (faults: %v)", want, faults)
		}
	}
}

func TestPushFailureNamesWhatFailed(t *testing.T) {
	t.Parallel()
	host := newRegistry(t, faulty(func(n int64, r *http.Request) (int, bool) {
		if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/") {
			return http.StatusInternalServerError, false
		}
		return 0, false
	}))
	dir := t.TempDir()
	tree(t, dir, sources)
	res, err := Bake(context.Background(), specFor(dir, Scratch), nil)
	if err != nil {
		t.Fatal(err)
	}
	repo, _ := name.NewRepository(host + "/team/api")
	_, err = Push(res, repo, ropts())
	if err == nil || !strings.Contains(err.Error(), "pushing "+host+"/team/api@"+res.Digest.String()) || !strings.Contains(err.Error(), "500") {
		t.Fatalf("error %v should name the manifest and the status", err)
	}
	// The manifest was refused, so no tag or manifest points at it.
	if _, err := remote.Head(repo.Digest(res.Digest.String()), ropts()...); err == nil {
		t.Error("a manifest is there although its push failed")
	}
}

func TestPlainHTTPOnlyForLoopback(t *testing.T) {
	t.Parallel()
	ref, _ := name.ParseReference("192.168.1.10:5000/team/api:v1")
	_, err := remote.Head(ref, registry.Options{}.Remote(context.Background())...)
	if err == nil || !strings.Contains(err.Error(), "refusing plain HTTP to registry 192.168.1.10:5000") {
		t.Errorf("got %v", err)
	}
}
