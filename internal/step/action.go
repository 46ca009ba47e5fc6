package step

import (
	"fmt"
	"strings"

	"sigs.k8s.io/yaml"
)

// ActionRepository is where the actions live: uses: driftless-dev/driftless/actions/<step>@v1.
const ActionRepository = "driftless-dev/driftless"

// actionTokenInput is the input (internal/access's) that defaults to the
// job's token in action.yml.
const actionTokenInput = "github-token"

// installEnv is what actions/install.sh is given (the root action.yml
// gives it the same): which release the action's ref names, and a token for
// the API calls that resolve a floating tag or a commit, which it never
// prints.
func installEnv() map[string]string {
	return map[string]string{
		"DRIFTLESS_ACTION_REF":        "${{ github.action_ref }}",
		"DRIFTLESS_ACTION_REPOSITORY": "${{ github.action_repository }}",
		"DRIFTLESS_INSTALL_TOKEN":     "${{ github.token }}",
	}
}

// ActionYAML renders the GitHub Actions metadata of a step from its
// definition, so action.yml and the binary cannot disagree. The action is
// a composite one: actions/install.sh provides the binaries (from
// DRIFTLESS_BIN_DIR, the tool cache, the checksum-verified release the
// action's ref names, or a build from the action's own source when Go is
// there), then the step's binary runs with every input as DRIFTLESS_<NAME>.
//
// An input's default is the binary's own (declared: default:), so a value
// left out means the same in a workflow as on the command line; an input
// without one stays empty, and an empty DRIFTLESS_ variable is unset, so
// the spec or the CI context supplies it. github-token defaults to the
// job's token, which the runner gives to expressions but not to the
// environment. No input is required: by the action — the runner does not
// check required: for composite actions, and the binary refuses a missing
// value itself, naming the input.
//
// Outputs are named as inputs are, in kebab-case (config-revision, which
// kustomize-render's config-revision input takes); an output whose name the
// binary spells in snake_case ($GITHUB_OUTPUT, --output json) is also
// published under that name, which workflows written before used.
func ActionYAML(d Definition) []byte {
	type input struct {
		Description string `json:"description"`
		Required    bool   `json:"required"`
		Default     string `json:"default,omitempty"`
	}
	type output struct {
		Description string `json:"description"`
		Value       string `json:"value"`
	}
	type stepYAML struct {
		Name  string            `json:"name,omitempty"`
		ID    string            `json:"id,omitempty"`
		Uses  string            `json:"uses,omitempty"`
		Shell string            `json:"shell,omitempty"`
		Run   string            `json:"run,omitempty"`
		Env   map[string]string `json:"env,omitempty"`
		With  map[string]string `json:"with,omitempty"`
	}
	type action struct {
		Name        string            `json:"name"`
		Description string            `json:"description"`
		Author      string            `json:"author"`
		Branding    map[string]string `json:"branding"`
		Inputs      map[string]input  `json:"inputs"`
		Outputs     map[string]output `json:"outputs,omitempty"`
		Runs        struct {
			Using string     `json:"using"`
			Steps []stepYAML `json:"steps"`
		} `json:"runs"`
	}
	a := action{
		Name:        "driftless " + d.Name,
		Description: d.Summary,
		Author:      "driftless",
		Branding:    map[string]string{"icon": "anchor", "color": "blue"},
		Inputs:      map[string]input{},
		Outputs:     map[string]output{},
	}
	env := map[string]string{}
	for _, in := range d.AllInputs() {
		desc := in.Description
		if len(in.Choices) > 0 {
			desc += " One of: " + strings.Join(in.Choices, ", ") + "."
		}
		def := in.Default
		if in.Name == actionTokenInput {
			def = "${{ github.token }}"
		}
		a.Inputs[in.Name] = input{Description: desc, Default: def}
		env[in.EnvName()] = fmt.Sprintf("${{ inputs.%s }}", in.Name)
	}
	for _, o := range d.Outputs {
		value := fmt.Sprintf("${{ steps.run.outputs.%s }}", o.Name)
		kebab := strings.ReplaceAll(o.Name, "_", "-")
		a.Outputs[kebab] = output{Description: o.Description, Value: value}
		if kebab != o.Name {
			a.Outputs[o.Name] = output{Description: "The same as " + kebab + ", under the name the binary writes it as ($GITHUB_OUTPUT, --output json).", Value: value}
		}
	}
	a.Runs.Using = "composite"
	a.Runs.Steps = []stepYAML{
		{Name: "Install driftless", ID: "install", Shell: "bash", Run: `"$GITHUB_ACTION_PATH/../install.sh"`, Env: installEnv()},
		{Name: d.Name, ID: "run", Shell: "bash", Run: `"${{ steps.install.outputs.bin }}/` + d.Name + `"`, Env: env},
	}
	b, err := yaml.Marshal(a)
	if err != nil {
		panic(err) // static types
	}
	return append([]byte("# Generated from internal/steps/"+d.Package()+"/step.go by `go test ./internal/steps/"+d.Package()+" -update`; do not edit.\n"), b...)
}
