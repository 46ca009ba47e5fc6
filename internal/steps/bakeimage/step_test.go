package bakeimage

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/driftless-dev/driftless/internal/configrev"
	"github.com/driftless-dev/driftless/internal/registry/registrytest"
	"github.com/driftless-dev/driftless/internal/step/steptest"
)

func TestDefinition(t *testing.T) {
	t.Parallel()
	steptest.CheckDefinition(t, Definition)
}

// project makes a small user repository: spec, static configuration, a
// binary, committed with git.
func project(t *testing.T, host string) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"driftless.yaml": `apiVersion: driftless.dev/v1alpha1
kind: Pipeline
name: api
image:
  repository: ` + host + `/team/api
  base: ` + host + `/base/runtime:1.4
  layers: [{from: bin/api, to: /usr/local/bin/api, mode: "0755"}]
  entrypoint: [/usr/local/bin/api]
static: {dir: static, path: /var/api/static}
environments: [{name: test, overlay: k, namespace: t}]
`,
		"k/kustomization.yaml": "resources: []\n",
		"static/plans.yaml":    "plans: [free]\n",
		"bin/api":              "binary",
	}
	for n, c := range files {
		p := filepath.Join(dir, n)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{{"init", "-q"}, {"add", "."}, {"commit", "-q", "-m", "one"}} {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_AUTHOR_NAME=a", "GIT_AUTHOR_EMAIL=a@example.com", "GIT_COMMITTER_NAME=a", "GIT_COMMITTER_EMAIL=a@example.com")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	return dir
}

func startRegistry(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	return u.Host
}

func pushBase(t *testing.T, host string) {
	t.Helper()
	img, _ := random.Image(64, 2)
	ref, _ := name.ParseReference(host + "/base/runtime:1.4")
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
}

func bakeJSON(t *testing.T, env map[string]string, args ...string) map[string]string {
	t.Helper()
	r := steptest.Run(t, Definition, Run, env, append(args, "--output", "json")...)
	if r.Code != 0 {
		t.Fatalf("exit %d\n%s", r.Code, r.Stderr)
	}
	return steptest.Outputs(t, r.Stdout)
}

func TestBakeTwiceAndRebase(t *testing.T) {
	t.Parallel()
	host := startRegistry(t)
	pushBase(t, host)
	dir := project(t, host)
	spec := filepath.Join(dir, "driftless.yaml")
	env := map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_REF": "refs/tags/v1.0.0", "GITHUB_SHA": "abc", "GITHUB_REPOSITORY": "o/r"}

	first := bakeJSON(t, env, "--spec", spec)
	rev, _ := configrev.Dir(filepath.Join(dir, "static"))
	if first["changed"] != "true" || first["config_revision"] != rev || first["image"] != host+"/team/api@"+first["digest"] || !strings.HasPrefix(first["base_digest"], "sha256:") {
		t.Fatalf("first bake outputs %v", first)
	}
	second := bakeJSON(t, env, "--spec", spec)
	if second["digest"] != first["digest"] || second["changed"] != "false" {
		t.Errorf("second bake %v, first %v", second, first)
	}

	// The scheduled job: nothing to do while the base is unchanged.
	ref, _ := name.ParseReference(first["image"])
	desc, err := remote.Get(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Tag(ref.Context().Tag("v1.0.0"), desc); err != nil {
		t.Fatal(err)
	}
	same := bakeJSON(t, env, "--spec", spec, "--if-base-changed", "--current", "v1.0.0")
	if same["changed"] != "false" || same["digest"] != first["digest"] || same["config_revision"] != rev {
		t.Errorf("unchanged base: %v", same)
	}
	pushBase(t, host) // the base gets a security update
	rebased := bakeJSON(t, env, "--spec", spec, "--if-base-changed", "--current", "v1.0.0")
	if rebased["changed"] != "true" || rebased["digest"] == first["digest"] || rebased["base_digest"] == first["base_digest"] || rebased["config_revision"] != rev {
		t.Errorf("rebase: %v (first %v)", rebased, first)
	}
	if _, err := remote.Head(ref.Context().Digest(rebased["digest"])); err != nil {
		t.Errorf("rebased image not pushed: %v", err)
	}
}

func TestOCILayout(t *testing.T) {
	t.Parallel()
	host := startRegistry(t)
	pushBase(t, host)
	dir := project(t, host)
	layout := filepath.Join(t.TempDir(), "layout")
	env := map[string]string{"SOURCE_DATE_EPOCH": "1700000000"}
	a := bakeJSON(t, env, "--spec", filepath.Join(dir, "driftless.yaml"), "--oci-layout", layout, "--release", "v2.0.0")
	b := bakeJSON(t, env, "--spec", filepath.Join(dir, "driftless.yaml"), "--oci-layout", layout, "--release", "v2.0.0")
	if a["changed"] != "true" || b["changed"] != "false" || a["digest"] != b["digest"] {
		t.Errorf("%v then %v", a, b)
	}
	idx, err := os.ReadFile(filepath.Join(layout, "index.json"))
	if err != nil || !strings.Contains(string(idx), a["digest"]) || !strings.Contains(string(idx), "/team/api:v2.0.0") {
		t.Errorf("index.json %s %v", idx, err)
	}
}

func TestCannotRun(t *testing.T) {
	t.Parallel()
	host := startRegistry(t)
	dir := project(t, host)
	spec := filepath.Join(dir, "driftless.yaml")
	cases := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"bad SOURCE_DATE_EPOCH", map[string]string{"SOURCE_DATE_EPOCH": "yesterday"}, nil, `SOURCE_DATE_EPOCH "yesterday" is not a number`},
		{"missing base", nil, nil, "reading base " + host + "/base/runtime:1.4"},
		{"if-base-changed with a layout", nil, []string{"--if-base-changed", "--oci-layout", t.TempDir()}, "cannot be combined with oci-layout"},
		{"bad repository", nil, []string{"--repository", "UPPER/case"}, `repository "UPPER/case"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := steptest.Run(t, Definition, Run, tc.env, append([]string{"--spec", spec}, tc.args...)...)
			if r.Code != 2 || !strings.Contains(r.Stderr, tc.want) {
				t.Errorf("exit %d, stderr %q, want 2 and %q", r.Code, r.Stderr, tc.want)
			}
		})
	}
}

// escapable makes the project of project() in base/repo, next to
// base/outside holding a secret (a runner's Docker config, say) and a
// directory, then lets edit change it (the spec, links, pipes) before
// returning the spec's path.
func escapable(t *testing.T, host string, edit func(repo, outside string)) string {
	t.Helper()
	repo := project(t, host)
	outside := filepath.Join(t.TempDir(), "outside")
	os.MkdirAll(filepath.Join(outside, "dir"), 0o755)
	os.WriteFile(filepath.Join(outside, "secret.txt"), []byte(`{"auths":{"ghcr.io":{"auth":"c2VjcmV0"}}}`), 0o600)
	os.WriteFile(filepath.Join(outside, "dir", "plans.yaml"), []byte("plans: [stolen]\n"), 0o644)
	edit(repo, outside)
	return filepath.Join(repo, "driftless.yaml")
}

// replaceInSpec rewrites driftless.yaml in repo.
func replaceInSpec(t *testing.T, repo, old, new string) {
	t.Helper()
	p := filepath.Join(repo, "driftless.yaml")
	b, err := os.ReadFile(p)
	if err != nil || !strings.Contains(string(b), old) {
		t.Fatalf("%q not in the spec (%v)", old, err)
	}
	if err := os.WriteFile(p, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

func relOutside(t *testing.T, repo, outside, name string) string {
	t.Helper()
	rel, err := filepath.Rel(repo, filepath.Join(outside, name))
	if err != nil {
		t.Fatal(err)
	}
	return rel
}

// TestRefusesWhatIsOutsideTheRepository: a pull request that edits
// driftless.yaml (or adds a link) cannot bake a file from outside the
// repository into an image: bake-image refuses with the path, where it
// leads and why, exits 2 and pushes nothing.
func TestRefusesWhatIsOutsideTheRepository(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		edit func(t *testing.T, repo, outside string)
		want []string // in stderr, after the repository and outside paths are substituted
	}{{
		name: "layer from ../",
		edit: func(t *testing.T, repo, outside string) {
			replaceInSpec(t, repo, "from: bin/api", "from: "+relOutside(t, repo, outside, "secret.txt"))
		},
		want: []string{`layer /usr/local/bin/api: "OUTSIDE/secret.txt": outside the repository "REPO"`},
	}, {
		name: "layer from an absolute path",
		edit: func(t *testing.T, repo, outside string) {
			replaceInSpec(t, repo, "from: bin/api", "from: "+filepath.Join(outside, "secret.txt"))
		},
		want: []string{`image.layers[0].from: "OUTSIDE/secret.txt" must be relative to the spec's directory`},
	}, {
		name: "static dir an absolute path",
		edit: func(t *testing.T, repo, outside string) {
			replaceInSpec(t, repo, "dir: static", "dir: "+filepath.Join(outside, "dir"))
		},
		want: []string{`static configuration: "OUTSIDE/dir": outside the repository "REPO"`},
	}, {
		name: "layer from a link leading outside",
		edit: func(t *testing.T, repo, outside string) {
			os.Remove(filepath.Join(repo, "bin", "api"))
			os.Symlink(filepath.Join(outside, "secret.txt"), filepath.Join(repo, "bin", "api"))
		},
		want: []string{`"REPO/bin/api" (resolves to "OUTSIDE/secret.txt"): outside the repository "REPO"`},
	}, {
		name: "link leading outside in a layer directory",
		edit: func(t *testing.T, repo, outside string) {
			replaceInSpec(t, repo, "{from: bin/api, to: /usr/local/bin/api", "{from: bin, to: /usr/local/bin")
			os.Symlink(filepath.Join(outside, "secret.txt"), filepath.Join(repo, "bin", "config.json"))
		},
		want: []string{`"REPO/bin/config.json" (resolves to "OUTSIDE/secret.txt"): outside the repository "REPO"`},
	}, {
		name: "static dir ../",
		edit: func(t *testing.T, repo, outside string) {
			replaceInSpec(t, repo, "dir: static", "dir: "+relOutside(t, repo, outside, "dir"))
		},
		want: []string{`static configuration: "OUTSIDE/dir": outside the repository "REPO"`},
	}, {
		name: "static dir a link leading outside",
		edit: func(t *testing.T, repo, outside string) {
			os.RemoveAll(filepath.Join(repo, "static"))
			os.Symlink(filepath.Join(outside, "dir"), filepath.Join(repo, "static"))
		},
		want: []string{`"REPO/static" (resolves to "OUTSIDE/dir"): outside the repository "REPO"`},
	}, {
		name: "link leading outside in the static dir",
		edit: func(t *testing.T, repo, outside string) {
			os.Symlink(filepath.Join(outside, "dir", "plans.yaml"), filepath.Join(repo, "static", "more.yaml"))
		},
		want: []string{`"REPO/static/more.yaml" (resolves to "OUTSIDE/dir/plans.yaml"): outside the repository "REPO"`},
	}, {
		name: "link inside the repository in the static dir",
		edit: func(t *testing.T, repo, outside string) {
			os.Symlink("plans.yaml", filepath.Join(repo, "static", "alias.yaml"))
		},
		want: []string{`"REPO/static/alias.yaml" (resolves to "REPO/static/plans.yaml"): a symbolic link (to "plans.yaml"); the static configuration holds only regular files and directories`},
	}, {
		name: "named pipe in the static dir",
		edit: func(t *testing.T, repo, outside string) {
			if err := syscall.Mkfifo(filepath.Join(repo, "static", "pipe.yaml"), 0o644); err != nil {
				t.Fatal(err)
			}
		},
		want: []string{`"REPO/static/pipe.yaml": a named pipe (FIFO), refused without being opened`},
	}, {
		name: "named pipe in a layer directory",
		edit: func(t *testing.T, repo, outside string) {
			replaceInSpec(t, repo, "{from: bin/api, to: /usr/local/bin/api", "{from: bin, to: /usr/local/bin")
			if err := syscall.Mkfifo(filepath.Join(repo, "bin", "pipe"), 0o644); err != nil {
				t.Fatal(err)
			}
		},
		want: []string{`"REPO/bin/pipe": a named pipe (FIFO), refused without being opened`},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			host := startRegistry(t)
			pushBase(t, host)
			var repo, outside string
			spec := escapable(t, host, func(r, o string) { repo, outside = r, o; tc.edit(t, r, o) })
			var r steptest.Result
			done := make(chan struct{})
			go func() {
				defer close(done)
				r = steptest.Run(t, Definition, Run, map[string]string{"SOURCE_DATE_EPOCH": "1700000000"}, "--spec", spec)
			}()
			select {
			case <-done:
			case <-time.After(60 * time.Second):
				t.Fatal("bake-image still running after 60s")
			}
			for _, w := range tc.want {
				w = strings.NewReplacer("REPO", repo, "OUTSIDE", outside).Replace(w)
				if !strings.Contains(r.Stderr, w) {
					t.Errorf("stderr does not say %q:\n%s", w, r.Stderr)
				}
			}
			if r.Code != 2 {
				t.Errorf("exit %d, want 2", r.Code)
			}
			repos, err := remote.Catalog(context.Background(), mustRegistry(t, host))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]string{"base/runtime"}, repos); diff != "" {
				t.Errorf("repositories in the registry (-want +got):\n%s", diff)
			}
		})
	}
}

