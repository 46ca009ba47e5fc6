package validate

import "testing"

// TestFindingQuotesControlCharacters: a file named with a newline stays on
// one line, quoted; ordinary names are printed as they are, for editors.
func TestFindingQuotesControlCharacters(t *testing.T) {
	t.Parallel()
	for file, want := range map[string]string{
		"static/apis/a.yaml":        "static/apis/a.yaml:3:1: error: bad",
		"a\n::warning::x.yaml":      `"a\n::warning::x.yaml":3:1: error: bad`,
		"b\r::add-mask::b.yaml":     `"b\r::add-mask::b.yaml":3:1: error: bad`,
		"static/\xff.yaml":          `"static/\xff.yaml":3:1: error: bad`,
		"spaces and ü are fine.yml": "spaces and ü are fine.yml:3:1: error: bad",
	} {
		if got := (Finding{File: file, Line: 3, Severity: Error, Message: "bad"}).String(); got != want {
			t.Errorf("%q: got %s, want %s", file, got, want)
		}
	}
}
