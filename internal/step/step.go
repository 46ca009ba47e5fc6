package step

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sethvargo/go-githubactions"
)

// Func is the body of a step.
type Func func(ctx context.Context, s *Context) error

// IO is everything a step takes from its process. Tests build one; Main
// builds it from the real process.
type IO struct {
	Args   []string // without the program name
	Getenv func(string) string
	Stdout io.Writer
	Stderr io.Writer
	// Dir is where the local Git context is read; empty means the working
	// directory.
	Dir string
}

// Main runs a step as a process: signals cancel the context, the exit code
// follows the contract.
func Main(def Definition, fn Func) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Run(ctx, def, fn, IO{Args: os.Args[1:], Getenv: os.Getenv, Stdout: os.Stdout, Stderr: os.Stderr})
	stop()
	os.Exit(code)
}

// Context is a running step's view of its inputs, outputs and CI.
type Context struct {
	def    *Definition
	getenv func(string) string
	flags  map[string]*flagValue
	mask   *masker
	action *githubactions.Action
	dir    string

	// Stdout carries machine output only; Stderr progress and diagnostics.
	// Both mask secrets.
	Stdout io.Writer
	Stderr io.Writer

	ciOnce sync.Once
	ci     CI

	// parsed holds each input's value, checked and parsed once.
	parsed  map[string]any
	outputs map[string]string
	summary strings.Builder
}

// Run executes fn as the step def with the given process I/O and returns the
// exit code. It never panics on bad input and prints the error once.
func Run(ctx context.Context, def Definition, fn Func, pio IO) int {
	if err := def.Check(); err != nil {
		fmt.Fprintf(pio.Stderr, "%s: internal error: %v\n", def.Name, err)
		return ExitUnusable
	}
	m := &masker{}
	// On GitHub the runner reads every line of stdout and stderr for
	// workflow commands: the step's own lines are defused (command.go).
	onGitHub := pio.Getenv("GITHUB_ACTIONS") == "true"
	stdout := &maskedWriter{m: m, w: pio.Stdout, defuse: onGitHub}
	stderr := &maskedWriter{m: m, w: pio.Stderr, defuse: onGitHub}
	defer stderr.Flush()
	defer stdout.Flush()
	c := &Context{
		def:     &def,
		getenv:  pio.Getenv,
		flags:   map[string]*flagValue{},
		mask:    m,
		dir:     pio.Dir,
		Stdout:  stdout,
		Stderr:  stderr,
		outputs: map[string]string{},
	}
	// Workflow commands (add-mask, annotations) go to the raw stdout: masking
	// "::add-mask::s3cret" would defeat it, and go-githubactions escapes
	// their values. Only on GitHub do they mean anything; elsewhere they
	// would be noise.
	actionOut := io.Discard
	if onGitHub {
		actionOut = pio.Stdout
	}
	c.action = githubactions.New(githubactions.WithGetenv(pio.Getenv), githubactions.WithWriter(actionOut))

	fs := flag.NewFlagSet(def.Name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	showVersion := fs.Bool("version", false, "print the version and exit")
	for _, in := range def.AllInputs() {
		v := &flagValue{isBool: in.Kind == Bool}
		c.flags[in.Name] = v
		fs.Var(v, in.Name, in.Description)
	}
	if err := fs.Parse(pio.Args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			c.usage(pio.Stdout)
			return ExitOK
		}
		fmt.Fprintf(c.Stderr, "%s: %v (see --help)\n", def.Name, err)
		return ExitUnusable
	}
	if *showVersion {
		fmt.Fprintf(pio.Stdout, "%s %s\n", def.Name, Version())
		return ExitOK
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(c.Stderr, "%s: unexpected argument %q: inputs are given as flags (see --help)\n", def.Name, fs.Arg(0))
		return ExitUnusable
	}
	err := c.validateInputs()
	if err == nil {
		err = fn(ctx, c)
	}
	if ferr := c.flush(err); ferr != nil {
		err = errors.Join(err, ferr)
	}
	code := ExitCode(err)
	if err != nil {
		fmt.Fprintf(c.Stderr, "%s: %v\n", def.Name, err)
		if c.OnGitHub() {
			c.action.Errorf("%s: %s", def.Name, m.String(err.Error()))
		}
	}
	return code
}

