package main

import (
	"io"
	"log"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/driftless-dev/driftless/internal/configrev"
	"github.com/driftless-dev/driftless/internal/step/steptest"
)

func TestDefinition(t *testing.T) {
	t.Parallel()
	steptest.CheckDefinition(t, definition)
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
	r := steptest.Run(t, definition, run, env, append(args, "--output", "json")...)
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
			r := steptest.Run(t, definition, run, tc.env, append([]string{"--spec", spec}, tc.args...)...)
			if r.Code != 2 || !strings.Contains(r.Stderr, tc.want) {
				t.Errorf("exit %d, stderr %q, want 2 and %q", r.Code, r.Stderr, tc.want)
			}
		})
	}
}
