package step

import (
	"fmt"
	"strings"

	"sigs.k8s.io/yaml"
)

// ActionRepository is where the actions live: uses: driftless-dev/driftless/actions/<step>@v1.
const ActionRepository = "driftless-dev/driftless"

// ActionYAML renders the GitHub Actions metadata of a step from its
// definition, so action.yml and the binary cannot disagree. The action is
// a composite one: actions/install.sh provides the binaries (from
// DRIFTLESS_BIN_DIR, the tool cache, a checksum-verified release download,
// or a build from the action's own source when Go is there), then the
// step's binary runs with every input as DRIFTLESS_<NAME>: an input left empty stays
// unset, so the spec and the binary's defaults apply exactly as on the
// command line. That is also why no input declares a default here; the
// description says it.
func ActionYAML(d Definition) []byte {
	type input struct {
		Description string `json:"description"`
		Required    bool   `json:"required"`
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
		if in.Default != "" {
			desc += fmt.Sprintf(" Default: %s.", in.Default)
		}
		if len(in.Choices) > 0 {
			desc += " One of: " + strings.Join(in.Choices, ", ") + "."
		}
		a.Inputs[in.Name] = input{Description: desc}
		env[in.EnvName()] = fmt.Sprintf("${{ inputs.%s }}", in.Name)
	}
	for _, o := range d.Outputs {
		a.Outputs[o.Name] = output{Description: o.Description, Value: fmt.Sprintf("${{ steps.run.outputs.%s }}", o.Name)}
	}
	a.Runs.Using = "composite"
	a.Runs.Steps = []stepYAML{
		{Name: "Install driftless", ID: "install", Shell: "bash", Run: `"$GITHUB_ACTION_PATH/../install.sh"`,
			Env: map[string]string{"DRIFTLESS_ACTION_REF": "${{ github.action_ref }}"}},
		{Name: d.Name, ID: "run", Shell: "bash", Run: `"${{ steps.install.outputs.bin }}/` + d.Name + `"`, Env: env},
	}
	b, err := yaml.Marshal(a)
	if err != nil {
		panic(err) // static types
	}
	return append([]byte("# Generated from cmd/"+d.Name+"/step.go by `go test ./cmd/"+d.Name+" -update`; do not edit.\n"), b...)
}
