package kustomizerender

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/driftless-dev/driftless/internal/configrev"
	"github.com/driftless-dev/driftless/internal/step/steptest"
	"github.com/driftless-dev/driftless/internal/testtool"
)

const image = "127.0.0.1:5000/pssp/api@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func runStep(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	r := steptest.Run(t, Definition, Run, env, args...)
	return r.Code, r.Stdout, r.Stderr
}

func TestDefinition(t *testing.T) {
	t.Parallel()
	steptest.CheckDefinition(t, Definition)
}

func TestRenderExample(t *testing.T) {
	t.Parallel()
	root := testtool.Root(t)
	out := t.TempDir()
	summary := filepath.Join(t.TempDir(), "summary.md")
	if err := os.WriteFile(summary, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_REF": "refs/tags/v1.4.2", "GITHUB_SHA": "c0ffee", "GITHUB_STEP_SUMMARY": summary, "INPUT_IMAGE": image}
	code, stdout, stderr := runStep(t, env, "--spec", filepath.Join(root, "driftless.yaml"), "--out", out, "--output", "json")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	// With --output json stdout is one JSON object and nothing else (the
	// GitHub workflow commands aside).
	outputs := steptest.Outputs(t, stdout)
	var manifests map[string]struct {
		File    string
		SHA256  string
		Objects int
	}
	if err := json.Unmarshal([]byte(outputs["rendered"]), &manifests); err != nil {
		t.Fatal(err)
	}
	rev, err := configrev.Dir(filepath.Join(root, "example", "static"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []string{"test", "prod"} {
		m := manifests[e]
		b, err := os.ReadFile(m.File)
		if err != nil {
			t.Fatalf("%s: %v", e, err)
		}
		// The whole rendered environment: every change shows in review.
		testtool.Golden(t, filepath.Join("testdata", "golden", e+".yaml"), b)
		if !strings.Contains(string(b), "driftless.dev/config-revision: "+rev) {
			t.Errorf("%s.yaml does not record the configuration revision %s", e, rev)
		}
	}
	if _, ok := outputs["manifests"]; ok {
		t.Error("manifests is only an output when one environment is rendered")
	}
	s, _ := os.ReadFile(summary)
	testtool.Golden(t, filepath.Join("testdata", "golden", "summary.md"), bytes.ReplaceAll(s, []byte(out), []byte("$OUT")))
	if strings.Contains(string(s), "dummy-for-example") || strings.Contains(string(s), "ZHVtbXktZm9yLWV4YW1wbGU") {
		t.Error("the summary shows a Secret's value")
	}

	// Deterministic: a second run writes the same bytes.
	out2 := t.TempDir()
	if code, _, stderr := runStep(t, env, "--spec", filepath.Join(root, "driftless.yaml"), "--out", out2, "--env", "prod", "--dotenv", filepath.Join(out2, "r.env")); code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	a, _ := os.ReadFile(manifests["prod"].File)
	b, _ := os.ReadFile(filepath.Join(out2, "prod.yaml"))
	if !bytes.Equal(a, b) {
		t.Error("two renders of prod differ")
	}
	dotenv, _ := os.ReadFile(filepath.Join(out2, "r.env"))
	if !strings.Contains(string(dotenv), "DRIFTLESS_SHA256="+manifests["prod"].SHA256+"\n") || !strings.Contains(string(dotenv), "DRIFTLESS_MANIFESTS="+filepath.Join(out2, "prod.yaml")) {
		t.Errorf("dotenv:\n%s", dotenv)
	}
}

func TestRefusesUnpinnedImage(t *testing.T) {
	t.Parallel()
	out := t.TempDir()
	code, _, stderr := runStep(t, nil, "--spec", filepath.Join(testtool.Root(t), "driftless.yaml"), "--out", out, "--env", "test")
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, stderr)
	}
	if !strings.Contains(stderr, `environment "test" not written`) || !strings.Contains(stderr, `Deployment/pssp-test/pssp-api container "api": "pssp-api" is the pipeline's image without a digest`) {
		t.Errorf("stderr:\n%s", stderr)
	}
	if _, err := os.Stat(filepath.Join(out, "test.yaml")); !os.IsNotExist(err) {
		t.Error("a refused environment was written")
	}
}

func TestBadImageCannotRun(t *testing.T) {
	t.Parallel()
	code, _, stderr := runStep(t, nil, "--spec", filepath.Join(testtool.Root(t), "driftless.yaml"), "--out", t.TempDir(), "--image", "127.0.0.1:5000/pssp/api:v1")
	if code != 2 || !strings.Contains(stderr, "not pinned by digest") {
		t.Errorf("exit %d: %s", code, stderr)
	}
}

// exampleSpec writes a copy of the example's spec whose overlays point at
// the repository's, with edit applied, and returns its path.
func exampleSpec(t *testing.T, edit func(string) string) string {
	t.Helper()
	root := testtool.Root(t)
	b, err := os.ReadFile(filepath.Join(root, "driftless.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	s := strings.ReplaceAll(string(b), "overlay: kustomize/", "overlay: "+filepath.Join(root, "kustomize")+"/")
	s = strings.ReplaceAll(s, "example/", filepath.Join(root, "example")+"/")
	path := filepath.Join(t.TempDir(), "driftless.yaml")
	if err := os.WriteFile(path, []byte(edit(s)), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestWrongImageNameRefused: an image.name no container uses would leave
// the real image unpinned while every object records the digest. The step
// refuses, names the images found and the name that would match, and
// writes nothing.
func TestWrongImageNameRefused(t *testing.T) {
	t.Parallel()
	spec := exampleSpec(t, func(s string) string { return strings.Replace(s, "name: pssp-api # what", "name: pssp-apii # what", 1) })
	out := t.TempDir()
	code, _, stderr := runStep(t, nil, "--spec", spec, "--out", out, "--image", image)
	if code != 2 {
		t.Fatalf("exit %d, want 2\n%s", code, stderr)
	}
	for _, want := range []string{
		`environment "test": no container runs the pipeline's image ("pssp-apii", "127.0.0.1:5000/pssp/api")`,
		`its containers run "pssp-api", "redis:7.2.5"`,
		`set image.name in the spec to "pssp-api"`,
		"nothing was written",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Errorf("files were written: %v", entries)
	}
}

// TestOneBrokenEnvironmentWritesNothing: environments are rendered and
// checked before any is written.
func TestOneBrokenEnvironmentWritesNothing(t *testing.T) {
	t.Parallel()
	broken := t.TempDir()
	if err := os.WriteFile(filepath.Join(broken, "kustomization.yaml"), []byte("resources: [missing.yaml]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	spec := exampleSpec(t, func(s string) string {
		return strings.Replace(s, "overlay: "+filepath.Join(testtool.Root(t), "kustomize/overlays/prod"), "overlay: "+broken, 1)
	})
	out := t.TempDir()
	code, _, stderr := runStep(t, nil, "--spec", spec, "--out", out, "--image", image)
	if code != 2 || !strings.Contains(stderr, "missing.yaml") || !strings.Contains(stderr, "nothing was written") {
		t.Fatalf("exit %d, want 2 naming missing.yaml\n%s", code, stderr)
	}
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Errorf("the good environment was written although another failed: %v", entries)
	}
}

// TestRenderHelmExample: the example's chart-based spec renders both
// environments, the image pinned through the chart's values, and says
// which test hooks it left out.
func TestRenderHelmExample(t *testing.T) {
	t.Parallel()
	root := testtool.Root(t)
	out := t.TempDir()
	env := map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_REF": "refs/tags/v1.4.2", "GITHUB_SHA": "c0ffee", "INPUT_IMAGE": image}
	code, stdout, stderr := runStep(t, env, "--spec", filepath.Join(root, "example", "helm", "driftless.yaml"), "--out", out)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	for _, e := range []string{"test", "prod"} {
		b, err := os.ReadFile(filepath.Join(out, e+".yaml"))
		if err != nil {
			t.Fatal(err)
		}
		if n := len(regexp.MustCompile(`(?m)^ +image: `+regexp.QuoteMeta(image)+`$`).FindAll(b, -1)); n != 2 {
			t.Errorf("%s: the API and the worker should run %s; %d containers do:\n%s", e, image, n, b)
		}
		if want := "kustomize-render: " + e + ": chart test hook Pod/pssp-api-test-connection (pssp/templates/tests/test-connection.yaml): helm.sh/hook: test left out (chart.testHooks: drop)"; !strings.Contains(stderr, want) {
			t.Errorf("log lacks %q:\n%s", want, stderr)
		}
	}
	if !strings.Contains(stdout, filepath.Join(out, "prod.yaml")) {
		t.Errorf("stdout %q", stdout)
	}
}
