package actions_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"

	"github.com/driftless-dev/driftless/internal/testtool"
)

type compositeAction struct {
	Runs struct {
		Steps []struct {
			ID  string
			Run string
			Env map[string]string
		}
	}
}

func readAction(t *testing.T, path string) compositeAction {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var a compositeAction
	if err := yaml.Unmarshal(b, &a); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return a
}

// TestRootActionInstallsAsStepsDo: the root action.yml, written by hand,
// gives install.sh what the generated actions give it, and runs every step.
func TestRootActionInstallsAsStepsDo(t *testing.T) {
	t.Parallel()
	root := testtool.Root(t)
	rootAction := readAction(t, filepath.Join(root, "action.yml"))
	if len(rootAction.Runs.Steps) != 2 || rootAction.Runs.Steps[0].ID != "install" {
		t.Fatalf("root action steps: %+v", rootAction.Runs.Steps)
	}
	for _, s := range steps {
		a := readAction(t, filepath.Join(root, "actions", s, "action.yml"))
		if diff := cmp.Diff(a.Runs.Steps[0].Env, rootAction.Runs.Steps[0].Env); diff != "" {
			t.Errorf("install step env: actions/%s (-) and action.yml (+) differ:\n%s", s, diff)
		}
		if !strings.Contains(rootAction.Runs.Steps[1].Run, s+"|") && !strings.Contains(rootAction.Runs.Steps[1].Run, s+")") {
			t.Errorf("action.yml does not run %s", s)
		}
	}
}
