// Package testtool gives tests and benchmarks the third-party programs
// pinned in tools/go.mod (and tools/cluster), built once and cached outside
// the repository by scripts/tool.
package testtool

import (
	"bytes"
	"errors"
	"fmt"
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
	root, err := FindRoot(dir)
	if err != nil {
		tb.Fatal(err)
	}
	return root
}

// FindRoot returns the root of the driftless repository dir is in.
func FindRoot(dir string) (string, error) {
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.Contains(b, []byte("module github.com/driftless-dev/driftless\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("testtool: not inside the driftless repository")
		}
		dir = parent
	}
}

// Path returns the path of the named tool, building it on first use.
func Path(tb testing.TB, name string) string {
	tb.Helper()
	path, err := Build(Root(tb), name)
	if err != nil {
		tb.Fatal(err)
	}
	return path
}

// Build returns the path of the named tool, building it with the
// scripts/tool of the repository at root on first use. It is Path for
// programs, which have no testing.TB.
func Build(root, name string) (string, error) {
	cmd := exec.Command(filepath.Join(root, "scripts", "tool"), name)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("building tool %s: %w\n%s", name, err, stderr.String())
	}
	return strings.TrimSpace(string(out)), nil
}
