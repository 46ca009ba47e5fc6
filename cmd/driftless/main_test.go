package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/driftless-dev/driftless/internal/step"
	"github.com/driftless-dev/driftless/internal/testtool"
)

const version = "v0.0.0-multicall"

// bin holds the multi-call binary, a symbolic link to it per step in
// links/, a hard link in hard/ (as busybox-style images ship either), and
// validate-config built as its own binary, all with the same version.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "driftless-multicall")
	if err == nil {
		bin = dir
		err = setup(dir)
	}
	code := 2
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
	} else {
		code = m.Run()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

func setup(dir string) error {
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	root, err := testtool.FindRoot(wd)
	if err != nil {
		return err
	}
	for _, pkg := range []string{"driftless", "validate-config"} {
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-X github.com/driftless-dev/driftless/internal/step.version="+version, "-o", filepath.Join(dir, pkg), "./cmd/"+pkg)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("building %s: %v\n%s", pkg, err, out)
		}
	}
	for _, sub := range []string{"links", "hard"} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o755); err != nil {
			return err
		}
	}
	for _, p := range programs {
		if err := os.Symlink("../driftless", filepath.Join(dir, "links", p.Definition.Name)); err != nil {
			return err
		}
		if err := os.Link(filepath.Join(dir, "driftless"), filepath.Join(dir, "hard", p.Definition.Name)); err != nil {
			return err
		}
	}
	return nil
}

type result struct {
	Code           int
	Stdout, Stderr string
}

// run runs a binary in dir with a clean environment (no CI variables).
func run(t *testing.T, dir, path string, args ...string) result {
	t.Helper()
	cmd := exec.Command(path, args...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("running %s: %v", path, err)
	}
	return result{cmd.ProcessState.ExitCode(), out.String(), errb.String()}
}

// inProcess runs a step as its own binary's main does (step.Main → step.Run).
func inProcess(t *testing.T, p step.Program, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := step.Run(context.Background(), p.Definition, p.Run, step.IO{
		Args: args, Getenv: func(string) string { return "" }, Stdout: &out, Stderr: &errb, Dir: t.TempDir(),
	})
	return result{code, out.String(), errb.String()}
}

// forms are the three ways to call a step through the multi-call binary.
func forms(name string) [][]string {
	return [][]string{
		{filepath.Join(bin, "links", name)},
		{filepath.Join(bin, "hard", name)},
		{filepath.Join(bin, "driftless"), name},
	}
}

func TestEveryStepAnswersVersionAndHelp(t *testing.T) {
	t.Parallel()
	for _, p := range programs {
		t.Run(p.Definition.Name, func(t *testing.T) {
			t.Parallel()
			help := inProcess(t, p, "--help")
			if help.Code != 0 || !strings.HasPrefix(help.Stdout, p.Definition.Name+" — ") {
				t.Fatalf("%s --help in-process: %+v", p.Definition.Name, help)
			}
			for _, form := range forms(p.Definition.Name) {
				got := run(t, "", form[0], append(form[1:], "--version")...)
				if want := (result{0, p.Definition.Name + " " + version + "\n", ""}); got != want {
					t.Errorf("%q --version = %+v, want %+v", form, got, want)
				}
				got = run(t, "", form[0], append(form[1:], "--help")...)
				if diff := cmp.Diff(help, got); diff != "" {
					t.Errorf("%q --help differs from the step's own (-own +multi):\n%s", form, diff)
				}
			}
		})
	}
}

func TestOwnHelpAndVersion(t *testing.T) {
	t.Parallel()
	driftless := filepath.Join(bin, "driftless")
	got := run(t, "", driftless, "--version")
	if want := (result{0, "driftless " + version + "\n", ""}); got != want {
		t.Errorf("driftless --version = %+v, want %+v", got, want)
	}
	got = run(t, "", driftless, "--help")
	if got.Code != 0 || got.Stderr != "" {
		t.Fatalf("driftless --help: %+v", got)
	}
	for _, p := range programs {
		if line := fmt.Sprintf("  %-16s  %s\n", p.Definition.Name, p.Definition.Summary); !strings.Contains(got.Stdout, line) {
			t.Errorf("driftless --help does not list %q:\n%s", line, got.Stdout)
		}
	}
}

func TestUnknownStep(t *testing.T) {
	t.Parallel()
	got := run(t, "", filepath.Join(bin, "driftless"), "valdate-config", "--strict")
	want := result{2, "", `driftless: unknown step "valdate-config" (did you mean "validate-config"?); valid steps: validate-config, bake-image, tag-sync, kustomize-render, apply-env, smoke-test (usage: driftless <step> [flags]; see --help)` + "\n"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// validate-config on the example, through the multi-call binary, does
// what its own binary does: the same exit code, stdout and stderr, on a
// good spec (text and JSON) and on one with a typo.
func TestValidateConfigSameAsItsOwnBinary(t *testing.T) {
	t.Parallel()
	root := testtool.Root(t)
	spec, err := os.ReadFile(filepath.Join(root, "driftless.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	typo := filepath.Join(t.TempDir(), "driftless.yaml")
	if err := os.WriteFile(typo, bytes.Replace(spec, []byte("\nenvironments:"), []byte("\nenviroments:"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
	}{
		{"example", nil, 0},
		{"example json", []string{"--output", "json"}, 0},
		{"typo", []string{"--spec", typo}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			want := run(t, root, filepath.Join(bin, "validate-config"), tc.args...)
			if want.Code != tc.code {
				t.Fatalf("validate-config %q: exit %d, want %d\n%s", tc.args, want.Code, tc.code, want.Stderr)
			}
			for _, form := range forms("validate-config") {
				got := run(t, root, form[0], append(form[1:], tc.args...)...)
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("%q %q (-own binary +multi-call):\n%s", form, tc.args, diff)
				}
			}
		})
	}
}
