package gitlab

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/driftless-dev/driftless/internal/testtool"
)

var steps = []string{"validate-config", "bake-image", "tag-sync", "kustomize-render", "apply-env", "smoke-test"}

// action is what the tests need of actions/<step>/action.yml, which
// internal/steps/<step>'s tests keep equal to the step's definition.
type action struct {
	Inputs  map[string]any `json:"inputs"`
	Outputs map[string]any `json:"outputs"`
}

func actions(t *testing.T) map[string]action {
	t.Helper()
	root := testtool.Root(t)
	out := map[string]action{}
	for _, s := range steps {
		b, err := os.ReadFile(filepath.Join(root, "actions", s, "action.yml"))
		if err != nil {
			t.Fatal(err)
		}
		var a action
		if err := yaml.Unmarshal(b, &a); err != nil {
			t.Fatalf("actions/%s/action.yml: %v", s, err)
		}
		out[s] = a
	}
	return out
}

var outputRef = regexp.MustCompile(`steps\.([a-z0-9_-]+)\.outputs\.([a-z0-9_]+)`)

// TestGitHubWorkflows: every with: key is an input of the action used, and
// every steps.<id>.outputs.<name> is an output of that step's action.
func TestGitHubWorkflows(t *testing.T) {
	t.Parallel()
	acts := actions(t)
	files, _ := filepath.Glob(filepath.Join(testtool.Root(t), ".github", "workflows", "*.yml"))
	if len(files) == 0 {
		t.Fatal("no workflows")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var wf struct {
			Jobs map[string]struct {
				Steps []struct {
					ID   string            `json:"id"`
					Uses string            `json:"uses"`
					With map[string]string `json:"with"`
				} `json:"steps"`
			} `json:"jobs"`
		}
		if err := yaml.Unmarshal(b, &wf); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for job, j := range wf.Jobs {
			ids := map[string]string{}
			for _, s := range j.Steps {
				name, ok := strings.CutPrefix(s.Uses, "./actions/")
				if !ok {
					continue
				}
				a, known := acts[name]
				if !known {
					t.Errorf("%s: job %s uses unknown action %s", f, job, s.Uses)
					continue
				}
				ids[s.ID] = name
				for k, v := range s.With {
					if _, ok := a.Inputs[k]; !ok {
						t.Errorf("%s: job %s: %s has no input %q", f, job, name, k)
					}
					for _, m := range outputRef.FindAllStringSubmatch(v, -1) {
						src, ok := ids[m[1]]
						if !ok {
							continue
						}
						if _, ok := acts[src].Outputs[m[2]]; !ok {
							t.Errorf("%s: job %s: step %s (%s) has no output %q", f, job, m[1], src, m[2])
						}
					}
				}
			}
		}
	}
}

var flag = regexp.MustCompile(`--([a-z][a-z0-9-]*)`)

// TestGitLabExample: every driftless command in the scripts exists and
// takes the flags given.
func TestGitLabExample(t *testing.T) {
	t.Parallel()
	acts := actions(t)
	b, err := os.ReadFile("gitlab-ci.yml")
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatalf("gitlab-ci.yml: %v", err)
	}
	n := 0
	for job, v := range cfg {
		j, ok := v.(map[string]any)
		if !ok {
			continue
		}
		script, _ := j["script"].([]any)
		for _, line := range script {
			fields := strings.Fields(line.(string))
			if len(fields) == 0 || !slices.Contains(steps, fields[0]) {
				continue
			}
			n++
			for _, m := range flag.FindAllStringSubmatch(line.(string), -1) {
				if _, ok := acts[fields[0]].Inputs[m[1]]; !ok {
					t.Errorf("job %s: %s has no input --%s", job, fields[0], m[1])
				}
			}
		}
	}
	if n < 6 {
		t.Errorf("only %d driftless commands found", n)
	}
}

// TestDotenvChaining: a dotenv report turns each output into
// DRIFTLESS_<OUTPUT>, which a later step reads as the input of that name.
// Only the intended pairs may meet; any other match is a collision.
func TestDotenvChaining(t *testing.T) {
	t.Parallel()
	acts := actions(t)
	envName := func(s string) string { return strings.ToUpper(strings.NewReplacer("-", "_").Replace(s)) }
	intended := map[string]bool{"IMAGE": true, "RELEASE": true, "CONFIG_REVISION": true, "MANIFESTS": true}
	inputs := map[string][]string{}
	for s, a := range acts {
		for in := range a.Inputs {
			inputs[envName(in)] = append(inputs[envName(in)], s)
		}
	}
	for s, a := range acts {
		for out := range a.Outputs {
			if readers, ok := inputs[envName(out)]; ok && !intended[envName(out)] {
				t.Errorf("%s's output %q reaches the input of the same name of %v through a dotenv", s, out, readers)
			}
		}
	}
}
