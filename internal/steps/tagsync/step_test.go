package tagsync

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/driftless-dev/driftless/internal/githubtest"
	"github.com/driftless-dev/driftless/internal/registry/registrytest"
	"github.com/driftless-dev/driftless/internal/release"
	"github.com/driftless-dev/driftless/internal/step/steptest"
)

func TestDefinition(t *testing.T) {
	t.Parallel()
	steptest.CheckDefinition(t, Definition)
}

var isolated = []string{"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1", "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com"}

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), isolated...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// world is a repository with a pipeline spec, two commits (first, head) on
// main, an empty bare origin, and a registry holding the built image.
type world struct {
	t                  *testing.T
	dir, origin        string
	first, head        string
	repo               string // host/pssp/api
	image              string // the built image, repo@sha256:…
	rec                *registrytest.Recorder
	fixtures           map[string]string // fixture → repo@digest
	summary            string
	github             *githubtest.Server
	versioning, outDir string
}

func newWorld(t *testing.T, versioning string) *world {
	t.Helper()
	root := t.TempDir()
	w := &world{t: t, dir: filepath.Join(root, "work"), origin: filepath.Join(root, "origin.git"), fixtures: map[string]string{}}
	git(t, root, "init", "--quiet", "--bare", w.origin)
	git(t, root, "init", "--quiet", "--initial-branch=main", w.dir)
	if err := os.MkdirAll(filepath.Join(w.dir, "k"), 0o755); err != nil {
		t.Fatal(err)
	}
	spec := "apiVersion: driftless.dev/v1alpha1\nkind: Pipeline\nname: api\nimage: {repository: example.com/api, base: scratch}\nenvironments: [{name: test, overlay: k, namespace: api-test}]\n" + versioning
	for file, content := range map[string]string{"driftless.yaml": spec, "k/kustomization.yaml": "resources: []\n"} {
		if err := os.WriteFile(filepath.Join(w.dir, file), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git(t, w.dir, "add", ".")
	git(t, w.dir, "commit", "--quiet", "-m", "one")
	w.first = git(t, w.dir, "rev-parse", "HEAD")
	git(t, w.dir, "commit", "--quiet", "--allow-empty", "-m", "two")
	w.head = git(t, w.dir, "rev-parse", "HEAD")
	git(t, w.dir, "remote", "add", "origin", w.origin)

	var host string
	host, w.rec = registrytest.Record(t)
	w.repo = host + "/pssp/api"
	w.image = registrytest.Push(t, w.repo, labelled(t, ""))
	w.fixtures["new"] = w.image
	w.summary = filepath.Join(root, "summary.md")
	if err := os.WriteFile(w.summary, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return w
}

func labelled(t *testing.T, version string) v1.Image {
	t.Helper()
	img, err := random.Image(512, 2)
	if err != nil {
		t.Fatal(err)
	}
	if version != "" {
		if img, err = mutate.Config(img, v1.Config{Labels: map[string]string{release.VersionLabel: version}}); err != nil {
			t.Fatal(err)
		}
	}
	return img
}

// tag points an image tag at a fixture: "new" (the built image) or an
// image labelled with the given version.
func (w *world) tag(tag, fixture string) {
	t := w.t
	t.Helper()
	if pinned, ok := w.fixtures[fixture]; ok {
		d, _ := name.NewDigest(pinned)
		desc, err := remote.Get(d)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Tag(d.Context().Tag(tag), desc); err != nil {
			t.Fatal(err)
		}
		return
	}
	w.fixtures[fixture] = registrytest.Push(t, w.repo+":"+tag, labelled(t, fixture))
}

// tags returns every image tag and the fixture it names.
func (w *world) tags() map[string]string {
	t := w.t
	t.Helper()
	byDigest := map[string]string{}
	for f, pinned := range w.fixtures {
		byDigest[pinned[strings.Index(pinned, "@")+1:]] = f
	}
	r, _ := name.NewRepository(w.repo)
	tags, err := remote.List(r)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, tag := range tags {
		d, err := remote.Head(r.Tag(tag))
		if err != nil {
			t.Fatal(err)
		}
		out[tag] = byDigest[d.Digest.String()]
	}
	return out
}

func (w *world) expand(s string) string {
	return strings.NewReplacer("$HEAD", w.head, "$FIRST", w.first, "$REPO", w.repo, "$IMAGE", w.image, "$DIGEST", w.image[strings.Index(w.image, "@")+1:]).Replace(s)
}

type result struct {
	code           int
	stdout, stderr string
	outputs        map[string]string
}

// run runs tag-sync in the world with --spec, --git-dir and --output json
// added to args.
func (w *world) run(env map[string]string, args ...string) result {
	t := w.t
	t.Helper()
	full := map[string]string{}
	for k, v := range env {
		full[k] = w.expand(v)
	}
	if w.github != nil {
		full["GITHUB_API_URL"] = w.github.URL
	}
	var expanded []string
	for _, a := range args {
		expanded = append(expanded, w.expand(a))
	}
	r := steptest.Run(t, Definition, Run, full, append([]string{"--spec", filepath.Join(w.dir, "driftless.yaml"), "--git-dir", w.dir, "--output", "json"}, expanded...)...)
	res := result{code: r.Code, stdout: r.Stdout, stderr: r.Stderr}
	res.outputs = steptest.Outputs(t, r.Stdout)
	delete(res.outputs, "error")
	delete(res.outputs, "exitCode")
	return res
}

// leaks reports whether the token appears anywhere but in the add-mask
// command that hides it from GitHub's logs.
func leaks(r result) bool {
	out := strings.ReplaceAll(r.stdout, "::add-mask::s3cret-token\n", "")
	return strings.Contains(out+r.stderr, "s3cret-token")
}

func gitHubEnv(ref string) map[string]string {
	return map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_REF": ref, "GITHUB_SHA": "$HEAD", "GITHUB_REPOSITORY": "o/r", "GITHUB_TOKEN": "s3cret-token"}
}

const standard = "versioning: {floating: [minor, major]}\n"

func TestTagSync(t *testing.T) {
	t.Parallel()
	type tagIs struct{ Tag, Fixture string }
	for _, tc := range []struct {
		name       string
		versioning string
		gitTags    map[string]string // tag → $HEAD or $FIRST
		annotated  bool
		env        map[string]string
		args       []string
		existing   []tagIs
		code       int
		stderr     []string
		outputs    map[string]string
		after      map[string]string // image tag → fixture, every tag
	}{
		{
			name:    "local tag at HEAD: version and floating tags created",
			gitTags: map[string]string{"v1.2.3": "$HEAD"}, args: []string{"--image", "$IMAGE"},
			outputs: map[string]string{"version": "v1.2.3", "tags": "v1.2.3,v1.2,v1", "image": "$IMAGE"},
			after:   map[string]string{"v1.2.3": "new", "v1.2": "new", "v1": "new"},
			stderr:  []string{"tag-sync: git tag v1.2.3 at $HEAD: exists in the local repository", "tag-sync: $REPO:v1.2.3 → $DIGEST: created"},
		},
		{
			name:    "annotated tag on GitHub",
			gitTags: map[string]string{"v1.2.3": "$HEAD"}, annotated: true, env: gitHubEnv("refs/tags/v1.2.3"), args: []string{"--image", "$IMAGE"},
			outputs: map[string]string{"version": "v1.2.3", "tags": "v1.2.3,v1.2,v1", "image": "$IMAGE"},
			after:   map[string]string{"v1.2.3": "new", "v1.2": "new", "v1": "new"},
		},
		{
			name:    "version tag names another digest: refused, nothing moves",
			gitTags: map[string]string{"v1.2.3": "$HEAD"}, env: gitHubEnv("refs/tags/v1.2.3"), args: []string{"--image", "$IMAGE"},
			existing: []tagIs{{"v1.2.2", "v1.2.2"}, {"v1.2", "v1.2.2"}, {"v1", "v1.2.2"}, {"v1.2.3", "v1.2.3"}},
			code:     1, stderr: []string{"tag-sync: image tag $REPO:v1.2.3 already names sha256:", "version tags are immutable, so nothing was tagged (floating tags neither)"},
			outputs: map[string]string{"version": "v1.2.3"},
			after:   map[string]string{"v1.2.2": "v1.2.2", "v1.2": "v1.2.2", "v1": "v1.2.2", "v1.2.3": "v1.2.3"},
		},
		{
			name:    "tag not at the built commit",
			gitTags: map[string]string{"v1.2.3": "$FIRST"}, env: gitHubEnv("refs/tags/v1.2.3"), args: []string{"--image", "$IMAGE"},
			code: 1, stderr: []string{`git tag "v1.2.3" points at commit $FIRST, not at the commit being built ($HEAD)`},
			outputs: map[string]string{"version": "v1.2.3"}, after: map[string]string{},
		},
		{
			name: "not semver", env: gitHubEnv("refs/tags/release-7"), args: []string{"--image", "$IMAGE"},
			code: 1, stderr: []string{`git tag "release-7" is not a release: release tags start with the prefix "v"`},
			after: map[string]string{},
		},
		{
			name: "short version", env: gitHubEnv("refs/tags/v1.2"), args: []string{"--image", "$IMAGE"},
			code: 1, stderr: []string{`git tag "v1.2" is not a release: versioning.gitTag is semver`},
			after: map[string]string{},
		},
		{
			name: "latest", env: gitHubEnv("refs/tags/latest"), args: []string{"--image", "$IMAGE"},
			code: 1, stderr: []string{`refusing "latest" as a release`}, after: map[string]string{},
		},
		{
			name: "explicit latest", gitTags: map[string]string{"v1.2.3": "$HEAD"}, args: []string{"--image", "$IMAGE", "--release", "latest"},
			code: 1, stderr: []string{`refusing "latest" as a release`}, after: map[string]string{},
		},
		{
			name: "branch build on GitHub", env: gitHubEnv("refs/heads/main"), args: []string{"--image", "$IMAGE"},
			code: 1, stderr: []string{`refusing a branch build: this run builds branch "main" (commit $HEAD)`}, after: map[string]string{},
		},
		{
			name: "branch build on GitLab", env: map[string]string{"GITLAB_CI": "true", "CI_COMMIT_BRANCH": "main", "CI_COMMIT_SHA": "$HEAD"}, args: []string{"--image", "$IMAGE"},
			code: 1, stderr: []string{`refusing a branch build: this run builds branch "main"`}, after: map[string]string{},
		},
		{
			name: "local branch without a tag", args: []string{"--image", "$IMAGE"},
			code: 1, stderr: []string{`refusing a branch build`}, after: map[string]string{},
		},
		{
			name: "pull request", env: gitHubEnv("refs/pull/7/merge"), args: []string{"--image", "$IMAGE"},
			code: 1, stderr: []string{`no release tag: this run builds refs/pull/7/merge, not a tag`}, after: map[string]string{},
		},
		{
			name:    "pre-release: version tag only",
			gitTags: map[string]string{"v1.3.0-rc.1": "$HEAD"}, env: gitHubEnv("refs/tags/v1.3.0-rc.1"), args: []string{"--image", "$IMAGE"},
			existing: []tagIs{{"v1.2", "v1.2.3"}, {"v1", "v1.2.3"}},
			outputs:  map[string]string{"version": "v1.3.0-rc.1", "tags": "v1.3.0-rc.1", "image": "$IMAGE"},
			stderr:   []string{"tag-sync: v1.3.0-rc.1 is a pre-release: floating tags (minor, major) stay where they are"},
			after:    map[string]string{"v1.3.0-rc.1": "new", "v1.2": "v1.2.3", "v1": "v1.2.3"},
		},
		{
			name:       "pre-release denied",
			versioning: "versioning: {floating: [minor, major], prerelease: deny}\n",
			gitTags:    map[string]string{"v1.3.0-rc.1": "$HEAD"}, env: gitHubEnv("refs/tags/v1.3.0-rc.1"), args: []string{"--image", "$IMAGE"},
			code: 1, stderr: []string{`git tag "v1.3.0-rc.1" is a pre-release and versioning.prerelease is deny`}, after: map[string]string{},
		},
		{
			name:    "older release after a newer one",
			gitTags: map[string]string{"v1.2.4": "$HEAD"}, env: gitHubEnv("refs/tags/v1.2.4"), args: []string{"--image", "$IMAGE"},
			existing: []tagIs{{"v1.2.3", "v1.2.3"}, {"v1.2", "v1.2.3"}, {"v1.3.0", "v1.3.0"}, {"v1.3", "v1.3.0"}, {"v1", "v1.3.0"}},
			outputs:  map[string]string{"version": "v1.2.4", "tags": "v1.2.4,v1.2", "image": "$IMAGE"},
			stderr:   []string{"tag-sync: $REPO:v1.2 → $DIGEST: moved from v1.2.3", "tag-sync: $REPO:v1 → sha256:", ": kept at v1.3.0"},
			after:    map[string]string{"v1.2.3": "v1.2.3", "v1.2": "new", "v1.3.0": "v1.3.0", "v1.3": "v1.3.0", "v1": "v1.3.0", "v1.2.4": "new"},
		},
		{
			name:    "build metadata",
			gitTags: map[string]string{"v1.2.3+build.5": "$HEAD"}, env: gitHubEnv("refs/tags/v1.2.3+build.5"), args: []string{"--image", "$IMAGE"},
			outputs: map[string]string{"version": "v1.2.3+build.5", "tags": "v1.2.3_build.5,v1.2,v1", "image": "$IMAGE"},
			after:   map[string]string{"v1.2.3_build.5": "new", "v1.2": "new", "v1": "new"},
		},
		{
			name:       "prefix and latest",
			versioning: "versioning: {prefix: release-, floating: [minor, latest]}\n",
			gitTags:    map[string]string{"release-2.0.0": "$HEAD"}, env: gitHubEnv("refs/tags/release-2.0.0"), args: []string{"--image", "$IMAGE"},
			existing: []tagIs{{"latest", "release-1.9.0"}},
			outputs:  map[string]string{"version": "release-2.0.0", "tags": "release-2.0.0,release-2.0,latest", "image": "$IMAGE"},
			after:    map[string]string{"latest": "new", "release-2.0": "new", "release-2.0.0": "new"},
		},
		{
			name: "shallow checkout on GitHub: the CI context is trusted", env: gitHubEnv("refs/tags/v1.2.3"), args: []string{"--image", "$IMAGE"},
			stderr:  []string{"tag-sync: git tag v1.2.3 is not in the local repository; trusting GITHUB_REF that it names the commit being built ($HEAD)"},
			outputs: map[string]string{"version": "v1.2.3", "tags": "v1.2.3,v1.2,v1", "image": "$IMAGE"},
			after:   map[string]string{"v1.2.3": "new", "v1.2": "new", "v1": "new"},
		},
		{
			name: "GitLab tag pipeline", env: map[string]string{"GITLAB_CI": "true", "CI_COMMIT_TAG": "v1.2.3", "CI_COMMIT_SHA": "$HEAD"}, args: []string{"--image", "$IMAGE"},
			stderr:  []string{"trusting CI_COMMIT_TAG that it names the commit being built"},
			outputs: map[string]string{"version": "v1.2.3", "tags": "v1.2.3,v1.2,v1", "image": "$IMAGE"},
			after:   map[string]string{"v1.2.3": "new", "v1.2": "new", "v1": "new"},
		},
		{
			name: "explicit release that Git does not have", env: gitHubEnv("refs/heads/main"), args: []string{"--image", "$IMAGE", "--release", "v1.2.3"},
			code: 1, stderr: []string{`git tag "v1.2.3" does not exist in the local repository, and it is not the tag being built (refs/heads/main)`, "or pass --create-git-tag"},
			outputs: map[string]string{"version": "v1.2.3"}, after: map[string]string{},
		},
		{
			name:    "explicit release overrides the CI tag",
			gitTags: map[string]string{"v1.2.3": "$FIRST", "v1.2.4": "$HEAD"}, env: gitHubEnv("refs/tags/v1.2.3"), args: []string{"--image", "$IMAGE", "--release", "v1.2.4"},
			outputs: map[string]string{"version": "v1.2.4", "tags": "v1.2.4,v1.2,v1", "image": "$IMAGE"},
			after:   map[string]string{"v1.2.4": "new", "v1.2": "new", "v1": "new"},
		},
		{
			name: "image not pinned by digest", gitTags: map[string]string{"v1.2.3": "$HEAD"}, args: []string{"--image", "$REPO:v1"},
			code: 2, stderr: []string{`input "image": "$REPO:v1" is not an image pinned by digest`}, after: map[string]string{},
		},
		{
			name: "no image", gitTags: map[string]string{"v1.2.3": "$HEAD"},
			code: 2, stderr: []string{`input "image" is empty`}, after: map[string]string{},
		},
		{
			name: "image not in the registry", gitTags: map[string]string{"v1.2.3": "$HEAD"}, args: []string{"--image", "$REPO@sha256:" + strings.Repeat("0", 64)},
			code: 2, stderr: []string{"does not exist: tag-sync tags an image already pushed by digest"}, outputs: map[string]string{"version": "v1.2.3"}, after: map[string]string{},
		},
		{
			name: "registry unreachable", gitTags: map[string]string{"v1.2.3": "$HEAD"}, args: []string{"--image", "127.0.0.1:1/pssp/api@$DIGEST"},
			code: 2, stderr: []string{"tag-sync: reading image 127.0.0.1:1/pssp/api@$DIGEST: ", "connection refused"}, outputs: map[string]string{"version": "v1.2.3"}, after: map[string]string{},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			versioning := tc.versioning
			if versioning == "" {
				versioning = standard
			}
			w := newWorld(t, versioning)
			for tag, at := range tc.gitTags {
				if tc.annotated {
					git(t, w.dir, "tag", "-a", "-m", "release", tag, w.expand(at))
				} else {
					git(t, w.dir, "tag", tag, w.expand(at))
				}
			}
			for _, e := range tc.existing {
				w.tag(e.Tag, e.Fixture)
			}
			r := w.run(tc.env, tc.args...)
			if r.code != tc.code {
				t.Fatalf("exit %d, want %d\nstderr:\n%s", r.code, tc.code, r.stderr)
			}
			for _, s := range tc.stderr {
				if !strings.Contains(r.stderr, w.expand(s)) {
					t.Errorf("stderr lacks %q:\n%s", w.expand(s), r.stderr)
				}
			}
			want := map[string]string{}
			for k, v := range tc.outputs {
				want[k] = w.expand(v)
			}
			if v, ok := want["version"]; ok {
				want["release"] = v // the same value, for the next steps' release input
			}
			if diff := cmp.Diff(want, r.outputs); diff != "" {
				t.Errorf("outputs (-want +got)\n%s", diff)
			}
			if diff := cmp.Diff(tc.after, w.tags()); diff != "" {
				t.Errorf("image tags afterwards (-want +got)\n%s", diff)
			}
			if leaks(r) {
				t.Error("the token was printed")
			}
		})
	}
}

// TestRerunAndSummary runs a release twice on GitHub: the second run
// confirms every tag and writes nothing, and neither run moves a blob.
func TestRerunAndSummary(t *testing.T) {
	t.Parallel()
	w := newWorld(t, standard)
	git(t, w.dir, "tag", "v1.2.3", w.head)
	w.rec.Reset()
	env := gitHubEnv("refs/tags/v1.2.3")
	env["GITHUB_STEP_SUMMARY"] = w.summary
	for i, want := range []string{"created", "confirmed"} {
		if err := os.WriteFile(w.summary, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		r := w.run(env, "--image", "$IMAGE")
		if r.code != 0 {
			t.Fatalf("run %d: exit %d\n%s", i+1, r.code, r.stderr)
		}
		summary, _ := os.ReadFile(w.summary)
		wantSummary := w.expand("### tag-sync\n\n| | |\n|---|---|\n| version | `v1.2.3` |\n| git tag | `v1.2.3` at `$HEAD`: exists in the local repository |\n| image | `$IMAGE` |\n\n| tag | digest | action |\n|---|---|---|\n" +
			"| `$REPO:v1.2.3` | `$DIGEST` | " + want + " |\n| `$REPO:v1.2` | `$DIGEST` | " + want + " |\n| `$REPO:v1` | `$DIGEST` | " + want + " |\n\n")
		if diff := cmp.Diff(wantSummary, string(summary)); diff != "" {
			t.Errorf("run %d: summary (-want +got)\n%s", i+1, diff)
		}
		var puts []string
		for _, req := range w.rec.Requests() {
			switch {
			case req.IsBlob():
				t.Errorf("run %d: %s: tagging transfers no blob", i+1, req)
			case req.Method == http.MethodPut:
				puts = append(puts, req.Path)
			case req.Method != http.MethodGet && req.Method != http.MethodHead:
				t.Errorf("run %d: unexpected %s", i+1, req)
			}
		}
		var wantPuts []string
		if i == 0 {
			wantPuts = []string{"/v2/pssp/api/manifests/v1.2.3", "/v2/pssp/api/manifests/v1.2", "/v2/pssp/api/manifests/v1"}
		}
		if diff := cmp.Diff(wantPuts, puts); diff != "" {
			t.Errorf("run %d: manifest PUTs (-want +got)\n%s", i+1, diff)
		}
		w.rec.Reset()
	}
	// Text mode prints the tags that name the image, one per line.
	r := steptest.Run(t, Definition, Run, map[string]string{}, "--spec", filepath.Join(w.dir, "driftless.yaml"), "--git-dir", w.dir, "--image", w.image)
	if r.Code != 0 || r.Stdout != w.expand("$REPO:v1.2.3\n$REPO:v1.2\n$REPO:v1\n") {
		t.Errorf("exit %d, stdout:\n%s\nstderr:\n%s", r.Code, r.Stdout, r.Stderr)
	}
}

func TestCreateGitTagOnGitHub(t *testing.T) {
	t.Parallel()
	const other = "2222222222222222222222222222222222222222"
	for _, tc := range []struct {
		name     string
		remote   string // commit the tag names on GitHub beforehand; "" none
		code     int
		stderr   string
		creates  int
		after    map[string]string
		gitState string
	}{
		{name: "created", creates: 1, gitState: "created on GitHub o/r", after: map[string]string{"v1.2.3": "new", "v1.2": "new", "v1": "new"}},
		{name: "exists at the commit", remote: "$HEAD", gitState: "exists on GitHub o/r", after: map[string]string{"v1.2.3": "new", "v1.2": "new", "v1": "new"}},
		{name: "exists at another commit", remote: other, code: 1, stderr: `git tag "v1.2.3" already exists on GitHub o/r on commit ` + other + `, not on the commit being built ($HEAD)`, after: map[string]string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, standard)
			w.github = githubtest.New(t, "o", "r", "s3cret-token")
			if tc.remote != "" {
				w.github.SetTag("v1.2.3", w.expand(tc.remote))
			}
			r := w.run(gitHubEnv("refs/heads/main"), "--image", "$IMAGE", "--release", "v1.2.3", "--create-git-tag")
			if r.code != tc.code {
				t.Fatalf("exit %d, want %d\n%s", r.code, tc.code, r.stderr)
			}
			if tc.stderr != "" && !strings.Contains(r.stderr, w.expand(tc.stderr)) {
				t.Errorf("stderr lacks %q:\n%s", w.expand(tc.stderr), r.stderr)
			}
			if tc.gitState != "" && !strings.Contains(r.stderr, "tag-sync: git tag v1.2.3 at "+w.head+": "+tc.gitState) {
				t.Errorf("stderr lacks the git tag's state %q:\n%s", tc.gitState, r.stderr)
			}
			var creates []githubtest.Request
			for _, req := range w.github.Requests() {
				if req.Auth != "Bearer s3cret-token" {
					t.Errorf("%s %s: Authorization %q", req.Method, req.Path, req.Auth)
				}
				if req.Method == http.MethodPost {
					creates = append(creates, req)
				}
			}
			var wantCreates []githubtest.Request
			if tc.creates > 0 {
				wantCreates = []githubtest.Request{{Method: "POST", Path: "/repos/o/r/git/refs", Auth: "Bearer s3cret-token", Body: `{"ref":"refs/tags/v1.2.3","sha":"` + w.head + `"}`}}
			}
			if diff := cmp.Diff(wantCreates, creates); diff != "" {
				t.Errorf("creates (-want +got)\n%s", diff)
			}
			if diff := cmp.Diff(tc.after, w.tags()); diff != "" {
				t.Errorf("image tags afterwards (-want +got)\n%s", diff)
			}
			if leaks(r) {
				t.Error("the token was printed")
			}
		})
	}
}

func TestCreateGitTagNeedsToken(t *testing.T) {
	t.Parallel()
	w := newWorld(t, standard)
	env := gitHubEnv("refs/heads/main")
	delete(env, "GITHUB_TOKEN")
	r := w.run(env, "--image", "$IMAGE", "--release", "v1.2.3", "--create-git-tag")
	if r.code != 2 || !strings.Contains(r.stderr, `creating git tag "v1.2.3" through the GitHub API needs a token`) {
		t.Errorf("exit %d:\n%s", r.code, r.stderr)
	}
}

func TestCreateGitTagLocally(t *testing.T) {
	t.Parallel()
	w := newWorld(t, standard)
	// The first run creates and pushes the tag, the second finds it.
	for i, state := range []string{"created on remote origin", "exists on remote origin"} {
		r := w.run(nil, "--image", "$IMAGE", "--release", "v1.2.3", "--create-git-tag")
		if r.code != 0 {
			t.Fatalf("run %d: exit %d\n%s", i+1, r.code, r.stderr)
		}
		if !strings.Contains(r.stderr, "tag-sync: git tag v1.2.3 at "+w.head+": "+state) {
			t.Errorf("run %d: stderr lacks %q:\n%s", i+1, state, r.stderr)
		}
		for _, repo := range []string{w.dir, w.origin} {
			if got := git(t, repo, "rev-parse", "v1.2.3^{commit}"); got != w.head {
				t.Errorf("run %d: %s: v1.2.3 is at %s, want %s", i+1, repo, got, w.head)
			}
		}
	}
	if diff := cmp.Diff(map[string]string{"v1.2.3": "new", "v1.2": "new", "v1": "new"}, w.tags()); diff != "" {
		t.Errorf("image tags (-want +got)\n%s", diff)
	}

	// A tag on another commit of the remote refuses, and tags nothing.
	git(t, w.dir, "tag", "v1.2.4", w.first)
	git(t, w.dir, "push", "--quiet", "origin", "v1.2.4")
	git(t, w.dir, "tag", "-d", "v1.2.4")
	r := w.run(nil, "--image", "$IMAGE", "--release", "v1.2.4", "--create-git-tag")
	if r.code != 1 || !strings.Contains(r.stderr, `git tag "v1.2.4" already exists on remote origin on commit `+w.first) {
		t.Errorf("exit %d:\n%s", r.code, r.stderr)
	}
	tags := w.tags()
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if diff := cmp.Diff([]string{"v1", "v1.2", "v1.2.3"}, keys); diff != "" {
		t.Errorf("a refused run changed image tags (-want +got)\n%s", diff)
	}
	if _, ok := (release.Git{Dir: w.dir}).TagCommit(t.Context(), "v1.2.4"); ok {
		t.Error("a refused run created the local tag")
	}
}

// Only the git tag, no image.
func TestCreateGitTagWithoutImage(t *testing.T) {
	t.Parallel()
	w := newWorld(t, standard)
	w.github = githubtest.New(t, "o", "r", "s3cret-token")
	r := w.run(gitHubEnv("refs/heads/main"), "--release", "v1.2.3", "--create-git-tag")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	if typ, sha := w.github.Tag("v1.2.3"); typ != "commit" || sha != w.head {
		t.Errorf("refs/tags/v1.2.3 names %s %s, want commit %s", typ, sha, w.head)
	}
	if diff := cmp.Diff(map[string]string{"version": "v1.2.3", "release": "v1.2.3"}, r.outputs); diff != "" {
		t.Errorf("outputs (-want +got)\n%s", diff)
	}
}
