package step

import (
	"bytes"
	"unicode"
)

// The GitHub Actions runner reads every line a step prints, on stdout and
// on stderr, for workflow commands: a line that starts with "::" once
// leading white space is trimmed ("::warning::x"), and a line holding
// "##[" anywhere (the older "##[warning]x"). Lines end at "\n" or "\r".
// driftless issues its own commands through go-githubactions, which escapes
// their values, straight to the process's stdout; every other line passes
// defuse, so that a value printed in a log line (a file named
// "a\n::warning::x", an error text from a server) cannot become a command.

// maxPartialLine bounds how much of an unfinished line is held back.
const maxPartialLine = 64 << 10

// defuse returns the complete line (terminator included) with what would
// make the runner read it as a workflow command broken: a backslash before
// a leading "::", and "##[" written "##\[". atStart is false for the rest
// of a line whose beginning was already written.
func defuse(line []byte, atStart bool) []byte {
	if atStart {
		rest := bytes.TrimLeftFunc(line, unicode.IsSpace)
		if bytes.HasPrefix(rest, []byte("::")) {
			i := len(line) - len(rest)
			line = append(append(append([]byte(nil), line[:i]...), '\\'), line[i:]...)
		}
	}
	if bytes.Contains(line, []byte("##[")) {
		line = bytes.ReplaceAll(line, []byte("##["), []byte(`##\[`))
	}
	return line
}

// lineEnd returns the index just past the last line terminator in p, or 0.
func lineEnd(p []byte) int {
	return bytes.LastIndexAny(p, "\r\n") + 1
}

// defuseLines applies defuse to each line of p, which ends with a line
// terminator unless it is the rest of an overlong line.
func defuseLines(p []byte, atStart bool) []byte {
	if !bytes.Contains(p, []byte("::")) && !bytes.Contains(p, []byte("##[")) {
		return p
	}
	var out []byte
	for len(p) > 0 {
		n := bytes.IndexAny(p, "\r\n") + 1
		if n == 0 {
			n = len(p)
		}
		out = append(out, defuse(p[:n], atStart)...)
		p, atStart = p[n:], true
	}
	return out
}
