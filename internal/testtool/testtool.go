// Package testtool gives tests and benchmarks the third-party programs
// pinned in tools/go.mod, built once and cached outside the repository by
// scripts/tool.
package testtool

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Root returns the repository root (the directory of the main go.mod).
func Root(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.Contains(b, []byte("module github.com/driftless-dev/driftless\n")) {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatal("testtool: not inside the driftless repository")
		}
		dir = parent
	}
}

// Path returns the path of the named tool, building it on first use.
func Path(tb testing.TB, name string) string {
	tb.Helper()
	cmd := exec.Command(filepath.Join(Root(tb), "scripts", "tool"), name)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("building tool %s: %v\n%s", name, err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}
