package step

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var (
	inEnv    = Input{Name: "env", Description: "Environment.", Default: "test"}
	inStrict = Input{Name: "strict", Description: "Strict mode.", Kind: Bool}
	inMode   = Input{Name: "mode", Description: "Mode.", Default: "fast", Choices: []string{"fast", "slow"}}
	inToken  = Input{Name: "token", Description: "A token.", Secret: true}
	inWait   = Input{Name: "wait", Description: "How long to wait.", Kind: Duration, Default: "5m"}
	inCount  = Input{Name: "count", Description: "How many.", Kind: Int}
	inNames  = Input{Name: "names", Description: "Names.", Kind: List}
	inPause  = Input{Name: "pause", Description: "How long to pause.", Kind: Duration, ZeroOK: true}
)

var testDef = Definition{
	Name:    "demo-step",
	Summary: "a step for tests",
	Inputs:  []Input{inEnv, inStrict, inMode, inToken, inWait, inCount, inNames, inPause},
	Outputs: []Output{
		{Name: "digest", Description: "The digest."},
		{Name: "changed", Description: "Whether it changed."},
	},
}

type result struct {
	code           int
	stdout, stderr string
}

func runStep(t *testing.T, env map[string]string, args []string, fn Func) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(context.Background(), testDef, fn, IO{
		Args:   args,
		Getenv: func(k string) string { return env[k] },
		Stdout: &out, Stderr: &errb,
		Dir: t.TempDir(),
	})
	return result{code, out.String(), errb.String()}
}

func TestInputPrecedence(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		args     []string
		env      map[string]string
		fromSpec string
		want     string
		src      Source
	}{
		{"default", nil, nil, "", "test", SourceDefault},
		{"spec beats default", nil, nil, "staging", "staging", SourceSpec},
		{"DRIFTLESS_ beats spec", nil, map[string]string{"DRIFTLESS_ENV": "e"}, "staging", "e", SourceEnv},
		{"INPUT_ beats DRIFTLESS_", nil, map[string]string{"DRIFTLESS_ENV": "e", "INPUT_ENV": "i"}, "staging", "i", SourceActions},
		{"empty INPUT_ is unset", nil, map[string]string{"DRIFTLESS_ENV": "e", "INPUT_ENV": " "}, "", "e", SourceEnv},
		{"flag beats all", []string{"--env", "f"}, map[string]string{"DRIFTLESS_ENV": "e", "INPUT_ENV": "i"}, "staging", "f", SourceFlag},
		{"explicit flag equal to default still wins", []string{"--env=test"}, map[string]string{"INPUT_ENV": "i"}, "", "test", SourceFlag},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got string
			var src Source
			r := runStep(t, tc.env, tc.args, func(ctx context.Context, s *Context) error {
				got, src = s.Source(inEnv, tc.fromSpec)
				return nil
			})
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			if got != tc.want || src != tc.src {
				t.Errorf("got %q from %s, want %q from %s", got, src, tc.want, tc.src)
			}
		})
	}
}

func TestActionsInputNameKeepsDashes(t *testing.T) {
	t.Parallel()
	in := Input{Name: "dry-run"}
	if got := in.ActionsEnvName(); got != "INPUT_DRY-RUN" {
		t.Errorf("ActionsEnvName = %q", got)
	}
	if got := in.EnvName(); got != "DRIFTLESS_DRY_RUN" {
		t.Errorf("EnvName = %q", got)
	}
}

