package spec

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Caps on what a spec file can make a step do. A real spec is a few
// kilobytes with a handful of environments; these are two to three orders
// of magnitude above that, and keep a hostile or runaway file (a megabyte
// string aliased two thousand times, a million environments) from costing
// the runner gigabytes of memory and log.
const (
	// MaxFileSize is the largest spec file read, in bytes (1 MiB).
	MaxFileSize = 1 << 20
	// MaxItems is the most entries one list or mapping may have
	// (environments, smoke checks, freeze windows, env, headers, …).
	MaxItems = 1000
	// MaxAliases is the most aliases (*name) the decoder follows; an alias
	// inside an anchored value counts each time it is reached.
	MaxAliases = 1000
	// MaxAliasBytes bounds what aliases expand to: the length of every
	// value reached through an alias, plus one per node (1 MiB).
	MaxAliasBytes = 1 << 20
	// MaxFindings is the most problems reported for one spec; one more
	// entry says how many were left out.
	MaxFindings = 100
	// MaxQuoted is the most bytes of a value quoted in a message.
	MaxQuoted = 256
)

// LimitError is a spec beyond one of the caps above. Load and Parse stop at
// the first one, so it comes alone. It is deliberately not an *Error: the
// file is refused whole (a step cannot run: exit code 2), not reported as
// findings.
type LimitError struct {
	File string
	// Line and Col point at where the cap was crossed (0 when unknown).
	Line, Col int
	// Path is the field path there, when there is one.
	Path string
	// Cap names the cap: "file size", "items", "aliases", "alias expansion".
	Cap string
	// Max is the cap's value.
	Max int
	Msg string
}

func (e *LimitError) Error() string {
	loc := e.File
	if e.Line > 0 {
		loc = fmt.Sprintf("%s:%d:%d", e.File, e.Line, max(e.Col, 1))
	}
	if e.Path != "" {
		loc += ": " + e.Path
	}
	return fmt.Sprintf("%s: %s; the spec is refused (the caps are far above any real spec: https://github.com/driftless-dev/driftless#the-step-contract)", loc, e.Msg)
}

// readCapped reads at most MaxFileSize bytes of r, and a *LimitError when
// there is more.
func readCapped(file string, r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	return data, checkSize(file, data)
}

func checkSize(file string, data []byte) error {
	if len(data) <= MaxFileSize {
		return nil
	}
	return &LimitError{
		File: file, Line: 1 + strings.Count(string(data[:MaxFileSize]), "\n"), Col: 1,
		Cap: "file size", Max: MaxFileSize,
		Msg: fmt.Sprintf("the file goes past %d bytes (1 MiB), the cap on a spec's size, at this line", MaxFileSize),
	}
}

// limiter walks the YAML tree once before decoding, expanding aliases the
// way the decoder will, and stops at the first cap crossed. It keeps the
// field path as a stack so that nothing is allocated per node.
type limiter struct {
	file       string
	aliases    int
	aliasBytes int
	path       []string
	errLimit   *LimitError
	// outer is the alias in the document being expanded (nil outside an
	// expansion) and outerPath its path length: a cap crossed inside an
	// anchored value is reported at the alias that brought it in, not at
	// the anchor's definition.
	outer     *yaml.Node
	outerPath int
}

func checkLimits(file string, root *yaml.Node) error {
	l := &limiter{file: file}
	l.walk(root)
	if l.errLimit != nil {
		return l.errLimit
	}
	return nil
}

func (l *limiter) fail(n *yaml.Node, capName string, capMax int, format string, args ...any) {
	path := l.path
	if l.outer != nil {
		n, path = l.outer, path[:l.outerPath]
	}
	l.errLimit = &LimitError{File: l.file, Line: n.Line, Col: n.Column, Path: clipText(strings.Join(path, "")),
		Cap: capName, Max: capMax, Msg: fmt.Sprintf(format, args...)}
}

func (l *limiter) walk(n *yaml.Node) {
	if l.errLimit != nil {
		return
	}
	if l.outer != nil {
		l.aliasBytes += len(n.Value) + 1
		if l.aliasBytes > MaxAliasBytes {
			l.fail(n, "alias expansion", MaxAliasBytes, "aliases expand to more than %d bytes (1 MiB), the cap on what aliases may expand to", MaxAliasBytes)
			return
		}
	}
	switch n.Kind {
	case yaml.AliasNode:
		l.aliases++
		if l.aliases > MaxAliases {
			l.fail(n, "aliases", MaxAliases, "more than %d aliases, the cap on aliases followed (an alias inside an anchored value counts each time it is reached)", MaxAliases)
			return
		}
		if n.Alias == nil {
			return
		}
		if l.outer == nil {
			l.outer, l.outerPath = n, len(l.path)
			defer func() { l.outer = nil }()
		}
		l.walk(n.Alias)
	case yaml.DocumentNode:
		for _, c := range n.Content {
			l.walk(c)
		}
	case yaml.SequenceNode:
		if len(n.Content) > MaxItems {
			l.fail(n, "items", MaxItems, "a list of %d items, over the cap of %d items in one list", len(n.Content), MaxItems)
			return
		}
		for i, c := range n.Content {
			l.path = append(l.path, "["+strconv.Itoa(i)+"]")
			l.walk(c)
			l.path = l.path[:len(l.path)-1]
		}
	case yaml.MappingNode:
		if len(n.Content)/2 > MaxItems {
			l.fail(n, "items", MaxItems, "a mapping of %d entries, over the cap of %d entries in one mapping", len(n.Content)/2, MaxItems)
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			l.walk(k)
			seg := k.Value
			if len(l.path) > 0 {
				seg = "." + seg
			}
			l.path = append(l.path, seg)
			l.walk(v)
			l.path = l.path[:len(l.path)-1]
		}
	}
}

// capFindings joins at most MaxFindings errors and says how many more
// there were.
func capFindings(file string, errs []error, more int) error {
	if len(errs) > MaxFindings {
		more += len(errs) - MaxFindings
		errs = errs[:MaxFindings]
	}
	if more > 0 {
		errs = append(errs, &Error{File: file, Msg: fmt.Sprintf("%d more problem(s) not shown: driftless reports at most %d per spec; fix these and run again", more, MaxFindings)})
	}
	return errors.Join(errs...)
}

// clipped is a value from the spec quoted in a message, cut to MaxQuoted
// bytes: a megabyte value must not make a megabyte message (and log, and
// annotation).
type clipped string

// Format prints the value with the verb it was given, cut and marked as
// cut: "aaaa"… (1048576 bytes in all).
func (c clipped) Format(f fmt.State, verb rune) {
	s := string(c)
	if len(s) <= MaxQuoted {
		fmt.Fprintf(f, fmt.FormatString(f, verb), s)
		return
	}
	cut := prefix(s, MaxQuoted)
	if verb == 'q' {
		cut = strconv.Quote(cut)
	}
	fmt.Fprintf(f, "%s… (%d bytes in all)", cut, len(s))
}

// clipText is clipped for text that is not quoted.
func clipText(s string) string { return fmt.Sprint(clipped(s)) }

// prefix returns at most n bytes of s, not splitting a UTF-8 sequence.
func prefix(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// note is message text already made of clipped values, which clipArgs
// leaves alone.
type note string

// clipArgs clips the strings and errors among a message's arguments.
func clipArgs(args []any) []any {
	out := make([]any, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case string:
			out[i] = clipped(v)
		case error:
			out[i] = clipped(v.Error())
		default:
			out[i] = a
		}
	}
	return out
}
