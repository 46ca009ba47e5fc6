// Package steptest runs a step in-process for tests: a fake environment,
// captured stdout and stderr, the real step.Run.
package steptest

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/driftless-dev/driftless/internal/step"
	"github.com/driftless-dev/driftless/internal/testtool"
)

// Result is what a step run produced.
type Result struct {
	Code           int
	Stdout, Stderr string
}

// Run runs the step with the given environment variables and arguments.
// The local Git context is read from an empty directory.
func Run(t *testing.T, def step.Definition, fn step.Func, env map[string]string, args ...string) Result {
	t.Helper()
	var out, errb bytes.Buffer
	code := step.Run(context.Background(), def, fn, step.IO{
		Args: args, Getenv: func(k string) string { return env[k] }, Stdout: &out, Stderr: &errb, Dir: t.TempDir(),
	})
	return Result{code, out.String(), errb.String()}
}

// CheckDoc fails the test when the step's reference page (docs/steps/<name>.md
// under root) does not list exactly the step's inputs and outputs in the
// first column of the tables under its "## Inputs" and "## Outputs"
// headings, so the docs cannot drift from the code.
func CheckDoc(t *testing.T, root string, def step.Definition) {
	t.Helper()
	path := filepath.Join(root, "docs", "steps", def.Name+".md")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var inputs, outputs []string
	for _, in := range def.AllInputs() {
		inputs = append(inputs, in.Name)
	}
	for _, o := range def.Outputs {
		outputs = append(outputs, o.Name)
	}
	for _, sec := range []struct {
		heading string
		want    []string
	}{{"## Inputs", inputs}, {"## Outputs", outputs}} {
		got := tableNames(string(b), sec.heading)
		sort.Strings(got)
		want := append([]string(nil), sec.want...)
		sort.Strings(want)
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%s %s lists %v; the step declares %v", path, sec.heading, got, want)
		}
	}
}

var backticked = regexp.MustCompile("`([a-z0-9_-]+)`")

// tableNames returns the backticked names in the first column of the table
// rows under heading.
func tableNames(doc, heading string) []string {
	_, rest, ok := strings.Cut(doc, "\n"+heading+"\n")
	if !ok {
		return nil
	}
	if i := strings.Index(rest, "\n## "); i >= 0 {
		rest = rest[:i]
	}
	var names []string
	for _, line := range strings.Split(rest, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 3 || !strings.HasPrefix(strings.TrimSpace(line), "|") {
			continue
		}
		for _, m := range backticked.FindAllStringSubmatch(cells[1], -1) {
			names = append(names, m[1])
		}
	}
	return names
}

// CheckAction fails the test when actions/<name>/action.yml under root is
// not what step.ActionYAML generates from the definition; with update it
// rewrites the file instead.
func CheckAction(t *testing.T, root string, def step.Definition, update bool) {
	t.Helper()
	path := filepath.Join(root, "actions", def.Name, "action.yml")
	want := step.ActionYAML(def)
	if update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./cmd/%s -update writes it)", err, def.Name)
	}
	if string(got) != string(want) {
		t.Errorf("%s is stale: the inputs or outputs of %s changed; run go test ./cmd/%s -update", path, def.Name, def.Name)
	}
}

// update rewrites generated files (actions/<step>/action.yml).
var update = flag.Bool("update", false, "rewrite actions/<step>/action.yml")

// CheckDefinition checks a step's declaration, its reference page and its
// action.yml (rewritten with -update).
func CheckDefinition(t *testing.T, def step.Definition) {
	t.Helper()
	if err := def.Check(); err != nil {
		t.Fatal(err)
	}
	root := testtool.Root(t)
	CheckDoc(t, root, def)
	CheckAction(t, root, def, *update)
}

// Outputs parses the one JSON object a step prints with --output json
// (GitHub workflow commands, which start with "::", aside), with every
// value as a string.
func Outputs(t *testing.T, stdout string) map[string]string {
	t.Helper()
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(stdout), "\n") {
		if l != "" && !strings.HasPrefix(l, "::") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 1 {
		t.Fatalf("stdout is not one JSON object:\n%s", stdout)
	}
	var raw map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &raw); err != nil {
		t.Fatalf("%v: %q", err, lines[0])
	}
	out := map[string]string{}
	for k, v := range raw {
		out[k] = fmt.Sprint(v)
	}
	return out
}
