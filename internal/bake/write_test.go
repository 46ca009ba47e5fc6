package bake

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/driftless-dev/driftless/internal/registry"
	"github.com/driftless-dev/driftless/internal/registry/registrytest"
)

// registries are the two real registries the fault tests run against.
var registries = []struct {
	name  string
	start func(*testing.T) string
}{
	{"in-process", func(t *testing.T) string { return registrytest.New(t) }},
	{"distribution", startDistribution},
}

var realWaits = flag.Bool("real-waits", false, "fault tests wait as long between retries as the steps do")

// scaled is the default retry budget (attempts, growth) with waits a
// fiftieth as long, so fault tests take seconds; -real-waits keeps them.
func scaled(ctx context.Context) []remote.Option {
	b := registry.DefaultBackoff
	if !*realWaits {
		b.Duration /= 50
	}
	return registry.Options{Backoff: b}.Remote(ctx)
}

// bakeRelease bakes release n of the test application: each release has
// its own static configuration and a 1 MiB binary, so each uploads new
// blobs, large enough to be cut mid-body. It has no base: the base's name,
// with a test registry's random port, would be in the image, and the fault
// schedule depends on digests.
func bakeRelease(t *testing.T, n int) *Result {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{}
	for k, v := range sources {
		files[k] = v
	}
	files["static/release.yaml"] = fmt.Sprintf("release: %d\n", n)
	tree(t, dir, files)
	bin := make([]byte, 1<<20)
	rng := rand.NewChaCha8([32]byte{byte(n)})
	rng.Read(bin)
	if err := os.WriteFile(filepath.Join(dir, "bin/app"), bin, 0o755); err != nil {
		t.Fatal(err)
	}
	s := specFor(dir, Scratch)
	s.Version = fmt.Sprintf("v1.0.%d", n)
	res, err := Bake(context.Background(), s, nil)
	if err != nil {
		t.Fatalf("baking release %d: %v", n, err)
	}
	return res
}

// complete fails unless repo holds the image res by digest with every blob.
func complete(t *testing.T, repo name.Repository, res *Result) {
	t.Helper()
	img, err := remote.Image(repo.Digest(res.Digest.String()))
	if err != nil {
		t.Fatalf("reading %s back: %v", res.Digest, err)
	}
	if err := validate.Image(img); err != nil {
		t.Errorf("%s@%s is not complete: %v", repo, res.Digest, err)
	}
}

// TestPushFlakyRegistry pushes twelve releases in a row through a registry
// proxy that answers 15% of requests with 429 or 503 and cuts three uploads
// mid-body in each run: every push must succeed, with every blob in place.
// (The schedule is fixed by the seeds: with five tries per upload, runs 11
// and 12 gave up.) The same pushes through a proxy without faults, to
// another registry of the same kind, are the clean run the time is
// compared with.
func TestPushFlakyRegistry(t *testing.T) {
	t.Parallel()
	for _, reg := range registries {
		t.Run(reg.name, func(t *testing.T) {
			t.Parallel()
			clean := pushReleases(t, reg.start(t), func(int) registrytest.Faults { return registrytest.Faults{} })
			statuses := 0
			flaky := pushReleases(t, reg.start(t), func(run int) registrytest.Faults {
				return registrytest.Faults{Seed: uint64(run), Rate: 0.15, Cuts: 3}
			}, func(run int, faults *registrytest.FaultLog) {
				if n := faults.Count("cut"); n != 3 {
					t.Errorf("run %d: %d uploads cut, want 3", run, n)
				}
				statuses += faults.Count("429") + faults.Count("503")
			})
			if statuses == 0 {
				t.Errorf("no 429 or 503 injected in %d runs", runs)
			}
			t.Logf("%d pushes: %v clean, %v with %d cuts and %d 429/503 answers (%.1fx)", runs,
				clean.Round(time.Millisecond), flaky.Round(time.Millisecond), 3*runs, statuses, float64(flaky)/float64(clean))
		})
	}
}

// runs is how many releases the fault tests push or tag in a row.
const runs = 12

// pushReleases bakes and pushes releases 1 to runs to upstream, each through
// a proxy with the run's faults, and returns the time the pushes took.
// Every push must succeed and leave the image complete upstream.
func pushReleases(t *testing.T, upstream string, faults func(run int) registrytest.Faults, check ...func(int, *registrytest.FaultLog)) time.Duration {
	t.Helper()
	var took time.Duration
	for run := 1; run <= runs; run++ {
		host, log := registrytest.Proxy(t, upstream, faults(run))
		ropts := scaled(context.Background())
		res := bakeRelease(t, run)
		repo, _ := name.NewRepository(host + "/team/api")
		start := time.Now()
		pushed, err := Push(res, repo, ropts)
		took += time.Since(start)
		if err != nil || !pushed {
			t.Fatalf("run %d: pushed=%v err=%v\nfaults: %v", run, pushed, err, log.Faults())
		}
		for _, c := range check {
			c(run, log)
		}
		up, _ := name.NewRepository(upstream + "/team/api")
		complete(t, up, res)
	}
	return took
}

