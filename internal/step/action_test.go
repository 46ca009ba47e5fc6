package step

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"
)

// actionFile is what the tests read of a generated action.yml.
type actionFile struct {
	Inputs map[string]struct {
		Description string
		Required    bool
		Default     *string
	}
	Outputs map[string]struct{ Description, Value string }
	Runs    struct {
		Using string
		Steps []struct {
			ID  string
			Run string
			Env map[string]string
		}
	}
}

func TestActionYAML(t *testing.T) {
	t.Parallel()
	def := testDef
	def.Inputs = append(slices.Clone(def.Inputs), Input{Name: "github-token", Description: "Token.", Secret: true})
	def.Outputs = append(slices.Clone(def.Outputs), Output{Name: "config_revision", Description: "The revision."})
	var a actionFile
	if err := yaml.Unmarshal(ActionYAML(def), &a); err != nil {
		t.Fatal(err)
	}
	if a.Runs.Using != "composite" || len(a.Runs.Steps) != 2 {
		t.Fatalf("runs: %+v", a.Runs)
	}
	install, run := a.Runs.Steps[0], a.Runs.Steps[1]
	for _, in := range def.AllInputs() {
		got, ok := a.Inputs[in.Name]
		if !ok {
			t.Errorf("input %q missing", in.Name)
			continue
		}
		if run.Env[in.EnvName()] != "${{ inputs."+in.Name+" }}" {
			t.Errorf("input %q is not passed as %s: %q", in.Name, in.EnvName(), run.Env[in.EnvName()])
		}
		// The runner does not check required: for composite actions; the
		// binary refuses a missing value.
		if got.Required {
			t.Errorf("input %q is required", in.Name)
		}
		// The binary's default, declared; none where the spec or the CI
		// context may give the value.
		want := in.Default
		if in.Name == "github-token" {
			want = "${{ github.token }}" // Actions does not put it in the environment
		}
		if (got.Default == nil) != (want == "") || (got.Default != nil && *got.Default != want) {
			t.Errorf("input %q: default %v, want %q", in.Name, got.Default, want)
		}
	}
	if d := a.Inputs["mode"].Description; d != "Mode. One of: fast, slow." {
		t.Errorf("choices belong in the description: %q", d)
	}
	// Outputs are spelled as inputs are; the binary's snake_case name stays.
	wantOutputs := map[string]string{
		"digest":          "${{ steps.run.outputs.digest }}",
		"changed":         "${{ steps.run.outputs.changed }}",
		"config-revision": "${{ steps.run.outputs.config_revision }}",
		"config_revision": "${{ steps.run.outputs.config_revision }}",
	}
	gotOutputs := map[string]string{}
	for name, o := range a.Outputs {
		gotOutputs[name] = o.Value
	}
	if diff := cmp.Diff(wantOutputs, gotOutputs); diff != "" {
		t.Errorf("outputs (-want +got):\n%s", diff)
	}
	if d := a.Outputs["config-revision"].Description; d != "The revision." {
		t.Errorf("config-revision: %q", d)
	}
	wantInstall := map[string]string{
		"DRIFTLESS_ACTION_REF":        "${{ github.action_ref }}",
		"DRIFTLESS_ACTION_REPOSITORY": "${{ github.action_repository }}",
		"DRIFTLESS_INSTALL_TOKEN":     "${{ github.token }}",
	}
	if diff := cmp.Diff(wantInstall, install.Env); diff != "" {
		t.Errorf("install step env (-want +got):\n%s", diff)
	}
	// No ${{ }} expression reaches the shell: inputs only through env.
	for _, s := range a.Runs.Steps {
		if strings.Contains(s.Run, "${{ inputs.") {
			t.Errorf("step %s interpolates an input into its script: %s", s.ID, s.Run)
		}
	}
}
