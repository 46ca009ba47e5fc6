package validate

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Severity of a finding.
type Severity string

// Severities. Errors fail validation; warnings only with --strict.
const (
	Error   Severity = "error"
	Warning Severity = "warning"
)

// Finding is one problem, pointed at the place in the repository it comes
// from.
type Finding struct {
	File     string   `json:"file"`
	Line     int      `json:"line,omitempty"`
	Col      int      `json:"col,omitempty"`
	Severity Severity `json:"severity"`
	// Env is the environment whose rendering showed the problem, if any.
	Env string `json:"env,omitempty"`
	// Object is Kind/namespace/name (Kind/name for cluster-scoped objects).
	Object  string `json:"object,omitempty"`
	Message string `json:"message"`
	// Policy marks a finding of driftless's own deployment policies
	// (floating images, namespaces, singletons, ...), which the API server
	// does not enforce; the others are what it would refuse.
	Policy bool `json:"policy,omitempty"`
}

// String formats the finding as file:line:col: severity: message, the form
// editors and errorformat parse.
// A file name with a control character (a newline, say) is printed
// quoted, so it stays on one line and reads as what it is.
func (f Finding) String() string {
	file := f.File
	if strings.ContainsFunc(file, unicode.IsControl) || !utf8.ValidString(file) {
		file = strconv.Quote(file)
	}
	loc := file
	if f.Line > 0 {
		col := f.Col
		if col == 0 {
			col = 1
		}
		loc = fmt.Sprintf("%s:%d:%d", file, f.Line, col)
	}
	msg := f.Message
	if f.Object != "" {
		msg = f.Object + ": " + msg
	}
	if f.Env != "" {
		msg = "[" + f.Env + "] " + msg
	}
	return fmt.Sprintf("%s: %s: %s", loc, f.Severity, msg)
}

// Sort orders findings by file, line, column, then message, so output is
// stable.
func Sort(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Col != b.Col {
			return a.Col < b.Col
		}
		if a.Env != b.Env {
			return a.Env < b.Env
		}
		return a.Message < b.Message
	})
}
