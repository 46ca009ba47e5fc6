package yamlerr

import (
	"testing"

	"gopkg.in/yaml.v3"
)

func TestPosition(t *testing.T) {
	t.Parallel()
	cases := []struct {
		doc  string
		line int
	}{
		{"a: 1\nb: {c: 1\n", 2},          // parser: an unclosed flow mapping, reported where it opens
		{"a: 1\nb:\n  - x\n - y\n", 4},   // parser: bad indentation
		{"a: 1\nb: @x\n", 2},             // scanner: reserved character
		{"a: 1\nb: \"unterminated\n", 2}, // scanner
		{"a: 1\n\tb: 2\n", 2},            // scanner: tab
	}
	for _, tc := range cases {
		var v any
		err := yaml.Unmarshal([]byte(tc.doc), &v)
		if err == nil {
			t.Fatalf("%q parsed", tc.doc)
		}
		line, text := Position(err.Error())
		if line != tc.line || text == "" {
			t.Errorf("%q: %v → line %d (%q), want line %d", tc.doc, err, line, text, tc.line)
		}
	}
}
