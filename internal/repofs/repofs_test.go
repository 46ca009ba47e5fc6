package repofs

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// layout makes, under a fresh directory, a repository "repo" (with .git)
// and a sibling "outside" holding a secret, and returns both.
func layout(t *testing.T) (repo, outside string) {
	t.Helper()
	base := t.TempDir()
	repo, outside = filepath.Join(base, "repo"), filepath.Join(base, "outside")
	for _, d := range []string{filepath.Join(repo, ".git"), filepath.Join(repo, "sub", "deep"), filepath.Join(outside, "dir")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write(t, filepath.Join(outside, "secret.txt"), "secret")
	write(t, filepath.Join(outside, "dir", "x.yaml"), "x: 1\n")
	write(t, filepath.Join(repo, "sub", "a.yaml"), "a: 1\n")
	write(t, filepath.Join(repo, "sub", "deep", "b.json"), "{}\n")
	return repo, outside
}

func write(t *testing.T, p, content string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

func mkfifo(t *testing.T, p string) {
	t.Helper()
	if err := syscall.Mkfifo(p, 0o644); err != nil {
		t.Fatal(err)
	}
}

// within fails the test if fn has not returned after a few seconds: what
// it does must never block (on a named pipe).
func within(t *testing.T, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); fn() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("still blocked after 10s")
	}
}

func TestFindRoot(t *testing.T) {
	t.Parallel()
	repo, outside := layout(t)
	worktree := filepath.Join(t.TempDir(), "wt")
	os.MkdirAll(filepath.Join(worktree, "svc"), 0o755)
	write(t, filepath.Join(worktree, ".git"), "gitdir: /elsewhere/.git/worktrees/wt\n")
	link := filepath.Join(t.TempDir(), "link")
	symlink(t, filepath.Join(repo, "sub"), link)
	tests := []struct{ dir, want string }{
		{repo, repo},
		{filepath.Join(repo, "sub", "deep"), repo},
		{filepath.Join(worktree, "svc"), worktree},
		{link, repo}, // the spec's directory reached through a link
		{outside, outside},
	}
	for _, tt := range tests {
		r, err := FindRoot(tt.dir)
		if err != nil {
			t.Fatalf("FindRoot(%q): %v", tt.dir, err)
		}
		if r.Dir() != tt.want {
			t.Errorf("FindRoot(%q) = %q, want %q", tt.dir, r.Dir(), tt.want)
		}
	}
}

func TestResolve(t *testing.T) {
	t.Parallel()
	repo, outside := layout(t)
	symlink(t, "../../outside/secret.txt", filepath.Join(repo, "sub", "leak"))
	symlink(t, "a.yaml", filepath.Join(repo, "sub", "alias.yaml"))
	symlink(t, filepath.Join(repo, "sub"), filepath.Join(outside, "back")) // out and in again
	root, err := NewRoot(repo)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path, want, err string
	}{
		{path: filepath.Join(repo, "sub", "a.yaml"), want: filepath.Join(repo, "sub", "a.yaml")},
		{path: filepath.Join(repo, "sub", "alias.yaml"), want: filepath.Join(repo, "sub", "a.yaml")},
		{path: filepath.Join(outside, "back", "a.yaml"), want: filepath.Join(repo, "sub", "a.yaml")},
		{path: repo + "/../outside/secret.txt", err: `"` + repo + `/../outside/secret.txt" (resolves to "` + filepath.Join(outside, "secret.txt") + `"): outside the repository "` + repo + `"; only files inside it are read`},
		{path: filepath.Join(repo, "sub", "leak"), err: `"` + filepath.Join(repo, "sub", "leak") + `" (resolves to "` + filepath.Join(outside, "secret.txt") + `"): outside the repository`},
		{path: filepath.Join(repo, "missing"), err: "no such file or directory"},
	}
	for _, tt := range tests {
		got, err := root.Resolve(tt.path)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("Resolve(%q) = %q, %v; want error %q", tt.path, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Resolve(%q) = %q, %v; want %q", tt.path, got, err, tt.want)
		}
	}
}

func TestResolveSiblingWithSamePrefix(t *testing.T) {
	t.Parallel()
	repo, _ := layout(t)
	os.MkdirAll(repo+"2", 0o755)
	write(t, filepath.Join(repo+"2", "f"), "x")
	root, _ := NewRoot(repo)
	var e *Error
	if _, err := root.Resolve(filepath.Join(repo+"2", "f")); !errors.As(err, &e) {
		t.Errorf("a sibling directory named like the root is inside it: %v", err)
	}
}

