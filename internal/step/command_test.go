package step_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/driftless-dev/driftless/internal/step"
	"github.com/driftless-dev/driftless/internal/step/steptest"
)

var commandDef = step.Definition{
	Name:    "demo-step",
	Summary: "a step for tests",
	Outputs: []step.Output{{Name: "digest", Description: "The digest."}},
}

var onGitHub = map[string]string{"GITHUB_ACTIONS": "true"}

// TestLogLinesCannotIssueWorkflowCommands: on GitHub, no value a step
// prints on stdout or stderr can make the runner read a workflow command,
// however the lines are split into writes; the text stays readable.
func TestLogLinesCannotIssueWorkflowCommands(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		log   func(s *step.Context)
		shown string // what stdout and stderr together must contain
	}{
		{"a newline in a logged value", func(s *step.Context) { s.Logf("reading %s", "a\n::warning::x") }, "reading a\n\\::warning::x\n"},
		{"a carriage return", func(s *step.Context) { s.Logf("reading %s", "a\r::add-mask::x") }, "reading a\r\\::add-mask::x\n"},
		{"leading white space", func(s *step.Context) { s.Logf("a\n \t::error file=x::y") }, "a\n \t\\::error file=x::y\n"},
		{"the older syntax anywhere in a line", func(s *step.Context) { s.Logf("file ##[set-output name=x;]y") }, `file ##\[set-output name=x;]y`},
		{"on stdout", func(s *step.Context) { fmt.Fprintln(s.Stdout, "out/a\n::warning::x.yaml") }, "out/a\n\\::warning::x.yaml\n"},
		{"split across writes", func(s *step.Context) { fmt.Fprint(s.Stderr, ":"); fmt.Fprint(s.Stderr, ":warning::x\n") }, "\\::warning::x\n"},
		{"after blanks written apart", func(s *step.Context) { fmt.Fprint(s.Stderr, "  "); fmt.Fprint(s.Stderr, "::warning::x\n") }, "  \\::warning::x\n"},
		{"an unfinished last line", func(s *step.Context) { fmt.Fprint(s.Stderr, "::warning::x") }, "\\::warning::x"},
		{"after an overlong line", func(s *step.Context) {
			fmt.Fprint(s.Stderr, strings.Repeat("x", 100<<10))
			fmt.Fprint(s.Stderr, "::y\n::warning::x\n")
		}, "xx::y\n\\::warning::x\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := steptest.Run(t, commandDef, func(ctx context.Context, s *step.Context) error {
				tc.log(s)
				return nil
			}, onGitHub)
			if cmds := steptest.WorkflowCommands(r.Stdout + r.Stderr); len(cmds) != 0 {
				t.Errorf("the runner would run %+v\nstdout: %q\nstderr: %q", cmds, r.Stdout, r.Stderr)
			}
			if !strings.Contains(r.Stdout+r.Stderr, tc.shown) {
				t.Errorf("output %q lacks %q", r.Stdout+r.Stderr, tc.shown)
			}
		})
	}
}

// TestLogLinesUnchangedOffGitHub: elsewhere no runner reads commands, and
// what a step prints is passed on as it is.
func TestLogLinesUnchangedOffGitHub(t *testing.T) {
	t.Parallel()
	r := steptest.Run(t, commandDef, func(ctx context.Context, s *step.Context) error {
		fmt.Fprint(s.Stderr, "a\n::warning::x ##[y]")
		return nil
	}, nil)
	if r.Stderr != "a\n::warning::x ##[y]" {
		t.Errorf("stderr %q", r.Stderr)
	}
}

// TestErrorTextCannotIssueWorkflowCommands: a step's error is printed on
// stderr and annotated; neither adds a command.
func TestErrorTextCannotIssueWorkflowCommands(t *testing.T) {
	t.Parallel()
	r := steptest.Run(t, commandDef, func(ctx context.Context, s *step.Context) error {
		return errors.New("the server said:\n::add-mask::x\n##[warning]y")
	}, onGitHub)
	want := []steptest.Command{{Name: "error", Properties: map[string]string{}, Data: "demo-step: the server said:\n::add-mask::x\n##[warning]y"}}
	if diff := cmp.Diff(want, steptest.WorkflowCommands(r.Stdout+r.Stderr)); diff != "" {
		t.Errorf("commands (-want +got):\n%s\nstdout: %q\nstderr: %q", diff, r.Stdout, r.Stderr)
	}
}

// TestAnnotationValuesAreEscaped: go-githubactions escapes an annotation's
// message and properties (a file name with a newline, commas and colons),
// so the runner reads back exactly the values given.
func TestAnnotationValuesAreEscaped(t *testing.T) {
	t.Parallel()
	file := "static/a\n::warning::x,y:z %0A.yaml"
	r := steptest.Run(t, commandDef, func(ctx context.Context, s *step.Context) error {
		s.Annotate(step.Annotation{Severity: step.SeverityWarning, File: file, Line: 3, Col: 1, Title: "t, with: punctuation", Message: "bad\r\n::error::y 100%"})
		return nil
	}, onGitHub)
	want := []steptest.Command{{Name: "warning", Properties: map[string]string{"file": file, "line": "3", "col": "1", "title": "t, with: punctuation"}, Data: "bad\r\n::error::y 100%"}}
	if diff := cmp.Diff(want, steptest.WorkflowCommands(r.Stdout+r.Stderr)); diff != "" {
		t.Errorf("commands (-want +got):\n%s\nstdout: %q", diff, r.Stdout)
	}
}

// TestOutputCannotEndItselfEarly: go-githubactions puts every output
// between the same fixed delimiter lines in $GITHUB_OUTPUT; a value holding
// the delimiter is refused rather than let it set other outputs.
func TestOutputCannotEndItselfEarly(t *testing.T) {
	t.Parallel()
	ghOut := filepath.Join(t.TempDir(), "output")
	if err := os.WriteFile(ghOut, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	r := steptest.Run(t, commandDef, func(ctx context.Context, s *step.Context) error {
		s.SetOutput("digest", "sha256:x\n_GitHubActionsFileCommandDelimeter_\ninjected=yes")
		return nil
	}, map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": ghOut})
	got, _ := os.ReadFile(ghOut)
	if r.Code != step.ExitUnusable || strings.Contains(string(got), "injected") || !strings.Contains(r.Stderr, `output "digest" contains`) {
		t.Errorf("exit %d, $GITHUB_OUTPUT %q, stderr %q", r.Code, got, r.Stderr)
	}
}
