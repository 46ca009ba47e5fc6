package configrev_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/driftless-dev/driftless/internal/configrev"
)

// base is the tree every case starts from: nested directories, an empty file
// and content with a NUL byte, so the framing of path, size and content is
// exercised.
var base = map[string]string{
	"plans.yaml":        "plans:\n  - name: free\n",
	"groups.yaml":       "groups: []\n",
	"apis/orders.yaml":  "name: orders\n",
	"apis/billing.yaml": "name: billing\n",
	"bin/blob":          "a\x00b",
	"empty":             "",
}

func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func clone(files map[string]string) map[string]string {
	out := make(map[string]string, len(files))
	for k, v := range files {
		out[k] = v
	}
	return out
}

func TestDirCompare(t *testing.T) {
	t.Parallel()
	want, err := configrev.Dir(writeTree(t, base))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^sha256:[0-9a-f]{64}$`).MatchString(want) {
		t.Fatalf("Dir() = %q, want sha256:<64 hex>", want)
	}

	tests := []struct {
		name string
		// change edits a copy of base before it is written.
		change func(files map[string]string)
		// after edits the written directory.
		after func(t *testing.T, dir string)
		same  bool
	}{
		{name: "same tree in another directory", same: true},
		{
			name:  "empty directory added",
			after: func(t *testing.T, dir string) { mkdir(t, filepath.Join(dir, "apis", "none")) },
			same:  true,
		},
		{
			name:  "file mode changed",
			after: func(t *testing.T, dir string) { chmod(t, filepath.Join(dir, "plans.yaml"), 0o755) },
			same:  true,
		},
		{
			name:   "one byte changed",
			change: func(f map[string]string) { f["plans.yaml"] = strings.Replace(f["plans.yaml"], "free", "frey", 1) },
		},
		{
			name:   "last byte changed",
			change: func(f map[string]string) { f["groups.yaml"] = "groups: []\r" },
		},
		{
			name: "file renamed",
			change: func(f map[string]string) {
				f["apis/order.yaml"] = f["apis/orders.yaml"]
				delete(f, "apis/orders.yaml")
			},
		},
		{
			name: "file moved to another directory",
			change: func(f map[string]string) {
				f["orders.yaml"] = f["apis/orders.yaml"]
				delete(f, "apis/orders.yaml")
			},
		},
		{
			name:   "empty file added",
			change: func(f map[string]string) { f["apis/README"] = "" },
		},
		{
			name:   "file removed",
			change: func(f map[string]string) { delete(f, "empty") },
		},
		{
			// Without the size in the frame, moving bytes from the end of
			// one file to the start of the next would keep the hash.
			name: "bytes moved across a file boundary",
			change: func(f map[string]string) {
				f["apis/billing.yaml"] = "name: billing\nname: "
				f["apis/orders.yaml"] = "orders\n"
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			files := clone(base)
			if tt.change != nil {
				tt.change(files)
			}
			dir := writeTree(t, files)
			if tt.after != nil {
				tt.after(t, dir)
			}
			got, err := configrev.Dir(dir)
			if err != nil {
				t.Fatalf("Dir() error = %v", err)
			}
			if tt.same && got != want {
				t.Errorf("Dir() = %q, want the base revision %q", got, want)
			}
			if !tt.same && got == want {
				t.Errorf("Dir() = %q, the base revision, want a different one", got)
			}
		})
	}
}

func TestDirRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// setup returns the directory to hash.
		setup func(t *testing.T) string
		// wantErr lists substrings the error must contain.
		wantErr []string
	}{
		{
			name: "symlink to a file",
			setup: func(t *testing.T) string {
				dir := writeTree(t, base)
				symlink(t, "../plans.yaml", filepath.Join(dir, "apis", "plans.yaml"))
				return dir
			},
			wantErr: []string{`"apis/plans.yaml"`, "symbolic link"},
		},
		{
			name: "symlink to a directory",
			setup: func(t *testing.T) string {
				dir := writeTree(t, base)
				symlink(t, "apis", filepath.Join(dir, "more"))
				return dir
			},
			wantErr: []string{`"more"`, "symbolic link"},
		},
		{
			name: "dangling symlink",
			setup: func(t *testing.T) string {
				dir := writeTree(t, base)
				symlink(t, "nowhere", filepath.Join(dir, "x"))
				return dir
			},
			wantErr: []string{`"x"`, "symbolic link"},
		},
		{
			name:    "missing directory",
			setup:   func(t *testing.T) string { return filepath.Join(t.TempDir(), "absent") },
			wantErr: []string{"absent", "no such file"},
		},
		{
			name: "a file instead of a directory",
			setup: func(t *testing.T) string {
				return filepath.Join(writeTree(t, base), "plans.yaml")
			},
			wantErr: []string{"plans.yaml", "not a directory"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := configrev.Dir(tt.setup(t))
			if err == nil {
				t.Fatalf("Dir() = %q, want an error", got)
			}
			for _, s := range tt.wantErr {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("Dir() error = %q, want it to contain %q", err, s)
				}
			}
		})
	}
}

func TestFSMatchesDir(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		files map[string]string
	}{
		{name: "base", files: base},
		{name: "empty", files: map[string]string{}},
		{name: "one empty file", files: map[string]string{"a": ""}},
		{name: "deep", files: map[string]string{"a/b/c/d.yaml": "x: 1\n", "a/b.yaml": "y: 2\n", "a.b": "z"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			want, err := configrev.Dir(writeTree(t, tt.files))
			if err != nil {
				t.Fatal(err)
			}
			mfs := fstest.MapFS{}
			for name, content := range tt.files {
				mfs[name] = &fstest.MapFile{Data: []byte(content), Mode: 0o600}
			}
			got, err := configrev.FS(mfs)
			if err != nil {
				t.Fatalf("FS() error = %v", err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("FS() differs from Dir() (-want +got):\n%s", diff)
			}
		})
	}
}

// TestKnownValue pins the format: a change here changes every revision that
// bake-image has ever labelled an image with.
func TestKnownValue(t *testing.T) {
	t.Parallel()
	got, err := configrev.FS(fstest.MapFS{
		"a.yaml":   {Data: []byte("a: 1\n")},
		"b/c.yaml": {Data: []byte("")},
	})
	if err != nil {
		t.Fatal(err)
	}
	// sha256 of "a.yaml\x005\x00a: 1\nb/c.yaml\x000\x00".
	want := "sha256:656af6004495d68d2e27ddc6cd03410bb8cb02e88cbd06e597d4d20ae3c28411"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("FS() (-want +got):\n%s", diff)
	}
}

func TestFSRefusesIrregular(t *testing.T) {
	t.Parallel()
	_, err := configrev.FS(fstest.MapFS{
		"a.yaml":  {Data: []byte("a")},
		"dev/tty": {Mode: os.ModeDevice | os.ModeCharDevice},
	})
	if err == nil || !strings.Contains(err.Error(), `"dev/tty"`) {
		t.Errorf("FS() error = %v, want one naming \"dev/tty\"", err)
	}
}

func mkdir(t *testing.T, p string) {
	t.Helper()
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
}

func chmod(t *testing.T, p string, mode os.FileMode) {
	t.Helper()
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, target, p string) {
	t.Helper()
	if err := os.Symlink(target, p); err != nil {
		t.Fatal(err)
	}
}
