package validateconfig

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/driftless-dev/driftless/internal/step"
	"github.com/driftless-dev/driftless/internal/step/steptest"
	"github.com/driftless-dev/driftless/internal/testtool"
)

func runStep(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	r := steptest.Run(t, Definition, Run, env, args...)
	return r.Code, r.Stdout, r.Stderr
}

func TestDefinition(t *testing.T) {
	t.Parallel()
	steptest.CheckDefinition(t, Definition)
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
	if !strings.Contains(stderr, "../../validate/testdata/pipeline/base/cache.yaml:6:3: error: [test] Deployment/shop-test/cache: spec.replicas: declared singleton but runs 2 replicas") {
		t.Errorf("stderr lacks the finding:\n%s", stderr)
	}
	// Paths are relative to the working directory, as GitHub expects
	// annotation paths relative to the workspace.
	if !strings.Contains(stdout, "::error col=3,file=../../validate/testdata/pipeline/base/cache.yaml,line=6,title=validate-config::Deployment/shop-test/cache: spec.replicas: declared singleton") {
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

// TestMain runs validate-config's main instead of the tests when
// VALIDATE_CONFIG_ARGS is set (one argument a line), so that a test can
// start the step as a real process and signal it.
func TestMain(m *testing.M) {
	if args, ok := os.LookupEnv("VALIDATE_CONFIG_ARGS"); ok {
		os.Args = append([]string{"validate-config"}, strings.Split(args, "\n")...)
		step.Main(Definition, Run)
	}
	os.Exit(m.Run())
}

// pipeProject writes a pipeline whose test overlay is in k/, with the
// extra files given, and returns the spec's path.
func pipeProject(t *testing.T, static string, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	doc := "apiVersion: driftless.dev/v1alpha1\nkind: Pipeline\nname: api\nimage: {repository: r.example.com/api, base: scratch}\n" + static + "environments: [{name: test, overlay: k, namespace: t}]\n"
	files["driftless.yaml"] = doc
	files[".git/HEAD"] = "ref: refs/heads/main\n"
	for name, content := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "driftless.yaml")
}

// TestStaticNamedPipe: a named pipe in the static configuration is an
// error at its path, found without opening it (opening it would wait
// for a writer forever).
func TestStaticNamedPipe(t *testing.T) {
	t.Parallel()
	spec := pipeProject(t, "static: {dir: static, path: /srv/static}\n", map[string]string{"k/kustomization.yaml": "resources: []\n", "static/a.yaml": "a: 1\n"})
	pipe := filepath.Join(filepath.Dir(spec), "static", "pipe.yaml")
	if err := syscall.Mkfifo(pipe, 0o644); err != nil {
		t.Fatal(err)
	}
	type result struct {
		code           int
		stdout, stderr string
	}
	done := make(chan result, 1)
	go func() {
		code, stdout, stderr := runStep(t, nil, "--spec", spec)
		done <- result{code, stdout, stderr}
	}()
	select {
	case r := <-done:
		want := pipe + ": error: a named pipe (FIFO), refused without being opened"
		if r.code != 1 || !strings.Contains(r.stderr, want) {
			t.Errorf("exit %d, want 1 and %q in\n%s", r.code, want, r.stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("validate-config still running after 30s")
	}
}

// TestStopsOnSIGTERMWhileBlocked: validate-config, blocked on a read it
// cannot interrupt (kustomize waiting on a named pipe an overlay names),
// still ends on SIGTERM, as a CI runner cancelling the job sends it.
func TestStopsOnSIGTERMWhileBlocked(t *testing.T) {
	t.Parallel()
	spec := pipeProject(t, "", map[string]string{"k/kustomization.yaml": "resources: [pipe.yaml]\n"})
	pipe := filepath.Join(filepath.Dir(spec), "k", "pipe.yaml")
	if err := syscall.Mkfifo(pipe, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "VALIDATE_CONFIG_ARGS=--spec\n"+spec)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill() })

	// Opening the pipe for writing without blocking succeeds once the step
	// has it open for reading; the writer, kept open and silent, leaves the
	// step blocked in its read.
	var w *os.File
	for deadline := time.Now().Add(60 * time.Second); w == nil; time.Sleep(20 * time.Millisecond) {
		if f, err := os.OpenFile(pipe, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			w = f
		} else if time.Now().After(deadline) {
			t.Fatalf("validate-config never opened %s: %v\n%s", pipe, err, stderr.String())
		}
	}
	defer w.Close()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		t.Fatal("validate-config still running 10s after SIGTERM")
	}
	if code := cmd.ProcessState.ExitCode(); code != 2 || !strings.Contains(stderr.String(), "validate-config: stopped before the validation finished") {
		t.Errorf("exit %d, want 2 and the reason, stderr:\n%s", code, stderr.String())
	}
}
