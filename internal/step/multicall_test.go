package step

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Two steps of a multi-call binary: greet takes an input and writes an
// output, refuse fails its check. (They read no input values, so they do
// not depend on the input accessors.)
var multiPrograms = []Program{
	{
		Definition: Definition{
			Name:    "greet",
			Summary: "says hello",
			Inputs:  []Input{{Name: "who", Description: "Whom to greet.", Default: "world"}},
			Outputs: []Output{{Name: "greeting", Description: "What was said."}},
		},
		Run: func(_ context.Context, c *Context) error {
			c.Logf("hello")
			c.SetOutput("greeting", "hello")
			return nil
		},
	},
	{
		Definition: Definition{Name: "refuse", Summary: "always fails its check"},
		Run:        func(context.Context, *Context) error { return Failed(errString("refused")) },
	},
}

type errString string

func (e errString) Error() string { return string(e) }

func runMulti(t *testing.T, argv0 string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := MultiRun(context.Background(), "multi", multiPrograms, argv0, IO{
		Args:   args,
		Getenv: func(string) string { return "" },
		Stdout: &out, Stderr: &errb,
		Dir: t.TempDir(),
	})
	return result{code, out.String(), errb.String()}
}

// runSingle runs a program as its own binary would.
func runSingle(t *testing.T, p Program, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(context.Background(), p.Definition, p.Run, IO{
		Args:   args,
		Getenv: func(string) string { return "" },
		Stdout: &out, Stderr: &errb,
		Dir: t.TempDir(),
	})
	return result{code, out.String(), errb.String()}
}

// A step called through a link named after it, or as the multi-call
// binary's first argument, behaves exactly as its own binary.
func TestMultiRunDispatchesLikeTheSingleBinary(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		prog Program
		args []string
		code int
	}{
		{"output", multiPrograms[0], []string{"--who", "gitlab", "--output", "json"}, ExitOK},
		{"help", multiPrograms[0], []string{"--help"}, ExitOK},
		{"version", multiPrograms[0], []string{"--version"}, ExitOK},
		{"bad flag", multiPrograms[0], []string{"--whom", "x"}, ExitUnusable},
		{"failed check", multiPrograms[1], nil, ExitFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			want := runSingle(t, tc.prog, tc.args...)
			if want.code != tc.code {
				t.Fatalf("single binary: exit %d, want %d; stderr: %s", want.code, tc.code, want.stderr)
			}
			for _, form := range []struct {
				argv0 string
				args  []string
			}{
				{"/usr/local/bin/" + tc.prog.Definition.Name, tc.args},
				{tc.prog.Definition.Name, tc.args},
				{"/usr/local/bin/multi", append([]string{tc.prog.Definition.Name}, tc.args...)},
				{"./multi-linux-amd64", append([]string{tc.prog.Definition.Name}, tc.args...)},
			} {
				got := runMulti(t, form.argv0, form.args...)
				if diff := cmp.Diff(want, got, cmp.AllowUnexported(result{})); diff != "" {
					t.Errorf("%s %q (-single +multi):\n%s", form.argv0, form.args, diff)
				}
			}
		})
	}
}

func TestMultiRunOwnFlags(t *testing.T) {
	t.Parallel()
	for _, arg := range []string{"--help", "-h", "help"} {
		r := runMulti(t, "/usr/local/bin/multi", arg)
		if r.code != ExitOK || r.stderr != "" {
			t.Fatalf("multi %s: exit %d, stderr %q", arg, r.code, r.stderr)
		}
		for _, want := range []string{"Usage: multi <step> [flags]", "  greet   says hello\n", "  refuse  always fails its check\n", "multi <step> --help"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("multi %s does not print %q:\n%s", arg, want, r.stdout)
			}
		}
	}
	r := runMulti(t, "multi", "--version")
	if want := (result{ExitOK, "multi " + Version() + "\n", ""}); r != want {
		t.Errorf("multi --version = %+v, want %+v", r, want)
	}
	// Without a step: the usage, on stderr, and the exit code of bad input.
	r = runMulti(t, "multi")
	if r.code != ExitUnusable || r.stdout != "" || !strings.Contains(r.stderr, "Usage: multi <step>") {
		t.Errorf("multi without arguments = %+v, want exit 2 and the usage on stderr", r)
	}
}

func TestMultiRunUnknownStep(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"gret", "--who", "x"}, `multi: unknown step "gret" (did you mean "greet"?); valid steps: greet, refuse (usage: multi <step> [flags]; see --help)` + "\n"},
		{[]string{"deploy"}, `multi: unknown step "deploy"; valid steps: greet, refuse (usage: multi <step> [flags]; see --help)` + "\n"},
		{[]string{"--greet"}, `multi: unknown flag before the step "--greet" (did you mean "greet"?); valid steps: greet, refuse (usage: multi <step> [flags]; see --help)` + "\n"},
	} {
		// Called through a link of another name, it is the multi-call
		// binary too.
		for _, argv0 := range []string{"multi", "/opt/bin/greeter"} {
			got := runMulti(t, argv0, tc.args...)
			if diff := cmp.Diff(result{ExitUnusable, "", tc.want}, got, cmp.AllowUnexported(result{})); diff != "" {
				t.Errorf("%s %q (-want +got):\n%s", argv0, tc.args, diff)
			}
		}
	}
}

func TestMultiRunRefusesAmbiguousSteps(t *testing.T) {
	t.Parallel()
	var out, errb bytes.Buffer
	dup := append(append([]Program(nil), multiPrograms...), multiPrograms[0])
	code := MultiRun(context.Background(), "multi", dup, "greet", IO{Getenv: func(string) string { return "" }, Stdout: &out, Stderr: &errb})
	if code != ExitUnusable || !strings.Contains(errb.String(), `internal error: step name "greet"`) {
		t.Errorf("a repeated step name: exit %d, stderr %q; want exit 2 and an internal error", code, errb.String())
	}
}
