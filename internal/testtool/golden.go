package testtool

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// update is the one -update flag of every test binary that compares with
// golden or generated files (action.yml, schemas, rendered output).
var update = flag.Bool("update", false, "rewrite golden and generated files instead of comparing with them")

// Update reports whether the test run rewrites golden files (-update).
func Update() bool { return *update }

// Golden compares got with the file at path (relative to the test's
// package), line by line with cmp.Diff; with -update it writes got there
// instead. A whole output compared this way shows every change in review,
// where substring checks see only what they look for.
func Golden(tb testing.TB, path string, got []byte) {
	tb.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			tb.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("%v (go test -update writes it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		tb.Errorf("%s differs (-want +got; go test -update rewrites it):\n%s", path, diff)
	}
}
