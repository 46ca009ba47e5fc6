package render

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"sigs.k8s.io/kustomize/api/konfig"

	"github.com/driftless-dev/driftless/internal/yamlerr"
)

// Error is an overlay kustomize could not render, pointed at the
// kustomization file (and line, when it can be told) that caused it.
type Error struct {
	Overlay string
	File    string
	Line    int
	Msg     string
}

func (e *Error) Error() string {
	return fmt.Sprintf("rendering overlay %q: %s", e.Overlay, e.Msg)
}

var (
	wrapperPrefix = regexp.MustCompile(`^accumulating resources: accumulation err='accumulating resources from '[^']*': '[^']*' must resolve to a file': recursed accumulation of path '[^']*': `)
	missingFile   = regexp.MustCompile(`evalsymlink failure on '([^']+)' : lstat [^:]+: no such file or directory`)
	cycle         = regexp.MustCompile(`cycle detected: candidate root '([^']+)' contains visited root '([^']+)'`)
	unknownField  = regexp.MustCompile(`invalid Kustomization: json: unknown field "([^"]+)"`)
	recursedPath  = regexp.MustCompile(`recursed accumulation of path '([^']+)'`)
	malformedYAML = regexp.MustCompile(`accumulating resources from '([^']+)': MalformedYAMLError: (.*) in File: \S+$`)
)

// kustomizeError turns kustomize's nested error text into one message
// about the user's files. tmp, abs and rel name the wrapper and the overlay
// as kustomize saw them; dir is the overlay as the user named it.
func kustomizeError(err error, tmp, abs, rel, dir string) *Error {
	msg := err.Error()
	msg = strings.ReplaceAll(msg, tmp+string(filepath.Separator)+"kustomization.yaml", "(driftless wrapper)")
	msg = strings.ReplaceAll(msg, tmp, "(driftless wrapper)")
	msg = strings.ReplaceAll(msg, rel, dir)
	msg = strings.ReplaceAll(msg, abs, dir)
	msg = wrapperPrefix.ReplaceAllString(msg, "")
	e := &Error{Overlay: dir, File: kustomizationIn(dir), Msg: msg}
	switch {
	case missingFile.MatchString(msg):
		m := missingFile.FindStringSubmatch(msg)
		missing := m[1]
		e.File = kustomizationIn(filepath.Dir(missing))
		e.Line = lineOf(e.File, filepath.Base(missing))
		e.Msg = fmt.Sprintf("%s lists %q, which does not exist", e.File, filepath.Base(missing))
	case cycle.MatchString(msg):
		m := cycle.FindStringSubmatch(msg)
		e.File = kustomizationIn(m[1])
		e.Msg = fmt.Sprintf("cycle of bases: %s includes itself through its resources", m[1])
	case malformedYAML.MatchString(msg):
		m := malformedYAML.FindStringSubmatch(msg)
		// The file is relative to the kustomization being accumulated: the
		// innermost recursed path, else the overlay itself.
		base := dir
		if rs := recursedPath.FindAllStringSubmatch(msg, -1); len(rs) > 0 {
			base = rs[len(rs)-1][1]
		}
		line, text := yamlerr.Position(m[2])
		e.File, e.Line, e.Msg = filepath.Join(base, m[1]), line, "invalid YAML: "+text
	case unknownField.MatchString(msg):
		m := unknownField.FindStringSubmatch(msg)
		e.Line = lineOf(e.File, m[1]+":")
		e.Msg = fmt.Sprintf("unknown field %q in a kustomization (see https://kubectl.docs.kubernetes.io/references/kustomize/kustomization/)", m[1])
	}
	return e
}

func kustomizationIn(dir string) string {
	for _, n := range konfig.RecognizedKustomizationFileNames() {
		p := filepath.Join(dir, n)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return filepath.Join(dir, "kustomization.yaml")
}

// lineOf returns the first line of file containing s, or 0.
func lineOf(file, s string) int {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0
	}
	for i, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, s) {
			return i + 1
		}
	}
	return 0
}
