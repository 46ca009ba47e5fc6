package bake

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/driftless-dev/driftless/internal/repofs"
)

// layerEntries lists the n-th layer of img from the end: name → "dir",
// "link → target" or the file's mode and content.
func layerEntries(t *testing.T, img v1.Image, n int) map[string]string {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	rc, err := layers[len(layers)-n].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	out := map[string]string{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			out[h.Name] = "dir"
		case tar.TypeSymlink:
			out[h.Name] = "link → " + h.Linkname
		default:
			b, _ := io.ReadAll(tr)
			out[h.Name] = os.FileMode(h.Mode).String() + " " + string(b)
		}
	}
}

// TestLinksInsideTheRepository: a layer's source that is a link is
// followed (its content is baked); a link below a layer's directory that
// resolves inside the repository is baked as the link it is, its target
// text unchanged, as Git stores it; the bake stays reproducible.
func TestLinksInsideTheRepository(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tree(t, dir, sources)
	tree(t, dir, map[string]string{"tools/run.sh": "#!/bin/sh\n", "tools/conf/a.yaml": "a: 1\n"})
	os.Symlink("run.sh", filepath.Join(dir, "tools", "run"))
	os.Symlink("conf", filepath.Join(dir, "tools", "etc"))
	os.Symlink("../bin/app", filepath.Join(dir, "tools", "app"))
	os.Symlink("bin/app", filepath.Join(dir, "app-link"))
	s := specFor(dir, Scratch)
	s.Layers = []File{
		{Source: filepath.Join(dir, "app-link"), Target: "/usr/local/bin/app"},
		{Source: filepath.Join(dir, "tools"), Target: "/opt/tools"},
	}
	s.Static = nil
	a, err := Bake(context.Background(), s, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"usr/":              "dir",
		"usr/local/":        "dir",
		"usr/local/bin/":    "dir",
		"usr/local/bin/app": "-rwxr-xr-x #!/bin/sh\necho app\n",
	}
	if diff := cmp.Diff(want, layerEntries(t, a.Image, 2)); diff != "" {
		t.Errorf("layer of a linked file (-want +got):\n%s", diff)
	}
	want = map[string]string{
		"opt/":                  "dir",
		"opt/tools/":            "dir",
		"opt/tools/app":         "link → ../bin/app",
		"opt/tools/conf/":       "dir",
		"opt/tools/conf/a.yaml": "-rw-r--r-- a: 1\n",
		"opt/tools/etc":         "link → conf",
		"opt/tools/run":         "link → run.sh",
		"opt/tools/run.sh":      "-rw-r--r-- #!/bin/sh\n", // tree() makes only bin/ executable
	}
	if diff := cmp.Diff(want, layerEntries(t, a.Image, 1)); diff != "" {
		t.Errorf("layer of a directory with links (-want +got):\n%s", diff)
	}
	b, err := Bake(context.Background(), s, nil)
	if err != nil {
		t.Fatal(err)
	}
	if a.Digest != b.Digest {
		t.Errorf("two bakes of the same links: %s and %s", a.Digest, b.Digest)
	}
}

// TestRefusedSources: what the rules refuse fails the bake, every refusal
// of a layer named at once, before anything could be written.
func TestRefusedSources(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	dir, outside := filepath.Join(base, "repo"), filepath.Join(base, "outside")
	tree(t, dir, sources)
	tree(t, outside, map[string]string{"secret.txt": "secret"})
	os.Symlink(filepath.Join(outside, "secret.txt"), filepath.Join(dir, "bin", "leak"))
	if err := syscall.Mkfifo(filepath.Join(dir, "bin", "pipe"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Symlink("plans.yaml", filepath.Join(dir, "static", "alias.yaml"))
	s := specFor(dir, Scratch)
	tests := []struct {
		name   string
		layers []File
		static bool
		want   []string
	}{
		{"file outside", []File{{Source: dir + "/../outside/secret.txt", Target: "/x"}}, false,
			[]string{`layer /x: "` + dir + `/../outside/secret.txt" (resolves to "` + outside + `/secret.txt"): outside the repository "` + dir + `"`}},
		{"directory with a link outside and a pipe", []File{{Source: filepath.Join(dir, "bin"), Target: "/bin"}}, false,
			[]string{
				`layer /bin: "` + dir + `/bin/leak" (resolves to "` + outside + `/secret.txt"): outside the repository`,
				`"` + dir + `/bin/pipe": a named pipe (FIFO), refused without being opened`,
			}},
		{"link in the static configuration", nil, true,
			[]string{`layer /var/portal-api/static: "` + dir + `/static/alias.yaml" (resolves to "` + dir + `/static/plans.yaml"): a symbolic link (to "plans.yaml")`}},
	}
	for _, tt := range tests {
		s := s
		s.Layers = tt.layers
		if !tt.static {
			s.Static = nil
		}
		_, err := Bake(context.Background(), s, nil)
		for _, w := range tt.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%s: Bake: %v, want %q", tt.name, err, w)
			}
		}
	}
}

