// Command bake compares bake-image with `crane append` (what a user would
// otherwise run: tar the static directory, append it to the base) side by
// side in one run, against Debian's docker-registry on 127.0.0.1, on a base
// of a few layers plus a static directory of -size MB. It reports the wall
// time ratio and the bytes each sent to the registry against the size of
// the new layer.
//
//	go run ./bench/bake -runs 5 -size 100
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/driftless-dev/driftless/internal/registry/distribution"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench/bake:", err)
		os.Exit(1)
	}
}

// counter is a reverse proxy that counts the request bytes sent upstream.
type counter struct {
	sent atomic.Int64
	srv  *httptest.Server
}

func newCounter(upstream string) *counter {
	c := &counter{}
	u, _ := url.Parse("http://" + upstream)
	p := httputil.NewSingleHostReverseProxy(u)
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil {
			r.Body = countingReader{r.Body, &c.sent}
		}
		p.ServeHTTP(w, r)
	}))
	return c
}

func (c *counter) host() string { return strings.TrimPrefix(c.srv.URL, "http://") }

type countingReader struct {
	io.ReadCloser
	n *atomic.Int64
}

func (r countingReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	r.n.Add(int64(n))
	return n, err
}

func run() error {
	runs := flag.Int("runs", 5, "runs of each tool, interleaved")
	sizeMB := flag.Int("size", 100, "size of the static directory in MB")
	crane := flag.String("crane", os.Getenv("CRANE"), "crane binary (scripts/tool crane)")
	flag.Parse()
	if *crane == "" {
		return fmt.Errorf("pass -crane $(scripts/tool crane)")
	}
	work, err := os.MkdirTemp("", "bench-bake-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	bakeBin := filepath.Join(work, "bake-image")
	if out, err := exec.Command("go", "build", "-o", bakeBin, "./cmd/bake-image").CombinedOutput(); err != nil {
		return fmt.Errorf("building bake-image: %v\n%s", err, out)
	}
	reg, err := distribution.Start(context.Background(), work)
	if err != nil {
		return err
	}
	defer reg.Stop()
	bakeProxy, craneProxy := newCounter(reg.Host), newCounter(reg.Host)
	defer bakeProxy.srv.Close()
	defer craneProxy.srv.Close()

	// A base of three 5 MB layers, in the registry before either tool runs.
	base, err := random.Image(5<<20, 3)
	if err != nil {
		return err
	}
	baseRef, _ := name.ParseReference(reg.Host + "/base/runtime:1.4")
	if err := remote.Write(baseRef, base); err != nil {
		return err
	}
	// The static directory: YAML-like text, as static configuration is.
	root := filepath.Join(work, "root")
	static := filepath.Join(root, "var/portal-api/static")
	if err := writeStatic(static, *sizeMB); err != nil {
		return err
	}
	layerTar := filepath.Join(work, "layer.tar")

	var bakeTimes, craneTimes []time.Duration
	var bakeBytes, craneBytes, layerSize int64
	for i := range *runs {
		// driftless: a fresh repository each run, so the layer is new.
		repo := fmt.Sprintf("%s/bench/driftless-%d", bakeProxy.host(), i)
		spec := filepath.Join(work, "driftless.yaml")
		if err := os.WriteFile(spec, []byte(fmt.Sprintf(`apiVersion: driftless.dev/v1alpha1
kind: Pipeline
name: bench
image: {repository: %s, base: %s/base/runtime:1.4}
static: {dir: root/var/portal-api/static, path: /var/portal-api/static}
environments: [{name: test, overlay: root, namespace: t}]
`, repo, bakeProxy.host())), 0o644); err != nil {
			return err
		}
		os.WriteFile(filepath.Join(root, "kustomization.yaml"), []byte("resources: []\n"), 0o644)
		before := bakeProxy.sent.Load()
		start := time.Now()
		cmd := exec.Command(bakeBin, "--spec", spec, "--output", "json")
		cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH=1700000000")
		out, err := cmd.Output()
		if err != nil {
			return fmt.Errorf("bake-image: %v\n%s", err, out)
		}
		bakeTimes = append(bakeTimes, time.Since(start))
		bakeBytes = bakeProxy.sent.Load() - before
		var o map[string]string
		if err := json.Unmarshal(out, &o); err != nil {
			return err
		}
		img, err := remote.Image(mustRef(o["image"]))
		if err != nil {
			return err
		}
		layers, _ := img.Layers()
		layerSize, _ = layers[len(layers)-1].Size()

		// crane: tar the directory, append it to the base.
		before = craneProxy.sent.Load()
		start = time.Now()
		if out, err := exec.Command("tar", "-C", root, "-cf", layerTar, "var").CombinedOutput(); err != nil {
			return fmt.Errorf("tar: %v\n%s", err, out)
		}
		target := fmt.Sprintf("%s/bench/crane-%d:v1", craneProxy.host(), i)
		if out, err := exec.Command(*crane, "append", "-b", craneProxy.host()+"/base/runtime:1.4", "-f", layerTar, "-t", target).CombinedOutput(); err != nil {
			return fmt.Errorf("crane append: %v\n%s", err, out)
		}
		craneTimes = append(craneTimes, time.Since(start))
		craneBytes = craneProxy.sent.Load() - before
	}
	mb, cb := median(bakeTimes), median(craneTimes)
	fmt.Printf("static directory: %d MB of text; new layer (gzip): %.1f MB; base: 3 × 5 MB layers\n", *sizeMB, float64(layerSize)/1e6)
	fmt.Printf("bake-image:                   median %v over %d runs; sent %.1f MB (%.3f × the new layer)\n", mb.Round(time.Millisecond), *runs, float64(bakeBytes)/1e6, float64(bakeBytes)/float64(layerSize))
	fmt.Printf("tar + crane append:           median %v over %d runs; sent %.1f MB (%.3f × the new layer)\n", cb.Round(time.Millisecond), *runs, float64(craneBytes)/1e6, float64(craneBytes)/float64(layerSize))
	fmt.Printf("wall time ratio bake-image / (tar + crane append): %.2f\n", float64(mb)/float64(cb))
	return nil
}

func mustRef(s string) name.Reference {
	r, err := name.ParseReference(s)
	if err != nil {
		panic(err)
	}
	return r
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// writeStatic writes sizeMB of YAML-like files, deterministically.
func writeStatic(dir string, sizeMB int) error {
	r := rand.New(rand.NewPCG(1, 2))
	words := []string{"name", "plan", "gold", "free", "route", "backend", "timeout", "group", "api", "v1", "orders", "catalog", "billing", "limit", "burst"}
	for i := 0; i < sizeMB; i++ {
		var b strings.Builder
		for b.Len() < 1<<20 {
			fmt.Fprintf(&b, "%s-%d:\n  %s: %s-%d\n  %s: %d\n", words[r.IntN(len(words))], r.IntN(1e6), words[r.IntN(len(words))], words[r.IntN(len(words))], r.IntN(1e9), words[r.IntN(len(words))], r.IntN(1e6))
		}
		p := filepath.Join(dir, fmt.Sprintf("apis/%02d/api-%03d.yaml", i%10, i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
			return err
		}
	}
	return nil
}
