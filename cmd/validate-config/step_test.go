package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/driftless-dev/driftless/internal/step/steptest"
	"github.com/driftless-dev/driftless/internal/testtool"
)

func runStep(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	r := steptest.Run(t, definition, run, env, args...)
	return r.Code, r.Stdout, r.Stderr
}

func TestDefinition(t *testing.T) {
	t.Parallel()
	steptest.CheckDefinition(t, definition)
}

func TestExampleIsValid(t *testing.T) {
	t.Parallel()
	root := testtool.Root(t)
	code, stdout, stderr := runStep(t, nil, "--spec", filepath.Join(root, "driftless.yaml"), "--output", "json", "--strict")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	got := steptest.Outputs(t, stdout)
	if got["errors"] != "0" || got["warnings"] != "0" || got["findings"] != "[]" || got["objects"] == "0" {
		t.Errorf("outputs %v", got)
	}
}

func TestFindingsFailWithAnnotations(t *testing.T) {
	t.Parallel()
	spec := filepath.Join(testtool.Root(t), "internal", "validate", "testdata", "pipeline", "driftless.yaml")
	summary := filepath.Join(t.TempDir(), "summary.md")
	if err := os.WriteFile(summary, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runStep(t, map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": summary}, "--spec", spec, "--env", "test")
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, stderr)
	}
	if !strings.Contains(stderr, "../../internal/validate/testdata/pipeline/base/cache.yaml:6:3: error: [test] Deployment/shop-test/cache: spec.replicas: declared singleton but runs 2 replicas") {
		t.Errorf("stderr lacks the finding:\n%s", stderr)
	}
	// Paths are relative to the working directory, as GitHub expects
	// annotation paths relative to the workspace.
	if !strings.Contains(stdout, "::error col=3,file=../../internal/validate/testdata/pipeline/base/cache.yaml,line=6,title=validate-config::Deployment/shop-test/cache: spec.replicas: declared singleton") {
		t.Errorf("stdout lacks the annotation:\n%s", stdout)
	}
	if !strings.Contains(stderr, "validate-config: 8 error(s) found") {
		t.Errorf("stderr: %s", stderr)
	}
	b, _ := os.ReadFile(summary)
	if !strings.Contains(string(b), "❌ invalid") || !strings.Contains(string(b), "declared singleton") {
		t.Errorf("summary:\n%s", b)
	}
}

func TestBrokenSpecIsAFinding(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	f := filepath.Join(dir, "driftless.yaml")
	if err := os.WriteFile(f, []byte("apiVersion: driftless.dev/v1alpha1\nkind: Pipeline\nname: x\nimage: {repository: r.example.com/x, base: scratch}\nenvironments: [{name: t, overlay: o, namespace: n, color: red}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runStep(t, nil, "--spec", f)
	if code != 1 {
		t.Fatalf("exit %d, want 1 (validation found errors)\n%s", code, stderr)
	}
	if !strings.Contains(stderr, f+`:5:52: error: environments[0].color: unknown field "color"`) {
		t.Errorf("stderr:\n%s", stderr)
	}
	if strings.Contains(stderr, "goroutine") || strings.Contains(stderr, "panic") {
		t.Errorf("a Go stack reached the user:\n%s", stderr)
	}
}

func TestMissingSpecCannotRun(t *testing.T) {
	t.Parallel()
	code, _, stderr := runStep(t, nil, "--spec", filepath.Join(t.TempDir(), "none.yaml"))
	if code != 1 || !strings.Contains(stderr, "no pipeline spec here") {
		t.Errorf("exit %d: %s", code, stderr)
	}
}

func TestUnknownEnvironment(t *testing.T) {
	t.Parallel()
	code, _, stderr := runStep(t, nil, "--spec", filepath.Join(testtool.Root(t), "driftless.yaml"), "--env", "staging")
	if code != 2 || !strings.Contains(stderr, `environment "staging" is not in`) || !strings.Contains(stderr, "[test prod]") {
		t.Errorf("exit %d: %s", code, stderr)
	}
}
