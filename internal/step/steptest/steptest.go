// Package steptest runs a step in-process for tests: a fake environment,
// captured stdout and stderr, the real step.Run.
package steptest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"unicode"

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
		t.Fatalf("%v (go test ./internal/steps/%s -update writes it)", err, def.Package())
	}
	if string(got) != string(want) {
		t.Errorf("%s is stale: the inputs or outputs of %s changed; run go test ./internal/steps/%s -update", path, def.Name, def.Package())
	}
}

// CheckDefinition checks a step's declaration, its reference page and its
// action.yml (rewritten with -update).
func CheckDefinition(t *testing.T, def step.Definition) {
	t.Helper()
	if err := def.Check(); err != nil {
		t.Fatal(err)
	}
	root := testtool.Root(t)
	CheckDoc(t, root, def)
	CheckAction(t, root, def, testtool.Update())
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

// Command is a workflow command as the GitHub Actions runner reads it from
// a line of a step's output.
type Command struct {
	Name       string
	Properties map[string]string
	Data       string
}

// WorkflowCommands returns the workflow commands the GitHub Actions runner
// would find in a step's output, stdout or stderr (it reads both), the way
// actions/runner's ActionCommand parses them: lines end at "\n" or "\r"; a
// line that starts with "::name props::data" once leading white space is
// trimmed, or that holds "##[name props]data" anywhere. Values are
// unescaped. Any name counts, not only the ones the runner knows.
func WorkflowCommands(output string) []Command {
	var cmds []Command
	for _, line := range strings.FieldsFunc(output, func(r rune) bool { return r == '\n' || r == '\r' }) {
		if c, ok := parseV2(line); ok {
			cmds = append(cmds, c)
		} else if c, ok := parseV1(line); ok {
			cmds = append(cmds, c)
		}
	}
	return cmds
}

func parseV2(line string) (Command, bool) {
	line = strings.TrimLeftFunc(line, unicode.IsSpace)
	if !strings.HasPrefix(line, "::") {
		return Command{}, false
	}
	info, data, ok := strings.Cut(line[2:], "::")
	if !ok {
		return Command{}, false
	}
	name, props, _ := strings.Cut(info, " ")
	if name == "" {
		return Command{}, false
	}
	c := Command{Name: name, Properties: map[string]string{}, Data: unescapeData(data)}
	for _, p := range strings.Split(strings.TrimSpace(props), ",") {
		if k, v, ok := strings.Cut(p, "="); ok && k != "" && v != "" {
			c.Properties[k] = unescapeProperty(v)
		}
	}
	return c, true
}

func parseV1(line string) (Command, bool) {
	i := strings.Index(line, "##[")
	if i < 0 {
		return Command{}, false
	}
	info, data, ok := strings.Cut(line[i+3:], "]")
	if !ok {
		return Command{}, false
	}
	name, props, _ := strings.Cut(info, " ")
	if name == "" {
		return Command{}, false
	}
	c := Command{Name: name, Properties: map[string]string{}, Data: unescapeV1(data)}
	for _, p := range strings.Split(props, ";") {
		if k, v, ok := strings.Cut(p, "="); ok && k != "" && v != "" {
			c.Properties[k] = unescapeV1(v)
		}
	}
	return c, true
}

// The runner unescapes by replacing each pair in turn, in this order.
func unescapeData(s string) string { return unescape(s, "%0D", "\r", "%0A", "\n", "%25", "%") }
func unescapeProperty(s string) string {
	return unescape(s, "%0D", "\r", "%0A", "\n", "%3A", ":", "%2C", ",", "%25", "%")
}
func unescapeV1(s string) string {
	return unescape(s, "%3B", ";", "%0D", "\r", "%0A", "\n", "%5D", "]", "%25", "%")
}

func unescape(s string, pairs ...string) string {
	for i := 0; i+1 < len(pairs); i += 2 {
		s = strings.ReplaceAll(s, pairs[i], pairs[i+1])
	}
	return s
}
