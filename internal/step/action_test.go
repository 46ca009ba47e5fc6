package step

import (
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

func TestActionYAML(t *testing.T) {
	t.Parallel()
	var a struct {
		Inputs  map[string]struct{ Description string }
		Outputs map[string]struct{ Value string }
		Runs    struct {
			Using string
			Steps []struct {
				ID  string
				Run string
				Env map[string]string
			}
		}
	}
	if err := yaml.Unmarshal(ActionYAML(testDef), &a); err != nil {
		t.Fatal(err)
	}
	if a.Runs.Using != "composite" || len(a.Runs.Steps) != 2 {
		t.Fatalf("runs: %+v", a.Runs)
	}
	run := a.Runs.Steps[1]
	for _, in := range testDef.AllInputs() {
		if _, ok := a.Inputs[in.Name]; !ok {
			t.Errorf("input %q missing", in.Name)
		}
		if run.Env[in.EnvName()] != "${{ inputs."+in.Name+" }}" {
			t.Errorf("input %q is not passed as %s: %q", in.Name, in.EnvName(), run.Env[in.EnvName()])
		}
	}
	if !strings.Contains(a.Inputs["mode"].Description, "Default: fast. One of: fast, slow.") {
		t.Errorf("defaults and choices belong in the description: %q", a.Inputs["mode"].Description)
	}
	for _, o := range testDef.Outputs {
		if a.Outputs[o.Name].Value != "${{ steps.run.outputs."+o.Name+" }}" {
			t.Errorf("output %q: %+v", o.Name, a.Outputs[o.Name])
		}
	}
	// No ${{ }} expression reaches the shell: inputs only through env.
	for _, s := range a.Runs.Steps {
		if strings.Contains(s.Run, "${{ inputs.") {
			t.Errorf("step %s interpolates an input into its script: %s", s.ID, s.Run)
		}
	}
}