func TestBakeNeedsARoot(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tree(t, dir, sources)
	s := specFor(dir, Scratch)
	s.Root = nil
	if _, err := Bake(context.Background(), s, nil); err == nil || !strings.Contains(err.Error(), "Spec.Root") {
		t.Errorf("Bake without a root: %v", err)
	}
}

func TestBakeStopsWithContext(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tree(t, dir, sources)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Bake(ctx, specFor(dir, Scratch), nil); !errors.Is(err, context.Canceled) {
		t.Errorf("Bake with an ended context: %v, want context.Canceled", err)
	}
}

// TestLayerIsTarballsLayer: the spooled layer has the bytes, so the
// digest, go-containerregistry's tarball layer gives the same tar stream:
// images baked before and after the spool are the same.
func TestLayerIsTarballsLayer(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tree(t, dir, sources)
	root, err := repofs.NewRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	f := File{Source: filepath.Join(dir, "static"), Target: "/var/portal-api/static"}
	mtime := time.Unix(1700000000, 0)
	got, err := newLayer(context.Background(), root, f, repofs.RefuseLinks, mtime, types.OCILayer)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := collect(context.Background(), root, f, repofs.RefuseLinks)
	if err != nil {
		t.Fatal(err)
	}
	var tarStream bytes.Buffer
	if err := writeTar(context.Background(), root, &tarStream, entries, mtime); err != nil {
		t.Fatal(err)
	}
	want, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(tarStream.Bytes())), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []func(v1.Layer) (v1.Hash, error){v1.Layer.Digest, v1.Layer.DiffID} {
		w, _ := h(want)
		g, _ := h(got)
		if w != g {
			t.Errorf("spooled layer %s, tarball layer %s", g, w)
		}
	}
	ws, _ := want.Size()
	gs, _ := got.Size()
	if ws != gs {
		t.Errorf("spooled layer of %d bytes, tarball layer %d", gs, ws)
	}
}

// TestLargeStaticNotInMemory: baking a static configuration of 64 MiB
// that does not compress allocates a small fraction of that. Not
// parallel, so that the allocations counted are this test's.
func TestLargeStaticNotInMemory(t *testing.T) {
	dir := t.TempDir()
	tree(t, dir, sources)
	big, err := os.Create(filepath.Join(dir, "static", "big.bin"))
	if err != nil {
		t.Fatal(err)
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	chunk := make([]byte, 1<<20)
	for range 64 {
		for i := range chunk {
			chunk[i] = byte(rnd.Uint32())
		}
		if _, err := big.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	if err := big.Close(); err != nil {
		t.Fatal(err)
	}
	s := specFor(dir, Scratch)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	res, err := Bake(context.Background(), s, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := WriteLayout(res, filepath.Join(t.TempDir(), "layout"), "example.com/app:v1"); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("baking and writing 64 MiB of static configuration allocated %d KiB", alloc>>10)
	if alloc > 16<<20 {
		t.Errorf("baking and writing 64 MiB of static configuration allocated %d MiB", alloc>>20)
	}
}

// TestDirectoryModes: directories are 0755 whatever the checkout made them
// (reproducible across umasks), except a sticky one, which stays 1777 so
// that an image's /tmp is writable by its non-root user.
func TestDirectoryModes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for d, mode := range map[string]os.FileMode{"rootfs/tmp": 0o777 | os.ModeSticky, "rootfs/etc": 0o700, "rootfs/var": 0o775} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(filepath.Join(dir, d), mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "rootfs/etc/hostname"), []byte("x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	root, err := repofs.NewRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{"/", "/srv/root"} {
		entries, err := collect(context.Background(), root, File{Source: filepath.Join(dir, "rootfs"), Target: target}, repofs.RefuseLinks)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := writeTar(context.Background(), root, &b, entries, time.Unix(0, 0)); err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		tr := tar.NewReader(&b)
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			got[h.Name] = strconv.FormatInt(h.Mode, 8)
		}
		p := strings.TrimPrefix(target+"/", "/")
		if p == "/" {
			p = ""
		}
		want := map[string]string{p + "tmp/": "1777", p + "etc/": "755", p + "var/": "755", p + "etc/hostname": "644"}
		if target != "/" {
			want["srv/"], want["srv/root/"] = "755", "755"
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("target %s: modes (-want +got):\n%s", target, diff)
		}
	}
}