// walked is what a walk saw: entries by Rel, refusals by Rel.
type walked struct {
	Entries map[string]string // rel → "dir", "file" or "link → target"
	Refused map[string]string // rel → error text
}

func walk(t *testing.T, root *Root, path string, links Links) walked {
	t.Helper()
	w := walked{Entries: map[string]string{}, Refused: map[string]string{}}
	var err error
	within(t, func() {
		err = root.Walk(context.Background(), path, links, func(e Entry, err error) error {
			if err != nil {
				w.Refused[e.Rel] = err.Error()
				return nil
			}
			switch {
			case e.IsDir():
				w.Entries[e.Rel] = "dir"
			case e.IsLink():
				w.Entries[e.Rel] = "link → " + e.Link
			default:
				w.Entries[e.Rel] = "file"
			}
			return nil
		})
	})
	if err != nil {
		t.Fatalf("Walk(%q): %v", path, err)
	}
	return w
}

func TestWalk(t *testing.T) {
	t.Parallel()
	repo, outside := layout(t)
	sub := filepath.Join(repo, "sub")
	symlink(t, "a.yaml", filepath.Join(sub, "alias.yaml"))
	symlink(t, "deep", filepath.Join(sub, "deeplink"))
	symlink(t, "../../outside/secret.txt", filepath.Join(sub, "leak"))
	symlink(t, filepath.Join(outside, "dir"), filepath.Join(sub, "leakdir"))
	symlink(t, "nowhere", filepath.Join(sub, "dangling"))
	mkfifo(t, filepath.Join(sub, "deep", "pipe.yaml"))
	root, err := NewRoot(repo)
	if err != nil {
		t.Fatal(err)
	}
	p := func(rel string) string { return filepath.Join(sub, filepath.FromSlash(rel)) }
	outsideRefusal := func(rel, to string) string {
		return `"` + p(rel) + `" (resolves to "` + to + `"): outside the repository "` + repo + `"; only files inside it are read`
	}
	pipe := `"` + p("deep/pipe.yaml") + `": a named pipe (FIFO), refused without being opened; only regular files and directories are read`
	dangling := `"` + p("dangling") + `": a symbolic link to "nowhere", which leads to nothing that exists (lstat ` + p("nowhere") + `: no such file or directory); only links that resolve inside the repository are kept`

	keep := walk(t, root, sub, KeepLinks)
	want := walked{
		Entries: map[string]string{".": "dir", "a.yaml": "file", "alias.yaml": "link → a.yaml", "deep": "dir", "deep/b.json": "file", "deeplink": "link → deep"},
		Refused: map[string]string{
			"leak":           outsideRefusal("leak", filepath.Join(outside, "secret.txt")),
			"leakdir":        outsideRefusal("leakdir", filepath.Join(outside, "dir")),
			"dangling":       dangling,
			"deep/pipe.yaml": pipe,
		},
	}
	if diff := cmp.Diff(want, keep); diff != "" {
		t.Errorf("KeepLinks (-want +got):\n%s", diff)
	}

	refuse := walk(t, root, sub, RefuseLinks)
	want.Entries = map[string]string{".": "dir", "a.yaml": "file", "deep": "dir", "deep/b.json": "file"}
	want.Refused["alias.yaml"] = `"` + p("alias.yaml") + `" (resolves to "` + p("a.yaml") + `"): a symbolic link (to "a.yaml"); the static configuration holds only regular files and directories, all its revision hash covers`
	want.Refused["deeplink"] = `"` + p("deeplink") + `" (resolves to "` + p("deep") + `"): a symbolic link (to "deep"); the static configuration holds only regular files and directories, all its revision hash covers`
	if diff := cmp.Diff(want, refuse); diff != "" {
		t.Errorf("RefuseLinks (-want +got):\n%s", diff)
	}
}

