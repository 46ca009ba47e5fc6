package step

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/driftless-dev/driftless/internal/spec"
)

// Program is one step a multi-call binary can run.
type Program struct {
	Definition Definition
	Run        Func
}

// MultiMain runs a multi-call binary (busybox-style) as a process: called
// by a step's name (a link to the binary named apply-env, say) it is that
// step; otherwise its first argument names the step (driftless apply-env
// --flags). name is the binary's own name, for its help and version.
func MultiMain(name string, programs ...Program) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := MultiRun(ctx, name, programs, os.Args[0], IO{Args: os.Args[1:], Getenv: os.Getenv, Stdout: os.Stdout, Stderr: os.Stderr})
	stop()
	os.Exit(code)
}

// MultiRun is MultiMain with the process given: argv0 is the name the
// binary was called by (its base name is compared with the steps' names),
// pio.Args the arguments after it. It returns the exit code. A step runs
// through Run exactly as its own binary would, so its flags, messages,
// outputs and exit codes are the same either way.
func MultiRun(ctx context.Context, name string, programs []Program, argv0 string, pio IO) int {
	names := make([]string, 0, len(programs))
	byName := make(map[string]Program, len(programs))
	for _, p := range programs {
		if _, dup := byName[p.Definition.Name]; dup || p.Definition.Name == "" || p.Definition.Name == name {
			fmt.Fprintf(pio.Stderr, "%s: internal error: step name %q is empty, repeated or the binary's own\n", name, p.Definition.Name)
			return ExitUnusable
		}
		byName[p.Definition.Name] = p
		names = append(names, p.Definition.Name)
	}
	if p, ok := byName[filepath.Base(argv0)]; ok {
		return Run(ctx, p.Definition, p.Run, pio)
	}

	args := pio.Args
	if len(args) == 0 {
		multiUsage(pio.Stderr, name, programs)
		return ExitUnusable
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		multiUsage(pio.Stdout, name, programs)
		return ExitOK
	case "-version", "--version", "version":
		fmt.Fprintf(pio.Stdout, "%s %s\n", name, Version())
		return ExitOK
	}
	if p, ok := byName[args[0]]; ok {
		sub := pio
		sub.Args = args[1:]
		return Run(ctx, p.Definition, p.Run, sub)
	}
	what := "step"
	if strings.HasPrefix(args[0], "-") {
		what = "flag before the step"
	}
	hint := ""
	if s := spec.Suggest(strings.TrimLeft(args[0], "-"), names); s != "" {
		hint = fmt.Sprintf(" (did you mean %q?)", s)
	}
	fmt.Fprintf(pio.Stderr, "%s: unknown %s %q%s; valid steps: %s (usage: %s <step> [flags]; see --help)\n",
		name, what, args[0], hint, strings.Join(names, ", "), name)
	return ExitUnusable
}

func multiUsage(w io.Writer, name string, programs []Program) {
	fmt.Fprintf(w, "%s — the driftless steps in one binary\n\n", name)
	fmt.Fprintf(w, "Usage: %s <step> [flags]\n   or: <step> [flags]  (called through a link named after the step)\n\nSteps:\n", name)
	width := 0
	for _, p := range programs {
		width = max(width, len(p.Definition.Name))
	}
	for _, p := range programs {
		fmt.Fprintf(w, "  %-*s  %s\n", width, p.Definition.Name, p.Definition.Summary)
	}
	fmt.Fprintf(w, "\nFlags:\n  --help     list the steps and exit\n  --version  print the version and exit\n\n")
	fmt.Fprintf(w, "A step's inputs and outputs: %s <step> --help.\n", name)
	fmt.Fprintf(w, "Exit codes: 0 done; 1 the check or deployment failed; 2 could not run (bad input, bad spec, unknown step, unreachable service).\n")
}