// validateInputs resolves every input once, so that bad values (a choice
// not offered, a malformed bool, duration or number) stop the step before
// it does anything, and secrets are masked before anything is printed. The
// parsed values are what the typed accessors return.
func (c *Context) validateInputs() error {
	var errs []error
	c.parsed = map[string]any{}
	for _, in := range c.def.AllInputs() {
		v, _, ok := c.lookup(in)
		if !ok {
			if in.Default != "" {
				c.parsed[in.Name], _ = in.Kind.parse(in.Default, in.ZeroOK) // checked by Definition.Check
			}
			continue
		}
		if in.Secret {
			c.Mask(v)
		}
		if len(in.Choices) > 0 && !slices.Contains(in.Choices, v) {
			errs = append(errs, fmt.Errorf("input %q: %q is not valid; valid values: %s", in.Name, v, strings.Join(in.Choices, ", ")))
			continue
		}
		p, err := in.Kind.parse(v, in.ZeroOK)
		if err != nil {
			errs = append(errs, fmt.Errorf("input %q: %v", in.Name, err))
			continue
		}
		c.parsed[in.Name] = p
	}
	return errors.Join(errs...)
}

// Source tells where an input's value came from.
type Source string

// Sources of an input's value, in order of precedence.
const (
	SourceFlag    Source = "flag"
	SourceActions Source = "actions input"
	SourceEnv     Source = "environment"
	SourceSpec    Source = "spec"
	SourceDefault Source = "default"
)

// lookup resolves flag > INPUT_ > DRIFTLESS_; ok is false when none is set.
func (c *Context) lookup(in Input) (string, Source, bool) {
	if f := c.flags[in.Name]; f != nil && f.set {
		return f.value, SourceFlag, true
	}
	// An empty `with:` input reaches the step as an empty INPUT_ variable;
	// treat it as unset, as actions/toolkit's getInput does.
	if v := strings.TrimSpace(c.getenv(in.ActionsEnvName())); v != "" {
		return v, SourceActions, true
	}
	if v := c.getenv(in.EnvName()); v != "" {
		return v, SourceEnv, true
	}
	return "", "", false
}

// declared panics unless in is one of the step's inputs, declared with the
// kind the accessor reads: a programming error any test of the step finds.
func (c *Context) declared(in Input, kind Kind) Input {
	d, ok := c.def.input(in.Name)
	if !ok {
		panic(fmt.Sprintf("step %s: input %q is not declared", c.def.Name, in.Name))
	}
	if d.Kind != kind {
		panic(fmt.Sprintf("step %s: input %q is a %s, read as a %s", c.def.Name, in.Name, d.Kind, kind))
	}
	return d
}

// String returns a string input: flag > INPUT_ > DRIFTLESS_ > default.
func (c *Context) String(in Input) string { return c.StringOr(in, "") }

// StringOr is String with a value from the pipeline spec between the
// environment and the default: flag > INPUT_ > DRIFTLESS_ > fromSpec >
// default. An empty fromSpec means the spec does not set it.
func (c *Context) StringOr(in Input, fromSpec string) string {
	v, _ := c.Source(in, fromSpec)
	return v
}

// Source is StringOr and also tells where the value came from.
func (c *Context) Source(in Input, fromSpec string) (string, Source) {
	in = c.declared(in, String)
	if v, src, ok := c.lookup(in); ok {
		return v, src
	}
	if fromSpec != "" {
		return fromSpec, SourceSpec
	}
	return in.Default, SourceDefault
}

// IsSet says whether the input was given (flag, INPUT_ or DRIFTLESS_),
// whatever its kind.
func (c *Context) IsSet(in Input) bool {
	d, ok := c.def.input(in.Name)
	if !ok {
		panic(fmt.Sprintf("step %s: input %q is not declared", c.def.Name, in.Name))
	}
	_, _, set := c.lookup(d)
	return set
}

// Bool returns a boolean input.
func (c *Context) Bool(in Input) bool {
	v, _ := c.parsed[c.declared(in, Bool).Name].(bool)
	return v
}