func TestWalkTop(t *testing.T) {
	t.Parallel()
	repo, outside := layout(t)
	symlink(t, filepath.Join(outside, "dir"), filepath.Join(repo, "linkdir"))
	symlink(t, "sub/a.yaml", filepath.Join(repo, "linkfile"))
	mkfifo(t, filepath.Join(repo, "pipe"))
	root, _ := NewRoot(repo)
	tests := []struct {
		path string
		want walked
		err  string
	}{
		{path: filepath.Join(repo, "linkfile"), want: walked{Entries: map[string]string{".": "file"}, Refused: map[string]string{}}},
		{path: filepath.Join(repo, "..", "outside", "dir"), err: "outside the repository"},
		{path: filepath.Join(repo, "linkdir"), err: `(resolves to "` + filepath.Join(outside, "dir") + `"): outside the repository`},
		{path: filepath.Join(repo, "pipe"), err: "a named pipe (FIFO), refused without being opened"},
	}
	for _, tt := range tests {
		if tt.err == "" {
			if diff := cmp.Diff(tt.want, walk(t, root, tt.path, KeepLinks)); diff != "" {
				t.Errorf("Walk(%q) (-want +got):\n%s", tt.path, diff)
			}
			continue
		}
		called := false
		var err error
		within(t, func() {
			err = root.Walk(context.Background(), tt.path, KeepLinks, func(Entry, error) error { called = true; return nil })
		})
		if err == nil || !strings.Contains(err.Error(), tt.err) || called {
			t.Errorf("Walk(%q) = %v (fn called: %t), want %q", tt.path, err, called, tt.err)
		}
	}
}

func TestWalkStopsWithContext(t *testing.T) {
	t.Parallel()
	repo, _ := layout(t)
	root, _ := NewRoot(repo)
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	err := root.Walk(ctx, repo, KeepLinks, func(Entry, error) error { n++; cancel(); return nil })
	if !errors.Is(err, context.Canceled) || n != 1 {
		t.Errorf("Walk after cancel = %v after %d entries, want context.Canceled after 1", err, n)
	}
}

func TestReadFile(t *testing.T) {
	t.Parallel()
	repo, outside := layout(t)
	write(t, filepath.Join(repo, "big"), strings.Repeat("x", 101))
	mkfifo(t, filepath.Join(repo, "pipe"))
	symlink(t, "pipe", filepath.Join(repo, "pipelink"))
	symlink(t, filepath.Join(outside, "secret.txt"), filepath.Join(repo, "leak"))
	root, _ := NewRoot(repo)
	tests := []struct {
		name, path, want, err string
	}{
		{name: "file", path: filepath.Join(repo, "sub", "a.yaml"), want: "a: 1\n"},
		{name: "over the limit", path: filepath.Join(repo, "sub", "deep", "..", "..", "big"), err: `is 101 bytes (101 B), more than the 100 B a file read whole may have`},
		{name: "fifo", path: filepath.Join(repo, "pipe"), err: `"` + filepath.Join(repo, "pipe") + `": a named pipe (FIFO), refused without being opened`},
		{name: "link to a fifo", path: filepath.Join(repo, "pipelink"), err: `(resolves to "` + filepath.Join(repo, "pipe") + `"): a named pipe (FIFO)`},
		{name: "link outside", path: filepath.Join(repo, "leak"), err: "outside the repository"},
		{name: "directory", path: filepath.Join(repo, "sub"), err: "a directory where a file is expected"},
	}
	for _, tt := range tests {
		var got []byte
		var err error
		within(t, func() { got, err = root.ReadFile(context.Background(), tt.path, 100) })
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: ReadFile = %q, %v; want error %q", tt.name, got, err, tt.err)
			}
			continue
		}
		if err != nil || string(got) != tt.want {
			t.Errorf("%s: ReadFile = %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}
}

func TestReadFileAtLimit(t *testing.T) {
	t.Parallel()
	repo, _ := layout(t)
	write(t, filepath.Join(repo, "f"), strings.Repeat("x", 100))
	root, _ := NewRoot(repo)
	got, err := root.ReadFile(context.Background(), filepath.Join(repo, "f"), 100)
	if err != nil || len(got) != 100 {
		t.Errorf("a file of exactly the limit: %d bytes, %v", len(got), err)
	}
	var tl *TooLargeError
	if _, err := root.ReadFile(context.Background(), filepath.Join(repo, "f"), 99); !errors.As(err, &tl) || tl.Size != 100 || tl.Max != 99 {
		t.Errorf("one byte over: %v", err)
	}
}

func TestReadStopsWithContext(t *testing.T) {
	t.Parallel()
	repo, _ := layout(t)
	root, _ := NewRoot(repo)
	ctx, cancel := context.WithCancel(context.Background())
	f, err := root.Open(ctx, filepath.Join(repo, "sub", "a.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cancel()
	if _, err := f.Read(make([]byte, 8)); !errors.Is(err, context.Canceled) {
		t.Errorf("Read after cancel: %v, want context.Canceled", err)
	}
}
