package configrev_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/driftless-dev/driftless/internal/configrev"
	"github.com/driftless-dev/driftless/internal/testtool"
)

// vectors are the test vectors docs/service-contract.md publishes, so a
// service in any language can check its own implementation.
var vectors = []struct {
	name  string
	files [][2]string // path, content, in any order
}{
	{"no files (an empty directory)", nil},
	{"one file", [][2]string{{"routing.yaml", "default: api\n"}}},
	{"an empty file", [][2]string{{"empty", ""}}},
	{"nested directories, sorted by path", [][2]string{{"plans.yaml", "- free\n"}, {"apis/orders.yaml", "name: orders\n"}, {"apis/billing.yaml", "name: billing\n"}}},
	{"bytes are hashed as they are (no newline conversion)", [][2]string{{"crlf.txt", "a\r\nb\r\n"}}},
}

// TestVectorsInTheDocs: the vectors the service contract publishes are
// what configrev computes (go test -update rewrites them).
func TestVectorsInTheDocs(t *testing.T) {
	var b strings.Builder
	for _, v := range vectors {
		fsys := fstest.MapFS{}
		fmt.Fprintf(&b, "- %s:\n", v.name)
		if len(v.files) == 0 {
			b.WriteString("  (no files)\n")
		}
		for _, f := range v.files {
			fsys[f[0]] = &fstest.MapFile{Data: []byte(f[1])}
			fmt.Fprintf(&b, "  - `%s` = `%s`\n", f[0], strconv.Quote(f[1]))
		}
		rev, err := configrev.FS(fsys)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "  → `%s`\n", rev)
	}
	want := b.String()
	doc := filepath.Join(testtool.Root(t), "docs", "service-contract.md")
	text, err := os.ReadFile(doc)
	if err != nil {
		t.Fatal(err)
	}
	const start, end = "<!-- vectors: go test ./internal/configrev -update -->\n", "<!-- /vectors -->"
	i, j := strings.Index(string(text), start), strings.Index(string(text), end)
	if i < 0 || j < i {
		t.Fatalf("%s has no %q … %q section", doc, start, end)
	}
	got := string(text[i+len(start) : j])
	if testtool.Update() {
		if err := os.WriteFile(doc, []byte(string(text[:i+len(start)])+want+string(text[j:])), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s: test vectors (-configrev +docs):\n%s", doc, diff)
	}
}
