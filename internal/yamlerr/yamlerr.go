// Package yamlerr positions the YAML parser's error messages
// ("yaml: line 3: did not find expected key") so every step points at the
// same, correct line.
package yamlerr

import (
	"regexp"
	"strconv"
	"strings"
)

var lineRE = regexp.MustCompile(`^(?:yaml: )?(?:line (\d+): )?(.*)$`)

// parserProblems are messages of the YAML parser, as opposed to its
// scanner. For those the yaml libraries (yaml.v3 and the kustomize/k8s
// forks) report the 0-based line of the construct the problem is in, so 1
// is added.
var parserProblems = []string{
	"did not find expected ",
	"found duplicate %",
	"found incompatible YAML document",
	"found undefined tag handle",
}

// Position returns the 1-based line a YAML error message refers to (0 when
// it names none) and the message without its "yaml: line N:" prefix.
func Position(msg string) (line int, text string) {
	m := lineRE.FindStringSubmatch(strings.TrimSpace(msg))
	line, _ = strconv.Atoi(m[1])
	for _, p := range parserProblems {
		if strings.HasPrefix(m[2], p) && !scannerProblem(m[2]) {
			line++
			break
		}
	}
	return line, m[2]
}

// scannerProblem tells the scanner's "did not find expected ..." messages
// from the parser's.
func scannerProblem(msg string) bool {
	for _, s := range []string{"alphabetic", "comment", "digit", "hexdecimal", "version number", "whitespace"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}
