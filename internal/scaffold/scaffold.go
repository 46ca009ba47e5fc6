// Package scaffold writes what a repository needs to adopt driftless for
// Kubernetes manifests it already has: a driftless.yaml and kustomize
// overlays for a test and a prod environment over those manifests, which
// validate-config then accepts (validate-config --init).
package scaffold

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/driftless-dev/driftless/internal/imageref"
	"github.com/driftless-dev/driftless/internal/render"
	"github.com/driftless-dev/driftless/internal/spec"
)

// Options say what to scaffold.
type Options struct {
	// Spec is the driftless.yaml to write; its directory is the
	// repository's (paths in it are relative to that).
	Spec string
	// Manifests is the directory of the existing manifests: a kustomize
	// directory, or plain YAML files (a kustomization.yaml listing them is
	// written there).
	Manifests string
	// Name is the pipeline's name; the repository directory's name when
	// empty.
	Name string
	// Image is the image, as the manifests write it, that driftless bakes
	// and pins; needed only when the manifests run several.
	Image string
	// Repository is where bake-image pushes; the image's repository when
	// empty.
	Repository string
}

// Result is what was written.
type Result struct {
	// Files are the files written, relative to the spec's directory.
	Files []string
	// Image is the image name chosen; Repository where it is pushed.
	Image, Repository string
}

// Write scaffolds. It writes nothing when anything is wrong: a spec that
// exists already, manifests that do not render, an image it cannot choose.
func Write(o Options) (*Result, error) {
	root, err := filepath.Abs(filepath.Dir(o.Spec))
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(o.Spec); err == nil {
		return nil, fmt.Errorf("%s exists already: --init writes a new spec and never overwrites one", o.Spec)
	}
	manifests, err := filepath.Abs(o.Manifests)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(manifests); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("manifests %q: not a directory; give the directory holding the service's Kubernetes manifests", o.Manifests)
	}
	if rel, err := filepath.Rel(root, manifests); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return nil, fmt.Errorf("manifests %q are outside the repository %s", o.Manifests, root)
	}
	name := o.Name
	if name == "" {
		name = dnsLabel(filepath.Base(root))
	}
	if name == "" || !validName.MatchString(name) {
		return nil, fmt.Errorf("pipeline name %q is not a DNS label (lowercase letters, digits, '-'): give one", name)
	}

	var files []pending
	base := manifests
	if !hasKustomization(manifests) {
		k, err := kustomizationFor(manifests)
		if err != nil {
			return nil, err
		}
		files = append(files, pending{filepath.Join(manifests, "kustomization.yaml"), k})
	}
	image, err := chooseImage(base, files, o.Image)
	if err != nil {
		return nil, err
	}
	repo := o.Repository
	if repo == "" {
		repo = image
	}
	for _, env := range []string{"test", "prod"} {
		dir := filepath.Join(root, "kustomize", "overlays", env)
		rel, err := filepath.Rel(dir, base)
		if err != nil {
			return nil, err
		}
		files = append(files, pending{filepath.Join(dir, "kustomization.yaml"), fmt.Sprintf(
			"# The %s environment of %s: the service's manifests in namespace %s-%s.\n"+
				"# Environment-specific changes (replicas, resources, config) go here as patches.\n"+
				"apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: %q\nresources:\n  - %q\n",
			env, name, name, env, name+"-"+env, filepath.ToSlash(rel))})
	}
	nameLine := ""
	if image != repo {
		nameLine = fmt.Sprintf("  name: %q # what the manifests call the image; pinned to repository@digest\n", image)
	}
	files = append(files, pending{o.Spec, specText(name, repo, nameLine)})
	for _, f := range files {
		if _, err := os.Stat(f.path); err == nil {
			return nil, fmt.Errorf("%s exists already: nothing was written", f.path)
		}
	}
	// The base must render before anything is written (a generated
	// kustomization is tried in a scratch copy of its list).
	res := &Result{Image: image, Repository: repo}
	var written []string
	for _, f := range files {
		if err := os.MkdirAll(filepath.Dir(f.path), 0o755); err == nil {
			err = os.WriteFile(f.path, []byte(f.content), 0o644)
		}
		if err != nil {
			for _, w := range written {
				_ = os.Remove(w)
			}
			return nil, fmt.Errorf("writing %s: %w", f.path, err)
		}
		written = append(written, f.path)
		rel, _ := filepath.Rel(root, f.path)
		res.Files = append(res.Files, filepath.ToSlash(rel))
	}
	return res, nil
}

type pending struct{ path, content string }

var validName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// dnsLabel makes a directory name a pipeline name: lowercase, runs of
// other characters as '-', at most 63 characters.
func dnsLabel(s string) string {
	s = strings.ToLower(s)
	s = regexp.MustCompile(`[^a-z0-9]+`).ReplaceAllString(s, "-")
	if len(s) > 63 {
		s = s[:63]
	}
	return strings.Trim(s, "-")
}

