package corpus

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/driftless-dev/driftless/internal/spec"
	"github.com/driftless-dev/driftless/internal/testtool"
)

// EnvDirs names the environment variable listing further corpus
// directories (separated by the OS's path list separator), for upstream
// applications that are not part of the repository.
const EnvDirs = "DRIFTLESS_CORPUS"

// App is one application of the corpus.
type App struct {
	// Name is the application's directory name.
	Name string
	// Dir is the application's directory.
	Dir string
	// Spec is its pipeline spec, Dir/driftless.yaml.
	Spec *spec.Pipeline
	// Env is the spec's environment; Env.Overlay is the application.
	Env *spec.Environment
	// Overlay is the directory kustomize builds: Env.Overlay resolved.
	Overlay string
	// Source says where the application comes from.
	Source Source
}

// Source is an application's SOURCE file.
type Source struct {
	// Repository is the upstream repository's URL; empty for the
	// applications written for driftless.
	Repository string `yaml:"repository"`
	// Commit is the upstream commit the files were copied at.
	Commit string `yaml:"commit"`
	// License is the upstream license's SPDX identifier.
	License string `yaml:"license"`
	// Copied lists the upstream paths copied and where to.
	Copied []Copy `yaml:"copied"`
	// Exercises says what the application is in the corpus for.
	Exercises string `yaml:"exercises"`
}

// Copy is one upstream path copied into the application's directory.
type Copy struct {
	Path string `yaml:"path"`
	To   string `yaml:"to"`
}

// Dirs returns the corpus directories that exist: testdata/corpus at the
// repository root, shared/corpus beside the repository, and those named by
// DRIFTLESS_CORPUS, in that order.
func Dirs(root string, getenv func(string) string) []string {
	candidates := []string{filepath.Join(root, "testdata", "corpus"), filepath.Join(filepath.Dir(root), "shared", "corpus")}
	if v := getenv(EnvDirs); v != "" {
		candidates = append(candidates, filepath.SplitList(v)...)
	}
	var out []string
	for _, d := range candidates {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() && !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	return out
}

// Apps returns every application of the corpus, sorted by name; an
// application found in two directories is an error.
func Apps(tb testing.TB) []App {
	tb.Helper()
	apps, err := Load(Dirs(testtool.Root(tb), os.Getenv))
	if err != nil {
		tb.Fatal(err)
	}
	if len(apps) == 0 {
		tb.Fatal("corpus: no application found")
	}
	return apps
}

// Load reads the applications in dirs: every subdirectory with a
// driftless.yaml.
func Load(dirs []string) ([]App, error) {
	var apps []App
	var errs []error
	seen := map[string]string{}
	for _, d := range dirs {
		entries, err := os.ReadDir(d)
		if err != nil {
			errs = append(errs, fmt.Errorf("reading the corpus: %w", err))
			continue
		}
		for _, e := range entries {
			dir := filepath.Join(d, e.Name())
			if !e.IsDir() {
				continue
			}
			if _, err := os.Stat(filepath.Join(dir, "driftless.yaml")); err != nil {
				continue
			}
			if prev, ok := seen[e.Name()]; ok {
				errs = append(errs, fmt.Errorf("corpus application %q is in both %s and %s", e.Name(), prev, d))
				continue
			}
			seen[e.Name()] = d
			a, err := load(dir)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			apps = append(apps, a)
		}
	}
	slices.SortFunc(apps, func(a, b App) int { return strings.Compare(a.Name, b.Name) })
	return apps, errors.Join(errs...)
}

func load(dir string) (App, error) {
	a := App{Name: filepath.Base(dir), Dir: dir}
	b, err := os.ReadFile(filepath.Join(dir, "SOURCE"))
	if err != nil {
		return a, fmt.Errorf("corpus application %q: %w", a.Name, err)
	}
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&a.Source); err != nil {
		return a, fmt.Errorf("corpus application %q: %s: %w", a.Name, filepath.Join(dir, "SOURCE"), err)
	}
	if a.Source.Repository != "" && (a.Source.Commit == "" || a.Source.License == "" || len(a.Source.Copied) == 0) {
		return a, fmt.Errorf("corpus application %q: SOURCE names repository %q but not its commit, license and the paths copied", a.Name, a.Source.Repository)
	}
	a.Spec, err = spec.Load(filepath.Join(dir, "driftless.yaml"))
	if err != nil {
		return a, fmt.Errorf("corpus application %q: %w", a.Name, err)
	}
	if len(a.Spec.Environments) != 1 {
		return a, fmt.Errorf("corpus application %q: %s has %d environments, want one", a.Name, a.Spec.File, len(a.Spec.Environments))
	}
	a.Env = &a.Spec.Environments[0]
	a.Overlay = a.Spec.Path(a.Env.Overlay)
	return a, nil
}
