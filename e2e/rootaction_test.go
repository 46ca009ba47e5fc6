package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/driftless-dev/driftless/internal/testtool"
)

// rootActionWorkflow runs the root action (uses: ./) on a spec with one
// warning, then with --strict, which fails on it; a step after each prints
// the json output in base64, so the test reads exactly what a later step
// of a workflow would.
const rootActionWorkflow = `name: root-action
on: push
jobs:
  validate:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - id: lenient
        uses: ./
        with:
          step: validate-config
      - env:
          JSON: ${{ steps.lenient.outputs.json }}
        run: echo "lenient json $(printf '%s' "$JSON" | base64 -w0)"
      - id: strict
        uses: ./
        continue-on-error: true
        with:
          step: validate-config
          args: --strict --env test
      - env:
          JSON: ${{ steps.strict.outputs.json }}
          OUTCOME: ${{ steps.strict.outcome }}
          WARNINGS: ${{ steps.strict.outputs.warnings }}
        run: echo "strict json $(printf '%s' "$JSON" | base64 -w0) outcome $OUTCOME"
`

// TestRootAction runs the root action.yml under nektos/act: the step's
// annotations reach the runner (they used to be captured with its stdout),
// and the json output is the step's one JSON object, which parses — also
// when the step fails.
func TestRootAction(t *testing.T) {
	if testing.Short() {
		t.Skip("runs act: several seconds")
	}
	t.Parallel()
	act := testtool.Path(t, "act")
	bin := t.TempDir() // DRIFTLESS_BIN_DIR: install.sh takes the steps from here
	build(t, bin, "validate-config", "bake-image", "tag-sync", "kustomize-render", "apply-env", "smoke-test")

	repo := t.TempDir()
	root := testtool.Root(t)
	copyTree(t, filepath.Join(root, "action.yml"), filepath.Join(repo, "action.yml"))
	copyTree(t, filepath.Join(root, "actions", "install.sh"), filepath.Join(repo, "actions", "install.sh"))
	write(t, filepath.Join(repo, ".github", "workflows", "root-action.yml"), rootActionWorkflow)
	write(t, filepath.Join(repo, "driftless.yaml"), `apiVersion: driftless.dev/v1alpha1
kind: Pipeline
name: hello
image: {repository: registry.example.com/hello, name: hello, base: scratch}
environments:
  - {name: test, overlay: k/test, namespace: hello-test}
`)
	write(t, filepath.Join(repo, "k", "test", "kustomization.yaml"), "namespace: hello-test\nresources: [api.yaml]\n")
	// No resource requests: a warning, not an error.
	write(t, filepath.Join(repo, "k", "test", "api.yaml"), `apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec: {containers: [{name: api, image: hello}]}
`)
	for _, args := range [][]string{
		{"init", "-q", "-b", "main"},
		{"remote", "add", "origin", "https://github.com/example/hello.git"},
		{"add", "-A"},
		{"commit", "-q", "-m", "hello"},
	} {
		gitIn(t, repo)(args...)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, act, "push", "--json",
		"--workflows", ".github/workflows/root-action.yml",
		"-P", "ubuntu-latest=-self-hosted",
		"--action-cache-path", t.TempDir(),
		"--no-cache-server",
		"--secret", "GITHUB_TOKEN=",
	)
	cmd.Dir = repo
	cmd.Env = append(os.Environ(), "ACT_DISABLE_VERSION_CHECK=1", "DRIFTLESS_BIN_DIR="+bin, "XDG_CONFIG_HOME="+t.TempDir())
	start := time.Now()
	out, err := cmd.CombinedOutput()
	t.Logf("act: %v, %s", time.Since(start).Round(10*time.Millisecond), exitOf(err))
	if err != nil {
		t.Fatalf("act: %v\n%s", err, out)
	}

	// act --json logs one JSON object a line; a workflow command the runner
	// acted on carries its name, fields and message.
	type logLine struct {
		StepID    []string          `json:"stepID"`
		Command   string            `json:"command"`
		KVPairs   map[string]string `json:"kvPairs"`
		Arg       string            `json:"arg"`
		Msg       string            `json:"msg"`
		RawOutput bool              `json:"raw_output"` // a line the step printed
	}
	type annotation struct{ Step, Command, File, Line, Arg string }
	var annotations []annotation
	jsonOutputs := map[string]string{}
	outcome := ""
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l logLine
		if json.Unmarshal(sc.Bytes(), &l) != nil {
			continue
		}
		switch l.Command {
		case "warning", "error":
			annotations = append(annotations, annotation{strings.Join(l.StepID, "/"), l.Command, l.KVPairs["file"], l.KVPairs["line"], l.Arg})
		}
		for _, which := range []string{"lenient", "strict"} {
			if rest, ok := strings.CutPrefix(l.Msg, which+" json "); ok && l.RawOutput {
				b64, o, _ := strings.Cut(strings.TrimSpace(rest), " outcome ")
				b, err := base64.StdEncoding.DecodeString(b64)
				if err != nil {
					t.Fatalf("%s: %v in %q", which, err, l.Msg)
				}
				jsonOutputs[which] = string(b)
				if which == "strict" {
					outcome = o
				}
			}
		}
	}
	const warning = `Deployment/hello-test/api: spec.template.spec.containers[0]: container "api" has no cpu or memory request: the scheduler cannot place it reliably`
	wantAnnotations := []annotation{
		{"lenient/run", "warning", "k/test/api.yaml", "8", warning},
		{"strict/run", "warning", "k/test/api.yaml", "8", warning},
		{"strict/run", "error", "", "", "validate-config: 1 warning(s) found and --strict is set"},
	}
	if diff := cmp.Diff(wantAnnotations, annotations); diff != "" {
		t.Errorf("annotations (-want +got):\n%s\n%s", diff, out)
	}

	for which, want := range map[string]map[string]any{
		"lenient": {"errors": "0", "warnings": "1", "objects": "1"},
		"strict":  {"errors": "0", "warnings": "1", "objects": "1", "exitCode": 1.0},
	} {
		var got map[string]any
		if err := json.Unmarshal([]byte(jsonOutputs[which]), &got); err != nil {
			t.Errorf("%s: the json output does not parse: %v\n%q", which, err, jsonOutputs[which])
			continue
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s: json output %s = %v, want %v: %s", which, k, got[k], v, jsonOutputs[which])
			}
		}
		if !strings.Contains(jsonOutputs[which], `"severity\":\"warning\"`) {
			t.Errorf("%s: the json output lacks the finding: %s", which, jsonOutputs[which])
		}
	}
	if outcome != "failure" {
		t.Errorf("strict step outcome %q, want failure (exit 1 passed on)", outcome)
	}
}