func TestExitCodesAndErrors(t *testing.T) {
	t.Parallel()
	ok := func(context.Context, *Context) error { return nil }
	cases := []struct {
		name       string
		args       []string
		env        map[string]string
		fn         Func
		code       int
		wantStderr string
		wantStdout string
	}{
		{"ok", nil, nil, ok, 0, "", ""},
		{"check failed", nil, nil, func(context.Context, *Context) error { return Failed(errors.New("gate refused")) }, 1, "demo-step: gate refused\n", ""},
		{"could not run", nil, nil, func(context.Context, *Context) error { return errors.New("cluster unreachable") }, 2, "demo-step: cluster unreachable\n", ""},
		{"unknown flag", []string{"--nope"}, nil, ok, 2, "flag provided but not defined: -nope", ""},
		{"positional", []string{"extra"}, nil, ok, 2, `unexpected argument "extra"`, ""},
		{"bad choice", []string{"--mode", "warp"}, nil, ok, 2, `input "mode": "warp" is not valid; valid values: fast, slow`, ""},
		{"bad choice from env", nil, map[string]string{"DRIFTLESS_MODE": "warp"}, ok, 2, `valid values: fast, slow`, ""},
		{"bad bool", nil, map[string]string{"INPUT_STRICT": "yes please"}, ok, 2, `input "strict": "yes please" is not a boolean`, ""},
		{"bad output format", []string{"--output", "xml"}, nil, ok, 2, `valid values: text, json`, ""},
		{"version", []string{"--version"}, nil, ok, 0, "", "demo-step "},
		{"help", []string{"--help"}, nil, ok, 0, "", "DRIFTLESS_TOKEN"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := runStep(t, tc.env, tc.args, tc.fn)
			if r.code != tc.code {
				t.Errorf("exit code %d, want %d (stderr %q)", r.code, tc.code, r.stderr)
			}
			if !strings.Contains(r.stderr, tc.wantStderr) || (tc.wantStderr == "" && r.stderr != "") {
				t.Errorf("stderr %q, want it to contain %q", r.stderr, tc.wantStderr)
			}
			if !strings.Contains(r.stdout, tc.wantStdout) || (tc.wantStdout == "" && r.stdout != "") {
				t.Errorf("stdout %q, want it to contain %q", r.stdout, tc.wantStdout)
			}
		})
	}
}

