package e2e

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"sigs.k8s.io/yaml"

	"github.com/driftless-dev/driftless/internal/apply"
	"github.com/driftless-dev/driftless/internal/cluster/clustertest"
	"github.com/driftless-dev/driftless/internal/configrev"
	"github.com/driftless-dev/driftless/internal/githubtest"
	"github.com/driftless-dev/driftless/internal/registry/registrytest"
	"github.com/driftless-dev/driftless/internal/testtool"
)

// quickstartFiles are the files README.md's "Quickstart: your own service"
// tells a newcomer to add, each a fenced block marked
// <!-- quickstart: PATH -->.
var quickstartFiles = []string{
	"driftless.yaml",
	"k8s/kustomization.yaml",
	"k8s/deployment.yaml",
	"k8s/service.yaml",
	"kustomize/overlays/test/kustomization.yaml",
	"kustomize/overlays/prod/kustomization.yaml",
	".github/workflows/deploy.yml",
}

// TestAdoptQuickstart adopts driftless in a team's own repository by
// following the README's quickstart literally: the team's Go service
// (testdata/adopt: its own go.mod, main.go and static configuration) gets
// the quickstart's files, taken from README.md with only the values a user
// fills in changed — the registry, the base image, the namespaces, the
// URLs — and a tag v1.0.0. nektos/act runs the quickstart's workflow for
// the tag push as GitHub would: the workflow's own `go build`, then every
// driftless action at @v1, through test and its smoke test to prod, on the
// local cluster and registry, with a fake GitHub API whose `production`
// environment requires reviewers and release tags (prod's approval: github
// gate asks it). The smoke URL is the baked image itself: its entrypoint,
// from its own filesystem, run on 127.0.0.1 as soon as the image is tagged.
func TestAdoptQuickstart(t *testing.T) {
	if testing.Short() {
		t.Skip("runs act: tens of seconds")
	}
	root := testtool.Root(t)
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := quickstartBlocks(t, readme)
	checkWorkflow(t, root, blocks[".github/workflows/deploy.yml"])

	act, bin, c, clients, kubeconfig := actSetup(t)
	testNS := clustertest.Namespace(t, c)
	prodNS := clustertest.Namespace(t, c)
	host := registrytest.New(t)
	baseImg, err := random.Image(512, 1)
	if err != nil {
		t.Fatal(err)
	}
	// Pinned as the quickstart says: the base's reference, then @sha256:….
	_, baseDigest, _ := strings.Cut(registrytest.Push(t, host+"/distroless/static-debian12:nonroot", baseImg), "@")
	base := host + "/distroless/static-debian12:nonroot@" + baseDigest

	const token = "ghs_adopt"
	gh := githubtest.New(t, "acme", "hello", token)
	gh.SetEnvironment(githubtest.Environment{Name: "test"})
	gh.SetEnvironment(githubtest.Environment{
		Name:         "production",
		Reviewers:    []githubtest.Reviewer{{Type: "User", Name: "octocat"}},
		BranchPolicy: &githubtest.BranchPolicy{CustomBranchPolicies: true},
		Policies:     []githubtest.Policy{{Name: "v*", Type: "tag"}},
	})

	release := host + "/acme/hello:v1.0.0"
	svc := serveBaked(t, release)

	// What a user fills in, in the order it is replaced (the URLs hold
	// the namespaces' names).
	fills := []struct{ file, readme, ours string }{
		{"driftless.yaml", "ghcr.io/acme/hello", host + "/acme/hello"},
		{"driftless.yaml", "gcr.io/distroless/static-debian12:nonroot", base},
		{"driftless.yaml", "https://hello-test.example.com", svc.URL},
		{"driftless.yaml", "https://hello.example.com", svc.URL},
		{"driftless.yaml", "hello-test", testNS},
		{"driftless.yaml", "hello-prod", prodNS},
		{"kustomize/overlays/test/kustomization.yaml", "hello-test", testNS},
		{"kustomize/overlays/prod/kustomization.yaml", "hello-prod", prodNS},
	}
	for _, f := range fills {
		if !strings.Contains(blocks[f.file], f.readme) {
			t.Fatalf("README.md's quickstart %s no longer holds %q, which the test fills in with %q: update the test's fills", f.file, f.readme, f.ours)
		}
		blocks[f.file] = strings.ReplaceAll(blocks[f.file], f.readme, f.ours)
	}

	repo := t.TempDir()
	copyTree(t, filepath.Join(root, "e2e", "testdata", "adopt"), repo)
	for _, p := range quickstartFiles {
		write(t, filepath.Join(repo, filepath.FromSlash(p)), blocks[p])
	}
	write(t, filepath.Join(repo, ".gitignore"), "bin/\n")
	git := gitIn(t, repo)
	git("init", "-q", "-b", "main")
	// act names the repository after origin's URL; git itself is sent to a
	// local bare repository instead, so no step can reach a remote host.
	git("remote", "add", "origin", "https://github.com/acme/hello.git")
	bare := t.TempDir()
	git("init", "-q", "--bare", bare)
	git("config", "url.file://"+bare+".insteadOf", "https://github.com/acme/hello.git")
	git("add", "-A")
	git("commit", "-q", "-m", "hello, deployed by driftless")
	git("tag", "v1.0.0")
	sha := git("rev-parse", "HEAD")
	gh.SetTag("v1.0.0", sha)

	// The workflow's remote actions, as act resolves them here: driftless
	// at @v1 is this checkout's actions (install.sh takes the binaries from
	// DRIFTLESS_BIN_DIR), and actions/setup-go stands aside, Go being on
	// this runner already. actions/checkout is act's own copy of the
	// repository.
	driftless := t.TempDir()
	copyTree(t, filepath.Join(root, "actions"), filepath.Join(driftless, "actions"))
	copyTree(t, filepath.Join(root, "action.yml"), filepath.Join(driftless, "action.yml"))
	setupGo := t.TempDir()
	write(t, filepath.Join(setupGo, "action.yml"), `name: setup-go (stand-in)
description: Go is installed on this runner already.
inputs:
  go-version-file: {description: unused}
runs:
  using: composite
  steps:
    - run: go version
      shell: bash
`)

	event := filepath.Join(t.TempDir(), "event.json")
	ev, _ := json.Marshal(map[string]any{
		"ref": "refs/tags/v1.0.0", "after": sha, "before": strings.Repeat("0", 40),
		"repository": map[string]any{"full_name": "acme/hello", "default_branch": "main"},
	})
	if err := os.WriteFile(event, ev, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, act, "push",
		"--eventpath", event,
		"--workflows", ".github/workflows/deploy.yml",
		"-P", "ubuntu-latest=-self-hosted",
		"--action-cache-path", t.TempDir(),
		"--no-cache-server", // it would listen on the outbound address, not 127.0.0.1
		"--local-repository", "driftless-dev/driftless@v1="+driftless,
		"--local-repository", "actions/setup-go@v5="+setupGo,
		// act would name the repository after origin's rewritten URL.
		"--env", "GITHUB_REPOSITORY=acme/hello",
		"--env", "GITHUB_API_URL="+gh.URL,
		"--secret", "KUBECONFIG="+string(kubeconfig),
		"--secret", "GITHUB_TOKEN="+token,
	)
	cmd.Dir = repo
	cmd.Env = append(os.Environ(),
		"ACT_DISABLE_VERSION_CHECK=1",
		"DRIFTLESS_BIN_DIR="+bin,
		"XDG_CONFIG_HOME="+t.TempDir(), // no user actrc
	)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	t.Logf("act push v1.0.0: %v, %s", time.Since(start).Round(10*time.Millisecond), exitOf(err))
	if dir := os.Getenv("DRIFTLESS_ACT_LOG"); dir != "" { // keep act's output to read
		if err := os.WriteFile(filepath.Join(dir, "adopt.log"), out, 0o644); err != nil {
			t.Error(err)
		}
	}
	if err != nil {
		t.Fatalf("act: %v (service: %v)\n%s", err, svc.Err(), out)
	}

	// prod runs what test verified: one release each, the same digest, the
	// one tagged v1.0.0, built from the tagged commit.
	ref, err := name.ParseReference(release)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(ref, remote.WithContext(t.Context()))
	if err != nil {
		t.Fatal(err)
	}
	digest, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	history := func(env, ns string) []*apply.ReleaseRecord {
		rs, err := apply.History(t.Context(), clients, apply.Owner{Pipeline: "hello", Env: env, Namespace: ns}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return rs
	}
	test, prod := history("test", testNS), history("prod", prodNS)
	if len(test) != 1 || len(prod) != 1 || prod[0].Digest != test[0].Digest || !strings.HasSuffix(prod[0].Digest, digest.String()) ||
		prod[0].Status != apply.StatusDeployed || prod[0].Version != "v1.0.0" || prod[0].GitSHA != sha {
		t.Fatalf("test releases %s, prod %s; want one each of %s, v1.0.0 at %s\n%s", releases(test), releases(prod), digest, sha, out)
	}

	// The running service reports the version the workflow's build stamped
	// and the configuration revision bake-image labelled the image with,
	// which is the repository's static/ as driftless hashes it.
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	label := cf.Config.Labels["dev.driftless.config-revision"]
	want, err := configrev.Dir(filepath.Join(repo, "static"))
	if err != nil {
		t.Fatal(err)
	}
	live := svc.Version(t)
	if live.Version != "v1.0.0" || live.ConfigRevision != label || label != want {
		t.Fatalf("service reports %+v; image label %s, static/ %s", live, label, want)
	}
	// The source label links a ghcr.io package to the repository.
	for k, v := range map[string]string{
		"org.opencontainers.image.version":  "v1.0.0",
		"org.opencontainers.image.revision": sha,
		"org.opencontainers.image.source":   "https://github.com/acme/hello",
	} {
		if got := cf.Config.Labels[k]; got != v {
			t.Errorf("image label %s = %q, want %q", k, got, v)
		}
	}

	// GitHub saw one deployment per environment, for the tagged commit,
	// ending in success; prod's approval gate read production's rules.
	deps := map[string]githubtest.Deployment{}
	for _, d := range gh.Deployments() {
		if _, dup := deps[d.Environment]; dup {
			t.Errorf("a second GitHub deployment for %s", d.Environment)
		}
		deps[d.Environment] = d
	}
	for _, env := range []string{"test", "production"} {
		d, ok := deps[env]
		if !ok || d.SHA != sha || len(d.Statuses) == 0 || d.Statuses[len(d.Statuses)-1].State != "success" {
			t.Errorf("GitHub deployment of %s: %+v", env, d)
		}
	}
	asked := false
	for _, r := range gh.Requests() {
		asked = asked || r.Method == "GET" && r.Path == "/repos/acme/hello/environments/production"
	}
	if !asked {
		t.Errorf("prod's approval gate never asked GitHub about the production environment; requests: %v", gh.Requests())
	}
}

// quickMarker marks a README block the test extracts: the comment, a
// blank line at most, then a fenced block.
var quickMarker = regexp.MustCompile("(?m)^<!-- quickstart: (\\S+) -->\\n\\n?```[a-z]*\\n((?s:.*?))^```$")

// quickstartBlocks returns the marked blocks of the README, by path; every
// one of quickstartFiles must be there, once.
func quickstartBlocks(t *testing.T, readme []byte) map[string]string {
	t.Helper()
	blocks := map[string]string{}
	for _, m := range quickMarker.FindAllSubmatch(readme, -1) {
		p := string(m[1])
		if _, dup := blocks[p]; dup {
			t.Fatalf("README.md marks two quickstart blocks %s", p)
		}
		if !slices.Contains(quickstartFiles, p) {
			t.Fatalf("README.md marks a quickstart block %s the test does not know; known: %s", p, strings.Join(quickstartFiles, ", "))
		}
		blocks[p] = string(m[2])
	}
	for _, p := range quickstartFiles {
		if _, ok := blocks[p]; !ok {
			t.Fatalf("README.md has no quickstart block %s (<!-- quickstart: %s --> before a fenced block)", p, p)
		}
	}
	return blocks
}

var (
	stepOutputRef  = regexp.MustCompile(`steps\.([a-z0-9_-]+)\.outputs\.([a-z0-9_-]+)`)
	needsOutputRef = regexp.MustCompile(`needs\.([a-z0-9_-]+)\.outputs\.([a-z0-9_-]+)`)
)

// checkWorkflow checks what act would let pass: every with: key of a
// driftless action is one of its inputs, and every output referred to
// exists (act gives an unknown input or output as empty, silently).
func checkWorkflow(t *testing.T, root, workflow string) {
	t.Helper()
	type action struct {
		Inputs  map[string]any `json:"inputs"`
		Outputs map[string]any `json:"outputs"`
	}
	var wf struct {
		Jobs map[string]struct {
			Outputs map[string]string `json:"outputs"`
			Steps   []struct {
				ID   string            `json:"id"`
				Uses string            `json:"uses"`
				With map[string]string `json:"with"`
			} `json:"steps"`
		} `json:"jobs"`
	}
	if err := yaml.Unmarshal([]byte(workflow), &wf); err != nil {
		t.Fatalf("README.md's quickstart workflow: %v", err)
	}
	var errs []error
	for job, j := range wf.Jobs {
		ids := map[string]action{}
		refs := slices.Collect(maps.Values(j.Outputs))
		for _, s := range j.Steps {
			for _, v := range s.With {
				refs = append(refs, v)
			}
			step, ok := strings.CutPrefix(s.Uses, "driftless-dev/driftless/actions/")
			if !ok {
				continue
			}
			step, _, _ = strings.Cut(step, "@")
			b, err := os.ReadFile(filepath.Join(root, "actions", step, "action.yml"))
			if err != nil {
				errs = append(errs, fmt.Errorf("job %s: %s: %w", job, s.Uses, err))
				continue
			}
			var a action
			if err := yaml.Unmarshal(b, &a); err != nil {
				t.Fatal(err)
			}
			for k := range s.With {
				if _, ok := a.Inputs[k]; !ok {
					errs = append(errs, fmt.Errorf("job %s: %s has no input %q", job, step, k))
				}
			}
			if s.ID != "" {
				ids[s.ID] = a
			}
		}
		for _, v := range refs {
			for _, m := range stepOutputRef.FindAllStringSubmatch(v, -1) {
				if a, ok := ids[m[1]]; !ok {
					errs = append(errs, fmt.Errorf("job %s: %s: no driftless step %q", job, m[0], m[1]))
				} else if _, ok := a.Outputs[m[2]]; !ok {
					errs = append(errs, fmt.Errorf("job %s: %s: the step has no output %q", job, m[0], m[2]))
				}
			}
			for _, m := range needsOutputRef.FindAllStringSubmatch(v, -1) {
				if _, ok := wf.Jobs[m[1]].Outputs[m[2]]; !ok {
					errs = append(errs, fmt.Errorf("job %s: %s: job %s has no output %q", job, m[0], m[1], m[2]))
				}
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("README.md's quickstart workflow:\n%v", err)
	}
}

// bakedService is what the quickstart's smoke URL reaches here. Under KWOK
// no container runs, so a proxy on 127.0.0.1 answers 503 until the image
// is in the registry, then forwards to the image's own entrypoint run on
// this host from the image's own filesystem, with the image's environment
// (STATIC_DIR, the service's setting, moved under that filesystem).
type bakedService struct {
	URL string

	mu    sync.Mutex
	proxy http.Handler
	err   error
	log   bytes.Buffer
}

// serveBaked starts the proxy and, in the background, waits for ref.
func serveBaked(t *testing.T, ref string) *bakedService {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	s := &bakedService{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		s.mu.Lock()
		p, err := s.proxy, s.err
		s.mu.Unlock()
		switch {
		case err != nil:
			http.Error(w, err.Error(), http.StatusBadGateway)
		case p == nil:
			http.Error(w, "the image's service is not running yet", http.StatusServiceUnavailable)
		default:
			p.ServeHTTP(w, req)
		}
	}))
	s.URL = srv.URL
	rootfs := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan func(), 1) // stops the service, once started
	go func() {
		var img v1.Image
		for {
			var err error
			if img, err = remote.Image(r, remote.WithContext(ctx)); err == nil {
				break
			}
			select {
			case <-ctx.Done():
				done <- func() {}
				return
			case <-time.After(200 * time.Millisecond):
			}
		}
		stop, err := s.start(ctx, img, rootfs)
		s.mu.Lock()
		s.err = err
		s.mu.Unlock()
		done <- stop
	}()
	t.Cleanup(func() {
		cancel()
		(<-done)()
		srv.Close()
		if t.Failed() {
			s.mu.Lock()
			t.Logf("the baked service's log:\n%s", s.log.String())
			s.mu.Unlock()
		}
	})
	return s
}