// Duration returns a duration input, zero when it is neither given nor
// defaulted.
func (c *Context) Duration(in Input) time.Duration {
	v, _ := c.parsed[c.declared(in, Duration).Name].(time.Duration)
	return v
}

// Int returns a whole-number input, zero when it is neither given nor
// defaulted.
func (c *Context) Int(in Input) int {
	v, _ := c.parsed[c.declared(in, Int).Name].(int)
	return v
}

// List returns a list input (comma- or newline-separated), empty entries
// dropped.
func (c *Context) List(in Input) []string {
	v, _ := c.parsed[c.declared(in, List).Name].([]string)
	return v
}

// CI returns the CI context, detected on first use.
func (c *Context) CI(ctx context.Context) CI {
	c.ciOnce.Do(func() { c.ci = DetectCI(ctx, c.getenv, c.dir) })
	return c.ci
}

// Getenv reads the step's environment.
func (c *Context) Getenv(key string) string { return c.getenv(key) }

// JSON reports whether stdout is reserved for the one JSON object of
// outputs (--output json); a step then prints nothing else there.
func (c *Context) JSON() bool { return c.String(OutputInput) == "json" }

// Group prints title and starts a collapsible group of log lines on
// GitHub (::group::); the function returned ends it. Elsewhere it prints the
// title as a plain progress line.
func (c *Context) Group(title string) (end func()) {
	if !c.OnGitHub() {
		c.Logf("%s", title)
		return func() {}
	}
	c.action.Group(c.mask.String(title))
	return c.action.EndGroup
}

// OnGitHub reports whether the step runs in GitHub Actions.
func (c *Context) OnGitHub() bool { return c.getenv("GITHUB_ACTIONS") == "true" }

// Mask hides s in everything the step prints from now on, and asks GitHub
// to do the same in its logs.
func (c *Context) Mask(s string) {
	for _, line := range strings.Split(s, "\n") {
		if c.mask.add(line) && c.OnGitHub() {
			c.action.AddMask(line)
		}
	}
}

// MaskString returns s with every registered secret masked.
func (c *Context) MaskString(s string) string { return c.mask.String(s) }

// Logf prints a progress line on stderr. It is safe for concurrent use.
func (c *Context) Logf(format string, args ...any) {
	fmt.Fprintf(c.Stderr, format+"\n", args...)
}

// SetOutput records an output; they are written when the step ends, also
// when it fails. Setting an undeclared output is a programming error.
func (c *Context) SetOutput(name, value string) {
	if _, ok := c.def.output(name); !ok {
		panic(fmt.Sprintf("step %s: output %q is not declared", c.def.Name, name))
	}
	c.outputs[name] = value
}

// Summary appends Markdown to the step summary ($GITHUB_STEP_SUMMARY).
func (c *Context) Summary(markdown string) { c.summary.WriteString(markdown) }

// Severity of an annotation.
type Severity string

// Severities, as GitHub names them.
const (
	SeverityError   Severity = "error"
	SeverityWarning Severity = "warning"
	SeverityNotice  Severity = "notice"
)

// Annotation points a message at a place in a file.
type Annotation struct {
	Severity Severity
	File     string
	Line     int
	Col      int
	Title    string
	Message  string
}

// Annotate emits a GitHub annotation; elsewhere it does nothing (the step
// prints its own findings in file:line:col form).
func (c *Context) Annotate(a Annotation) {
	if !c.OnGitHub() {
		return
	}
	fields := map[string]string{}
	if a.File != "" {
		fields["file"] = a.File
	}
	if a.Line > 0 {
		fields["line"] = strconv.Itoa(a.Line)
	}
	if a.Col > 0 {
		fields["col"] = strconv.Itoa(a.Col)
	}
	if a.Title != "" {
		fields["title"] = a.Title
	}
	act := c.action.WithFieldsMap(fields)
	msg := c.mask.String(a.Message)
	switch a.Severity {
	case SeverityWarning:
		act.Warningf("%s", msg)
	case SeverityNotice:
		act.Noticef("%s", msg)
	default:
		act.Errorf("%s", msg)
	}
}

// outputDelimiter is the delimiter go-githubactions puts around each value
// in $GITHUB_OUTPUT.
const outputDelimiter = "_GitHubActionsFileCommandDelimeter_"