func hasKustomization(dir string) bool {
	for _, n := range spec.KustomizationFileNames {
		if _, err := os.Stat(filepath.Join(dir, n)); err == nil {
			return true
		}
	}
	return false
}

// kustomizationFor lists the YAML files of dir that hold Kubernetes
// objects.
func kustomizationFor(dir string) (string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	var files []string
	for _, e := range entries {
		n := e.Name()
		if !e.Type().IsRegular() || (!strings.HasSuffix(n, ".yaml") && !strings.HasSuffix(n, ".yml")) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			return "", err
		}
		if strings.Contains(string(b), "apiVersion:") && strings.Contains(string(b), "kind:") {
			files = append(files, n)
		}
	}
	if len(files) == 0 {
		return "", fmt.Errorf("manifests %q: no YAML file with Kubernetes objects (apiVersion and kind) in it", dir)
	}
	slices.Sort(files)
	return "# The service's manifests, as they were: written by validate-config --init.\n" +
		"apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - " + strings.Join(files, "\n  - ") + "\n", nil
}

// chooseImage renders the base and picks the image driftless bakes: the
// one given (which some container must run), else the only one.
func chooseImage(base string, pendingFiles []pending, given string) (string, error) {
	dir := base
	if len(pendingFiles) > 0 {
		// Render a scratch copy: nothing is written before every check passed.
		tmp, err := os.MkdirTemp("", "driftless-init-")
		if err != nil {
			return "", err
		}
		defer os.RemoveAll(tmp)
		entries, err := os.ReadDir(base)
		if err != nil {
			return "", err
		}
		for _, e := range entries {
			if e.Type().IsRegular() {
				b, err := os.ReadFile(filepath.Join(base, e.Name()))
				if err != nil {
					return "", err
				}
				if err := os.WriteFile(filepath.Join(tmp, e.Name()), b, 0o644); err != nil {
					return "", err
				}
			}
		}
		if err := os.WriteFile(filepath.Join(tmp, "kustomization.yaml"), []byte(pendingFiles[0].content), 0o644); err != nil {
			return "", err
		}
		dir = tmp
	}
	m, err := render.Kustomize(dir, render.Wrapper{})
	if err != nil {
		return "", fmt.Errorf("the manifests in %s do not render: %w", base, err)
	}
	var repos []string
	for _, r := range m.Resources() {
		obj, err := r.Map()
		if err != nil {
			return "", err
		}
		for _, c := range imageref.Containers(obj) {
			if repo, _, _ := imageref.Split(c.Image); repo != "" && !slices.Contains(repos, repo) {
				repos = append(repos, repo)
			}
		}
	}
	slices.Sort(repos)
	if given != "" {
		repo, _, _ := imageref.Split(given)
		if !slices.Contains(repos, repo) {
			return "", fmt.Errorf("no container runs %q; the manifests run %s", given, strings.Join(repos, ", "))
		}
		return repo, nil
	}
	switch len(repos) {
	case 0:
		return "", errors.New("the manifests run no container: driftless deploys a service, whose image it bakes and pins")
	case 1:
		return repos[0], nil
	}
	return "", fmt.Errorf("the manifests run %d images (%s): pass init-image with the one driftless bakes and pins (the service's own)", len(repos), strings.Join(repos, ", "))
}

func specText(name, repo, nameLine string) string {
	return fmt.Sprintf(`# The pipeline spec of %[1]s, written by validate-config --init: every
# driftless step reads it. Reference: the README's "The pipeline spec" and
# the JSON Schema schema/pipeline.v1alpha1.json of driftless.
apiVersion: driftless.dev/v1alpha1
kind: Pipeline
name: %[4]q
image:
  repository: %[2]q
%[3]s  # The image bake-image builds on: your runtime image pinned by digest, or
  # scratch for a static binary. Add the binary and files as layers, e.g.
  #   layers: [{from: bin/%[1]s, to: /usr/local/bin/%[1]s, mode: "0755"}]
  #   entrypoint: [/usr/local/bin/%[1]s]
  base: scratch
# The static configuration baked into the image, whose revision the service
# reports at GET /version (docs/service-contract.md), e.g.
#   static: {dir: config, path: /etc/%[1]s}
versioning:
  gitTag: semver
environments:
  - name: test
    overlay: kustomize/overlays/test
    namespace: %[5]q
    # smoke: {url: https://test.example.com}
  - name: prod
    overlay: kustomize/overlays/prod
    namespace: %[6]q
    promotion:
      from: test # only a digest verified in test is deployed here
    keep: [PersistentVolumeClaim]
`, name, repo, nameLine, name, name+"-test", name+"-prod")
}