func mustRegistry(t *testing.T, host string) name.Registry {
	t.Helper()
	reg, err := name.NewRegistry(host)
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

func TestBaseRef(t *testing.T) {
	t.Parallel()
	d := "sha256:" + strings.Repeat("a", 64)
	for _, tc := range []struct{ name, digest, want string }{
		{"r.example.com/base:1", d, "r.example.com/base:1@" + d},
		{"r.example.com/base:1@" + d, d, "r.example.com/base:1@" + d},
		{"r.example.com/base@" + d, d, "r.example.com/base@" + d},
		{"scratch", "", "scratch"},
	} {
		if got := baseRef(tc.name, tc.digest); got != tc.want {
			t.Errorf("baseRef(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestRegistryRefusalSaysWhatToSet: a registry that wants credentials the
// step has none for gets an error naming the registry, the sources tried
// and what to set, not go-containerregistry's bare 401.
func TestRegistryRefusalSaysWhatToSet(t *testing.T) {
	t.Parallel()
	host := registrytest.NewWithAuth(t, registrytest.Auth{Users: map[string]string{"bob": "s3cret"}})
	img, _ := random.Image(64, 2)
	ref, _ := name.ParseReference(host + "/base/runtime:1.4")
	if err := remote.Write(ref, img, remote.WithAuth(&authn.Basic{Username: "bob", Password: "s3cret"})); err != nil {
		t.Fatal(err)
	}
	spec := filepath.Join(project(t, host), "driftless.yaml")
	r := steptest.Run(t, Definition, Run, nil, "--spec", spec)
	for _, want := range []string{
		"reading base " + host + "/base/runtime:1.4",
		"registry " + host + " answered 401 Unauthorized",
		"tried: Docker config (",
		"docker login " + host,
	} {
		if r.Code == 0 || !strings.Contains(r.Stderr, want) {
			t.Errorf("exit %d, stderr %q, want it to say %q", r.Code, r.Stderr, want)
		}
	}
}
