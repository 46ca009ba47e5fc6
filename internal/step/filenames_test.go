package step_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/driftless-dev/driftless/internal/spec"
	"github.com/driftless-dev/driftless/internal/step"
	"github.com/driftless-dev/driftless/internal/step/steptest"
	"github.com/driftless-dev/driftless/internal/validate"
)

// validateConfig reports findings the way cmd/validate-config does: each
// on stderr as file:line:col, and as an annotation on GitHub.
func validateConfig(ctx context.Context, s *step.Context) error {
	p, err := spec.Load(s.String(step.SpecInput))
	if err != nil {
		return err
	}
	r, err := validate.Pipeline(p, nil)
	if err != nil {
		return err
	}
	for _, f := range r.Findings {
		fmt.Fprintln(s.Stderr, f.String())
		s.Annotate(step.Annotation{Severity: step.SeverityError, File: f.File, Line: f.Line, Col: f.Col, Title: "validate-config", Message: f.Message})
	}
	return step.Failed(fmt.Errorf("%d error(s) found", len(r.Findings)))
}

// TestHostileFileNamesInFindings: files in a real repository named to
// inject workflow commands ("a\n::warning::x.yaml", "##[error]"), found
// broken by validation, are named in findings on stderr and in annotations
// without the runner reading any command but the step's own annotations,
// which carry the names exactly.
func TestHostileFileNamesInFindings(t *testing.T) {
	t.Parallel()
	repo := t.TempDir()
	if out, err := exec.Command("git", "init", "-q", repo).CombinedOutput(); err != nil {
		t.Fatalf("git init: %v\n%s", err, out)
	}
	names := []string{"a\n::warning::x.yaml", "b\r::add-mask::b.yaml", "c ##[error]y, z: w.json"}
	files := map[string]string{
		"driftless.yaml": "apiVersion: driftless.dev/v1alpha1\nkind: Pipeline\nname: svc\nimage: {repository: registry.example.com/svc, base: scratch}\nstatic: {dir: static, path: /s}\nenvironments: []\n",
	}
	for _, n := range names {
		files[filepath.Join("static", n)] = "{unclosed: [\n"
	}
	for name, content := range files {
		path := filepath.Join(repo, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	def := step.Definition{Name: "validate-config", Summary: "validation as validate-config reports it"}
	r := steptest.Run(t, def, validateConfig, onGitHub, "--spec", filepath.Join(repo, "driftless.yaml"))
	if r.Code != step.ExitFailed {
		t.Fatalf("exit %d\nstderr: %s", r.Code, r.Stderr)
	}
	type cmd struct{ Name, File string }
	var want []cmd
	for _, n := range names {
		want = append(want, cmd{"error", filepath.Join(repo, "static", n)})
	}
	want = append(want, cmd{"error", ""}) // the step's own "3 error(s) found"
	var got []cmd
	for _, c := range steptest.WorkflowCommands(r.Stdout + r.Stderr) {
		got = append(got, cmd{c.Name, c.Properties["file"]})
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("workflow commands (-want +got):\n%s\nstdout: %q\nstderr: %q", diff, r.Stdout, r.Stderr)
	}
}