// TestPushCutForever: a registry that cuts one blob's upload every time
// gets the push refused within its deadline, by an error that names the
// blob and the repository, and holds no manifest (so nothing can tag it).
func TestPushCutForever(t *testing.T) {
	t.Parallel()
	for _, reg := range registries {
		for _, tc := range []struct {
			name     string
			deadline time.Duration
			backoff  remote.Backoff
			cause    string
		}{
			// The retries run out first: the cause is the last cut.
			{"retries spent", 20 * time.Second, remote.Backoff{Duration: 10 * time.Millisecond, Factor: 1.5, Steps: 8}, `Patch "`},
			// The deadline comes first, in the middle of the retries (20
			// tries 200 ms apart).
			{"deadline", 1500 * time.Millisecond, remote.Backoff{Duration: 200 * time.Millisecond, Factor: 1, Steps: 20}, "context deadline exceeded"},
		} {
			t.Run(reg.name+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				upstream := reg.start(t)
				res := bakeRelease(t, 1)
				layers, err := res.Image.Layers()
				if err != nil {
					t.Fatal(err)
				}
				var bin v1.Layer
				for _, l := range layers {
					if size, _ := l.Size(); size > 1<<19 {
						bin = l
					}
				}
				host, faults := registrytest.Proxy(t, upstream, registrytest.Faults{Seed: 7, Rate: 0.15, CutForever: []v1.Layer{bin}})
				repo, _ := name.NewRepository(host + "/team/api")
				ctx, cancel := context.WithTimeout(context.Background(), tc.deadline)
				defer cancel()
				start := time.Now()
				_, err = Push(res, repo, registry.Options{Backoff: tc.backoff}.Remote(ctx))
				took := time.Since(start)
				d, _ := bin.Digest()
				t.Logf("after %v and %d cuts: %v", took.Round(time.Millisecond), faults.Count("cut"), err)
				if err == nil {
					t.Fatal("pushed although every upload of the binary's layer was cut")
				}
				want := fmt.Sprintf("uploading blob %s (layer 1 of 2) to %s: ", d, repo)
				if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), tc.cause) {
					t.Errorf("error %q\nshould say %q and %q", err, want, tc.cause)
				}
				// go-containerregistry's wait between two tries of an upload
				// does not watch the context: the push ends at most one wait
				// (the deadline case's are 200 ms) after the deadline, give or
				// take a busy machine's scheduling.
				if limit := tc.deadline + 200*time.Millisecond + 250*time.Millisecond; took > limit {
					t.Errorf("gave up after %v, more than one wait past the deadline (%v)", took, tc.deadline)
				}
				if n := faults.Count("cut"); n < 2 || (tc.cause != "context deadline exceeded" && n != tc.backoff.Steps) {
					t.Errorf("%d uploads cut in %d tries", n, tc.backoff.Steps)
				}
				// The invariant: no manifest (so no tag) without its blobs.
				up, _ := name.NewRepository(upstream + "/team/api")
				if _, err := remote.Head(up.Digest(res.Digest.String())); err == nil {
					t.Errorf("the registry holds manifest %s although blob %s is missing", res.Digest, d)
				}
				if tags, err := remote.List(up); err == nil && len(tags) > 0 {
					t.Errorf("tags %q after a failed push", tags)
				}
			})
		}
	}
}

// TestPushNamesBlobs: each blob is named by digest, place and platform;
// blobs refused alike share one line.
func TestPushNamesBlobs(t *testing.T) {
	t.Parallel()
	host := newRegistry(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost {
				w.WriteHeader(http.StatusForbidden)
				fmt.Fprint(w, `{"errors":[{"code":"DENIED","message":"push not allowed"}]}`)
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	var adds []mutate.IndexAddendum
	var want []string
	for _, arch := range []string{"amd64", "arm64"} {
		img, err := random.Image(512, 1)
		if err != nil {
			t.Fatal(err)
		}
		layers, _ := img.Layers()
		ld, _ := layers[0].Digest()
		cd, _ := img.ConfigName()
		want = append(want, fmt.Sprintf("%s (layer 1 of 1 of linux/%s)", ld, arch), fmt.Sprintf("%s (config of linux/%s)", cd, arch))
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}}})
	}
	idx := mutate.AppendManifests(empty.Index, adds...)
	d, _ := idx.Digest()
	repo, _ := name.NewRepository(host + "/team/api")
	_, err := Push(&Result{Index: idx, Digest: d}, repo, ropts())
	if err == nil {
		t.Fatal("pushed although every upload was refused")
	}
	if got := strings.Count(err.Error(), "\n"); got != 0 {
		t.Errorf("%d lines for one cause:\n%v", got+1, err)
	}
	wantErr := fmt.Sprintf("pushing %s@%s: uploading blobs %s to %s: POST ", repo, d, strings.Join(want, ", "), repo)
	if !strings.HasPrefix(err.Error(), wantErr) || !strings.HasSuffix(err.Error(), "DENIED: push not allowed") {
		t.Errorf("error\n%v\nwant it to start %q and end with the registry's refusal", err, wantErr)
	}
}