var listening = regexp.MustCompile(`listening on (127\.0\.0\.1:\d+)`)

// start runs img's entrypoint from its filesystem, unpacked in rootfs, and
// points the proxy at it once it listens. stop ends it.
func (s *bakedService) start(ctx context.Context, img v1.Image, rootfs string) (stop func(), err error) {
	stop = func() {}
	if err := unpack(mutate.Extract(img), rootfs); err != nil {
		return stop, fmt.Errorf("unpacking the image: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return stop, err
	}
	argv := append(slices.Clone(cf.Config.Entrypoint), cf.Config.Cmd...)
	if len(argv) == 0 {
		return stop, errors.New("the image has no entrypoint")
	}
	cmd := exec.Command(filepath.Join(rootfs, argv[0]), argv[1:]...)
	for _, kv := range cf.Config.Env {
		if v, ok := strings.CutPrefix(kv, "STATIC_DIR="); ok {
			kv = "STATIC_DIR=" + filepath.Join(rootfs, v)
		}
		cmd.Env = append(cmd.Env, kv)
	}
	cmd.Env = append(cmd.Env, "ADDR=127.0.0.1:0")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return stop, err
	}
	if err := cmd.Start(); err != nil {
		return stop, err
	}
	addr := make(chan string, 1)
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			s.mu.Lock()
			s.log.WriteString(sc.Text() + "\n")
			s.mu.Unlock()
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
	}()
	stop = func() {
		cmd.Process.Kill()
		<-drained
		cmd.Wait()
	}
	select {
	case a := <-addr:
		u, _ := url.Parse("http://" + a)
		s.mu.Lock()
		s.proxy = httputil.NewSingleHostReverseProxy(u)
		s.mu.Unlock()
		return stop, nil
	case <-drained:
		return stop, errors.New("the image's service exited before it listened")
	case <-time.After(30 * time.Second):
		return stop, errors.New("the image's service did not listen within 30s")
	case <-ctx.Done():
		return stop, ctx.Err()
	}
}

// Err says why the image's service did not start, if it did not.
func (s *bakedService) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

type versionReport struct {
	Version        string `json:"version"`
	ConfigRevision string `json:"configRevision"`
}

// Version asks the running service GET /version.
func (s *bakedService) Version(t *testing.T) versionReport {
	t.Helper()
	resp, err := http.Get(s.URL + "/version")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v versionReport
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /version: %s, %v", resp.Status, err)
	}
	return v
}

// unpack writes the directories and regular files of a flattened image
// filesystem under dir; links and special files are not needed here.
func unpack(rc io.ReadCloser, dir string) error {
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		rel := filepath.Clean(strings.TrimPrefix(h.Name, "/"))
		if !filepath.IsLocal(rel) {
			continue
		}
		p := filepath.Join(dir, rel)
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(p, 0o755)
		case tar.TypeReg:
			if err = os.MkdirAll(filepath.Dir(p), 0o755); err == nil {
				var f *os.File
				if f, err = os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, h.FileInfo().Mode().Perm()|0o200); err == nil {
					_, err = io.Copy(f, tr)
					err = errors.Join(err, f.Close())
				}
			}
		}
		if err != nil {
			return err
		}
	}
}