func TestOutputsEverywhere(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ghOut := filepath.Join(dir, "gh-output")
	summary := filepath.Join(dir, "summary.md")
	dotenv := filepath.Join(dir, "out.env")
	for _, f := range []string{ghOut, summary} {
		if err := os.WriteFile(f, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": ghOut, "GITHUB_STEP_SUMMARY": summary}
	r := runStep(t, env, []string{"--output", "json", "--dotenv", dotenv}, func(ctx context.Context, s *Context) error {
		s.SetOutput("changed", "true")
		s.SetOutput("digest", "sha256:abc")
		s.Summary("| a | b |\n|---|---|\n")
		return Failed(errors.New("rollout failed"))
	})
	if r.code != 1 {
		t.Fatalf("exit %d", r.code)
	}
	// Outputs are written even when the step fails; JSON carries the error.
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if diff := cmp.Diff(`{"changed":"true","digest":"sha256:abc","error":"rollout failed","exitCode":1}`, lines[len(lines)-2]); diff != "" {
		t.Errorf("json (-want +got):\n%s\nstdout: %s", diff, r.stdout)
	}
	if !strings.HasPrefix(lines[len(lines)-1], "::error::demo-step: rollout failed") {
		t.Errorf("want a GitHub error annotation last, got %q", lines[len(lines)-1])
	}
	env2, _ := os.ReadFile(dotenv)
	if diff := cmp.Diff("DRIFTLESS_DIGEST=sha256:abc\nDRIFTLESS_CHANGED=true\n", string(env2)); diff != "" {
		t.Errorf("dotenv (-want +got):\n%s", diff)
	}
	gh, _ := os.ReadFile(ghOut)
	for _, want := range []string{"digest<<", "sha256:abc", "changed<<", "true"} {
		if !strings.Contains(string(gh), want) {
			t.Errorf("GITHUB_OUTPUT %q lacks %q", gh, want)
		}
	}
	sum, _ := os.ReadFile(summary)
	if !strings.Contains(string(sum), "| a | b |") {
		t.Errorf("summary %q", sum)
	}
}

func TestSecretsAreMasked(t *testing.T) {
	t.Parallel()
	const secret = "s3cr3t-token-value"
	env := map[string]string{"GITHUB_ACTIONS": "true", "INPUT_TOKEN": secret}
	r := runStep(t, env, []string{"--output", "json"}, func(ctx context.Context, s *Context) error {
		s.Logf("using token %s", s.String(inToken))
		s.SetOutput("digest", "prefix-"+secret)
		s.Annotate(Annotation{Severity: SeverityWarning, File: "a.yaml", Line: 3, Col: 5, Message: "bad " + secret})
		return errors.New("auth failed with " + secret)
	})
	if !strings.HasPrefix(r.stdout, "::add-mask::"+secret+"\n") {
		t.Errorf("GitHub must be told to mask the secret first; stdout:\n%s", r.stdout)
	}
	rest := strings.TrimPrefix(r.stdout, "::add-mask::"+secret+"\n")
	if strings.Contains(rest, secret) || strings.Contains(r.stderr, secret) {
		t.Errorf("secret leaked:\nstdout: %s\nstderr: %s", rest, r.stderr)
	}
	for _, want := range []string{"::warning col=5,file=a.yaml,line=3::bad ***", `"digest":"prefix-***"`} {
		if !strings.Contains(rest, want) {
			t.Errorf("stdout lacks %q:\n%s", want, rest)
		}
	}
	if !strings.Contains(r.stderr, "using token ***") {
		t.Errorf("stderr: %s", r.stderr)
	}
}

func TestNoWorkflowCommandsOutsideGitHub(t *testing.T) {
	t.Parallel()
	r := runStep(t, map[string]string{"DRIFTLESS_TOKEN": "abcdef"}, nil, func(ctx context.Context, s *Context) error {
		s.Annotate(Annotation{File: "x", Message: "m"})
		return nil
	})
	if r.stdout != "" {
		t.Errorf("stdout must stay clean outside GitHub, got %q", r.stdout)
	}
}

func TestDotenvRefusesMultiline(t *testing.T) {
	t.Parallel()
	r := runStep(t, nil, []string{"--dotenv", filepath.Join(t.TempDir(), "x.env")}, func(ctx context.Context, s *Context) error {
		s.SetOutput("digest", "a\nb")
		return nil
	})
	if r.code != 2 || !strings.Contains(r.stderr, `output "digest" spans several lines`) {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestDetectCI(t *testing.T) {
	t.Parallel()
	gh := DetectCI(context.Background(), mapEnv(map[string]string{
		"GITHUB_ACTIONS": "true", "GITHUB_REF": "refs/tags/v1.2.3", "GITHUB_SHA": "abc",
		"GITHUB_REPOSITORY": "o/r", "GITHUB_SERVER_URL": "https://github.com", "GITHUB_RUN_ID": "42",
		"GITHUB_RUN_ATTEMPT": "2", "GITHUB_ACTOR": "octocat", "GITHUB_EVENT_NAME": "push",
	}), "")
	want := CI{Provider: "github", Ref: "refs/tags/v1.2.3", Tag: "v1.2.3", SHA: "abc", Repository: "o/r",
		ServerURL: "https://github.com", RunURL: "https://github.com/o/r/actions/runs/42/attempts/2", Actor: "octocat", EventName: "push"}
	if diff := cmp.Diff(want, gh); diff != "" {
		t.Errorf("github (-want +got):\n%s", diff)
	}
	gl := DetectCI(context.Background(), mapEnv(map[string]string{
		"GITLAB_CI": "true", "CI_COMMIT_SHA": "def", "CI_COMMIT_BRANCH": "main", "CI_PROJECT_PATH": "g/p",
		"CI_JOB_URL": "https://gitlab.example.com/g/p/-/jobs/7", "GITLAB_USER_LOGIN": "dev", "CI_ENVIRONMENT_NAME": "prod",
	}), "")
	want = CI{Provider: "gitlab", Ref: "refs/heads/main", Branch: "main", SHA: "def", Repository: "g/p",
		RunURL: "https://gitlab.example.com/g/p/-/jobs/7", Actor: "dev", Environment: "prod"}
	if diff := cmp.Diff(want, gl); diff != "" {
		t.Errorf("gitlab (-want +got):\n%s", diff)
	}
}

func TestDetectCILocalGit(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	git := func(args ...string) string {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_SYSTEM=/dev/null")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	env := mapEnv(map[string]string{"USER": "me"})
	if ci := DetectCI(context.Background(), env, dir); ci != (CI{Provider: "local", Actor: "me"}) {
		t.Errorf("outside a repository: %+v", ci)
	}
	git("init", "-q", "-b", "main")
	git("config", "user.email", "dev@example.com")
	git("config", "user.name", "Dev")
	git("commit", "-q", "--allow-empty", "-m", "one")
	sha := git("rev-parse", "HEAD")
	ci := DetectCI(context.Background(), env, dir)
	if diff := cmp.Diff(CI{Provider: "local", Ref: "refs/heads/main", Branch: "main", SHA: sha, Actor: "dev@example.com"}, ci); diff != "" {
		t.Errorf("branch (-want +got):\n%s", diff)
	}
	git("tag", "-a", "v1.0.0", "-m", "release")
	ci = DetectCI(context.Background(), env, dir)
	if ci.Tag != "v1.0.0" || ci.Ref != "refs/tags/v1.0.0" || ci.SHA != sha {
		t.Errorf("annotated tag at HEAD: %+v", ci)
	}
}

func mapEnv(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefinitionCheck(t *testing.T) {
	t.Parallel()
	bad := []Definition{
		{Name: "x", Inputs: []Input{{Name: "Dry_Run", Description: "d"}}},
		{Name: "x", Inputs: []Input{{Name: "spec", Description: "d"}}},
		{Name: "x", Inputs: []Input{{Name: "a"}}},
		{Name: "x", Outputs: []Output{{Name: "a-b", Description: "d"}}},
		{Name: "x", Inputs: []Input{{Name: "version", Description: "d"}}},
	}
	for i, d := range bad {
		if err := d.Check(); err == nil {
			t.Errorf("case %d: Check accepted %+v", i, d)
		}
	}
	if err := testDef.Check(); err != nil {
		t.Error(err)
	}
}

// TestGroup: on GitHub a group is ::group:: … ::endgroup:: around the lines
// in it; elsewhere the title is a plain line.
func TestGroup(t *testing.T) {
	t.Parallel()
	for _, gh := range []bool{true, false} {
		env := map[string]string{}
		if gh {
			env["GITHUB_ACTIONS"] = "true"
		}
		r := runStep(t, env, nil, func(ctx context.Context, s *Context) error {
			end := s.Group("applying 3 objects")
			s.Logf("ConfigMap/a created")
			end()
			return nil
		})
		all := r.stdout + r.stderr
		switch {
		case gh && (!strings.Contains(r.stdout, "::group::applying 3 objects") || !strings.Contains(r.stdout, "::endgroup::")):
			t.Errorf("on GitHub: %q", all)
		case !gh && (strings.Contains(all, "::group::") || !strings.Contains(r.stderr, "applying 3 objects\n")):
			t.Errorf("elsewhere: %q", all)
		}
	}
}

// TestTypedInputs: every input is checked against its kind before the step
// runs, all bad values are reported at once with what would be valid, and
// the accessors return the parsed values (defaults too).
func TestTypedInputs(t *testing.T) {
	t.Parallel()
	var got struct {
		strict bool
		wait   time.Duration
		count  int
		names  []string
	}
	r := runStep(t, map[string]string{"INPUT_NAMES": "a,\n b ,,c\n"}, []string{"--strict", "--count", " 3", "--pause", "0s"}, func(ctx context.Context, s *Context) error {
		got.strict, got.wait, got.count, got.names = s.Bool(inStrict), s.Duration(inWait), s.Int(inCount), s.List(inNames)
		return nil
	})
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if !got.strict || got.wait != 5*time.Minute || got.count != 3 || !slices.Equal(got.names, []string{"a", "b", "c"}) {
		t.Errorf("got %+v", got)
	}

	ran := false
	r = runStep(t, map[string]string{"DRIFTLESS_STRICT": "yes"}, []string{"--wait", "0s", "--count", "many", "--mode", "medium", "--pause", "-1s"}, func(ctx context.Context, s *Context) error {
		ran = true
		return nil
	})
	if r.code != ExitUnusable || ran {
		t.Fatalf("exit %d, ran %v: %s", r.code, ran, r.stderr)
	}
	for _, want := range []string{
		`input "strict": "yes" is not a boolean; valid values: true, false`,
		`input "wait": "0s" is not a duration greater than zero (e.g. 90s, 5m, 1h30m)`,
		`input "count": "many" is not a whole number`,
		`input "mode": "medium" is not valid; valid values: fast, slow`,
		`input "pause": "-1s" is not a duration of zero or more (e.g. 0s, 90s, 5m)`,
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
}

// TestUndeclaredInputPanics: reading an input the step does not declare,
// or as another kind, is a programming error the step's first test finds.
func TestUndeclaredInputPanics(t *testing.T) {
	t.Parallel()
	for name, read := range map[string]func(s *Context){
		"undeclared": func(s *Context) { s.String(Input{Name: "nope"}) },
		"wrong kind": func(s *Context) { s.Duration(inCount) },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var msg any
			runStep(t, nil, nil, func(ctx context.Context, s *Context) error {
				defer func() { msg = recover() }()
				read(s)
				return nil
			})
			if msg == nil {
				t.Fatal("no panic")
			}
		})
	}
}

// TestDefaultOfWrongKind: a default its kind refuses is a declaration
// mistake.
func TestDefaultOfWrongKind(t *testing.T) {
	t.Parallel()
	d := Definition{Name: "x", Inputs: []Input{{Name: "wait", Description: "d", Kind: Duration, Default: "soon"}}}
	if err := d.Check(); err == nil || !strings.Contains(err.Error(), `input "wait": default "soon" is not a duration`) {
		t.Errorf("Check: %v", err)
	}
}