// flush writes outputs and the summary. It runs also when the step failed:
// a failed validation still reports how many errors it found.
func (c *Context) flush(runErr error) error {
	var errs []error
	names := make([]string, 0, len(c.outputs))
	for _, o := range c.def.Outputs {
		if _, ok := c.outputs[o.Name]; ok {
			names = append(names, o.Name)
		}
	}
	if c.getenv("GITHUB_OUTPUT") != "" {
		for _, n := range names {
			// go-githubactions writes every value between the same fixed
			// delimiter lines: a value holding it would end early and the
			// rest would be read as outputs of its choosing.
			if v := c.outputs[n]; strings.Contains(v, outputDelimiter) {
				errs = append(errs, fmt.Errorf("writing $GITHUB_OUTPUT: output %q contains %q, which would end it early there", n, outputDelimiter))
				continue
			}
			c.action.SetOutput(n, c.outputs[n])
		}
	}
	if path := c.String(DotenvInput); path != "" {
		if err := writeDotenv(path, c.def, names, c.outputs); err != nil {
			errs = append(errs, err)
		}
	}
	if c.JSON() {
		obj := make(map[string]any, len(names)+2)
		for _, n := range names {
			obj[n] = c.outputs[n]
		}
		if runErr != nil {
			obj["error"] = c.mask.String(runErr.Error())
			obj["exitCode"] = ExitCode(runErr)
		}
		b, err := json.Marshal(obj)
		if err != nil {
			errs = append(errs, fmt.Errorf("encoding outputs as json: %w", err))
		} else {
			fmt.Fprintf(c.Stdout, "%s\n", b)
		}
	}
	if c.summary.Len() > 0 && c.getenv("GITHUB_STEP_SUMMARY") != "" {
		c.action.AddStepSummary(c.mask.String(c.summary.String()))
	}
	return errors.Join(errs...)
}

func writeDotenv(path string, def *Definition, names []string, outputs map[string]string) error {
	var b strings.Builder
	for _, n := range names {
		v := outputs[n]
		// GitLab's dotenv reports take one line per variable.
		if strings.ContainsAny(v, "\r\n") {
			return fmt.Errorf("writing dotenv %q: output %q spans several lines, which dotenv cannot carry", path, n)
		}
		o, _ := def.output(n)
		fmt.Fprintf(&b, "%s=%s\n", o.DotenvName(), v)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("writing dotenv: %w", err)
	}
	return nil
}

// flagValue remembers whether the flag was given, so that an explicit
// --flag=default still beats INPUT_ and DRIFTLESS_ variables.
type flagValue struct {
	value  string
	set    bool
	isBool bool
}

func (f *flagValue) String() string   { return f.value }
func (f *flagValue) IsBoolFlag() bool { return f.isBool }
func (f *flagValue) Set(s string) error {
	f.value, f.set = s, true
	return nil
}

func (c *Context) usage(w io.Writer) {
	d := c.def
	fmt.Fprintf(w, "%s — %s\n\nUsage: %s [flags]\n\nInputs (flag > INPUT_<NAME> > DRIFTLESS_<NAME> > spec > default):\n", d.Name, d.Summary, d.Name)
	for _, in := range d.AllInputs() {
		flagForm := "--" + in.Name
		switch in.Kind {
		case Bool:
		case String:
			flagForm += " value"
		default:
			flagForm += " " + in.Kind.String() // --timeout duration
		}
		fmt.Fprintf(w, "  %s\n        %s\n        env: %s", flagForm, in.Description, in.EnvName())
		if in.Default != "" {
			fmt.Fprintf(w, "; default: %s", in.Default)
		}
		if len(in.Choices) > 0 {
			fmt.Fprintf(w, "; one of: %s", strings.Join(in.Choices, ", "))
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "  --version\n        print the version and exit\n\nOutputs ($GITHUB_OUTPUT, --dotenv FILE as DRIFTLESS_<NAME>, --output json):\n")
	for _, o := range d.Outputs {
		fmt.Fprintf(w, "  %s\n        %s\n", o.Name, o.Description)
	}
	fmt.Fprintf(w, "\nExit codes: 0 done; 1 the check or deployment failed; 2 could not run (bad input, bad spec, unreachable service).\n")
}
