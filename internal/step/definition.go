package step

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Input declares one input of a step. The same declaration is the CLI flag
// (--name), the GitHub Actions input (INPUT_NAME) and the environment
// variable (DRIFTLESS_NAME), so they cannot drift apart.
type Input struct {
	// Name is kebab-case: "dry-run".
	Name string
	// Description is one sentence for --help and action.yml.
	Description string
	// Default applies when neither a flag, an environment variable nor the
	// spec gives a value.
	Default string
	// Choices, when set, are the only valid values.
	Choices []string
	// Kind is the value's type; Run checks every input's value against it
	// before the step starts, and the typed accessors (Context.Bool,
	// Duration, Int, List) return it parsed.
	Kind Kind
	// ZeroOK lets a Duration input be zero ("do not wait").
	ZeroOK bool
	// Secret values are masked in all output and registered with GitHub's
	// add-mask.
	Secret bool
}

// Kind is the type of an input's value.
type Kind int

// Kinds of input.
const (
	// String is any text (the zero Kind).
	String Kind = iota
	// Bool makes the flag a switch (--strict) and the value "true"/"false".
	Bool
	// Duration is a Go duration greater than zero (or zero, with ZeroOK):
	// 90s, 5m, 1h30m.
	Duration
	// Int is a whole number.
	Int
	// List is comma- or newline-separated (a GitHub Actions input often
	// spans lines); empty entries are dropped.
	List
)

func (k Kind) String() string {
	switch k {
	case Bool:
		return "boolean"
	case Duration:
		return "duration"
	case Int:
		return "integer"
	case List:
		return "list"
	}
	return "string"
}

// parse checks v against the kind and returns it parsed; the error says
// what would be valid.
func (k Kind) parse(v string, zeroOK bool) (any, error) {
	switch k {
	case Bool:
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("%q is not a boolean; valid values: true, false", v)
		}
		return b, nil
	case Duration:
		d, err := time.ParseDuration(strings.TrimSpace(v))
		switch {
		case zeroOK && (err != nil || d < 0):
			return nil, fmt.Errorf("%q is not a duration of zero or more (e.g. 0s, 90s, 5m)", v)
		case !zeroOK && (err != nil || d <= 0):
			return nil, fmt.Errorf("%q is not a duration greater than zero (e.g. 90s, 5m, 1h30m)", v)
		}
		return d, nil
	case Int:
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return nil, fmt.Errorf("%q is not a whole number", v)
		}
		return n, nil
	case List:
		var out []string
		for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == '\n' }) {
			if f = strings.TrimSpace(f); f != "" {
				out = append(out, f)
			}
		}
		return out, nil
	}
	return v, nil
}

// EnvName is the DRIFTLESS_ environment variable read for the input.
func (in Input) EnvName() string { return "DRIFTLESS_" + envKey(in.Name) }

// ActionsEnvName is the variable GitHub Actions sets for a `with:` input.
// GitHub upper-cases the name and keeps dashes.
func (in Input) ActionsEnvName() string {
	return "INPUT_" + strings.ToUpper(strings.ReplaceAll(in.Name, " ", "_"))
}

// Output declares one output of a step.
type Output struct {
	Name        string
	Description string
}

// DotenvName is the variable an output is written as in a dotenv file. It
// matches the DRIFTLESS_ input variable of the same name, so a GitLab job
// that inherits the dotenv of an earlier job feeds one step's outputs into
// the next step's inputs (bake-image's image → kustomize-render's image).
func (o Output) DotenvName() string { return "DRIFTLESS_" + envKey(o.Name) }

func envKey(name string) string {
	return strings.ToUpper(strings.NewReplacer("-", "_", " ", "_").Replace(name))
}

// Definition declares a step: what it is, what it reads and what it writes.
type Definition struct {
	// Name is the binary's name: "validate-config".
	Name string
	// Summary is one line for --help and action.yml.
	Summary string
	// Inputs are the step's own inputs; CommonInputs are added by Run.
	Inputs  []Input
	Outputs []Output
}

// Inputs every step accepts.
var (
	SpecInput   = Input{Name: "spec", Description: "Path to the pipeline spec.", Default: "driftless.yaml"}
	OutputInput = Input{Name: "output", Description: "Format of machine output on stdout: text prints nothing but results meant for humans on stderr; json prints one JSON object with every output.", Default: "text", Choices: []string{"text", "json"}}
	DotenvInput = Input{Name: "dotenv", Description: "Also write the outputs to this dotenv file (GitLab CI `artifacts: reports: dotenv`)."}
)

// CommonInputs are accepted by every step.
var CommonInputs = []Input{SpecInput, OutputInput, DotenvInput}

// AllInputs returns the step's inputs followed by the common ones.
func (d *Definition) AllInputs() []Input {
	return append(append([]Input{}, d.Inputs...), CommonInputs...)
}

func (d *Definition) input(name string) (Input, bool) {
	for _, in := range d.AllInputs() {
		if in.Name == name {
			return in, true
		}
	}
	return Input{}, false
}

func (d *Definition) output(name string) (Output, bool) {
	for _, o := range d.Outputs {
		if o.Name == name {
			return o, true
		}
	}
	return Output{}, false
}

// Check reports declaration mistakes: duplicate or malformed names. Tests of
// each binary call it.
func (d *Definition) Check() error {
	seen := map[string]bool{}
	for _, in := range d.AllInputs() {
		if in.Name == "" || in.Name != strings.ToLower(in.Name) || strings.ContainsAny(in.Name, " _") {
			return fmt.Errorf("step %s: input name %q must be kebab-case", d.Name, in.Name)
		}
		if in.Name == "help" || in.Name == "version" {
			return fmt.Errorf("step %s: input name %q is reserved", d.Name, in.Name)
		}
		if seen[in.Name] {
			return fmt.Errorf("step %s: input %q declared twice", d.Name, in.Name)
		}
		seen[in.Name] = true
		if in.Description == "" {
			return fmt.Errorf("step %s: input %q has no description", d.Name, in.Name)
		}
		if in.Default != "" {
			if _, err := in.Kind.parse(in.Default, in.ZeroOK); err != nil {
				return fmt.Errorf("step %s: input %q: default %v", d.Name, in.Name, err)
			}
		}
	}
	seen = map[string]bool{}
	for _, o := range d.Outputs {
		if o.Name == "" || o.Name != strings.ToLower(o.Name) || strings.ContainsAny(o.Name, " -") {
			return fmt.Errorf("step %s: output name %q must be snake_case", d.Name, o.Name)
		}
		if seen[o.Name] {
			return fmt.Errorf("step %s: output %q declared twice", d.Name, o.Name)
		}
		seen[o.Name] = true
		if o.Description == "" {
			return fmt.Errorf("step %s: output %q has no description", d.Name, o.Name)
		}
	}
	return nil
}

// Package is the Go package that implements the step, under
// internal/steps: the step's name without dashes (apply-env → applyenv).
func (d *Definition) Package() string { return strings.ReplaceAll(d.Name, "-", "") }
