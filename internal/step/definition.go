package step

import (
	"fmt"
	"strings"
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
	// Bool makes the flag a switch (--strict) and the value "true"/"false".
	Bool bool
	// Secret values are masked in all output and registered with GitHub's
	// add-mask.
	Secret bool
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

// Common inputs every step accepts.
const (
	InputSpec   = "spec"
	InputOutput = "output"
	InputDotenv = "dotenv"
)

// CommonInputs are accepted by every step.
var CommonInputs = []Input{
	{Name: InputSpec, Description: "Path to the pipeline spec.", Default: "driftless.yaml"},
	{Name: InputOutput, Description: "Format of machine output on stdout: text prints nothing but results meant for humans on stderr; json prints one JSON object with every output.", Default: "text", Choices: []string{"text", "json"}},
	{Name: InputDotenv, Description: "Also write the outputs to this dotenv file (GitLab CI `artifacts: reports: dotenv`)."},
}

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
