package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/driftless-dev/driftless/internal/apply"
	"github.com/driftless-dev/driftless/internal/cluster"
	"github.com/driftless-dev/driftless/internal/cluster/clustertest"
	"github.com/driftless-dev/driftless/internal/kube"
	"github.com/driftless-dev/driftless/internal/registry/registrytest"
	"github.com/driftless-dev/driftless/internal/smoke/smoketest"
	"github.com/driftless-dev/driftless/internal/testtool"
)

// TestActWorkflow runs .github/workflows/example-deploy.yml with nektos/act
// on this host (no Docker) for the tag v1.0.0 of a repository holding the
// workflow, the actions and a spec whose environments are namespaces of the
// test cluster, whose image goes to a registry on 127.0.0.1 and whose smoke
// checks hit the example service on 127.0.0.1. When the service reports the
// tag's version the release reaches prod; when it reports another, smoke-test
// fails in test and prod is never applied.
func TestActWorkflow(t *testing.T) {
	if testing.Short() {
		t.Skip("runs act: several seconds")
	}
	act, bin, c, clients, kubeconfig := actSetup(t)

	for _, tc := range []struct {
		name    string
		live    string // the version the example service reports
		reaches bool
	}{
		{"reaches-prod", "v1.0.0", true},
		{"smoke-fails", "v0.9.0", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testNS := clustertest.Namespace(t, c)
			prodNS := clustertest.Namespace(t, c)
			host := registrytest.New(t)
			base, _ := random.Image(256, 2)
			registrytest.Push(t, host+"/base/runtime:1", base)
			repo := t.TempDir()
			sha := actRepo(t, repo, host, testNS, prodNS, func(sha string) string {
				return smoketest.Start(t, smoketest.Options{Version: tc.live, GitSHA: sha, Static: filepath.Join(repo, "static")}).URL
			})

			runAct := func(name, eventName string, payload map[string]any) ([]byte, error) {
				event := filepath.Join(t.TempDir(), "event.json")
				ev, _ := json.Marshal(payload)
				if err := os.WriteFile(event, ev, 0o644); err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
				defer cancel()
				cmd := exec.CommandContext(ctx, act, eventName,
					"--eventpath", event,
					"--workflows", ".github/workflows/example-deploy.yml",
					"-P", "ubuntu-latest=-self-hosted",
					"--action-cache-path", t.TempDir(),
					"--no-cache-server", // it would listen on the outbound address, not 127.0.0.1
					"--var", "DRIFTLESS_SPEC=driftless.act.yaml",
					"--secret", "KUBECONFIG="+string(kubeconfig),
					"--secret", "GITHUB_TOKEN=", // not `gh auth token`: no GitHub API
					// act names the repository after origin's URL, which the
					// test rewrites to a local file:// remote.
					"--env", "GITHUB_REPOSITORY=example/pssp-api",
				)
				cmd.Dir = repo
				cmd.Env = append(os.Environ(),
					"ACT_DISABLE_VERSION_CHECK=1",
					"DRIFTLESS_BIN_DIR="+bin,
					"XDG_CONFIG_HOME="+t.TempDir(), // no user actrc
				)
				start := time.Now()
				out, err := cmd.CombinedOutput()
				t.Logf("act %s: %v, %s", eventName, time.Since(start).Round(10*time.Millisecond), exitOf(err))
				if dir := os.Getenv("DRIFTLESS_ACT_LOG"); dir != "" { // keep act's output to read
					if err := os.WriteFile(filepath.Join(dir, name+".log"), out, 0o644); err != nil {
						t.Error(err)
					}
				}
				return out, err
			}
			repoJSON := map[string]any{"full_name": "example/pssp-api", "default_branch": "main"}
			out, err := runAct(tc.name, "push", map[string]any{
				"ref": "refs/tags/v1.0.0", "after": sha, "before": strings.Repeat("0", 40), "repository": repoJSON,
			})

			prod, herr := apply.History(t.Context(), clients, apply.Owner{Pipeline: "pssp-api", Env: "prod", Namespace: prodNS}, nil)
			if herr != nil {
				t.Fatal(herr)
			}
			test, herr := apply.History(t.Context(), clients, apply.Owner{Pipeline: "pssp-api", Env: "test", Namespace: testNS}, nil)
			if herr != nil {
				t.Fatal(herr)
			}
			if tc.reaches {
				if err != nil || len(prod) != 1 || prod[0].Status != apply.StatusDeployed || prod[0].Version != "v1.0.0" || prod[0].GitSHA != sha {
					t.Fatalf("act: %v; prod releases %s\n%s", err, releases(prod), out)
				}
				if len(test) != 1 || test[0].Digest != prod[0].Digest {
					t.Fatalf("test releases %s, prod %s\n%s", releases(test), releases(prod), out)
				}

				// The nightly run: nothing to do while the base is unchanged;
				// after a base update, the release is rebased, verified in
				// test and admitted to prod as a rebuild of v1.0.0.
				schedule := map[string]any{"schedule": "17 3 * * *", "repository": repoJSON}
				if out, err := runAct(tc.name+"-nightly", "schedule", schedule); err != nil || !strings.Contains(string(out), "unchanged") {
					t.Fatalf("nightly, base unchanged: %v\n%s", err, out)
				}
				newBase, _ := random.Image(256, 2)
				registrytest.Push(t, host+"/base/runtime:1", newBase)
				out, err = runAct(tc.name+"-rebuild", "schedule", schedule)
				prod2, _ := apply.History(t.Context(), clients, apply.Owner{Pipeline: "pssp-api", Env: "prod", Namespace: prodNS}, nil)
				test2, _ := apply.History(t.Context(), clients, apply.Owner{Pipeline: "pssp-api", Env: "test", Namespace: testNS}, nil)
				if err != nil || len(prod2) != 2 || len(test2) != 2 || prod2[0].Digest == prod[0].Digest || prod2[0].Digest != test2[0].Digest || prod2[0].Version != "v1.0.0" {
					t.Fatalf("rebuild: %v; test %s, prod %s\n%s", exitOf(err), releases(test2), releases(prod2), out)
				}
				if !strings.Contains(string(out), "rebuild of release tag v1.0.0") {
					t.Errorf("prod's gitTag gate should admit the rebuild of v1.0.0:\n%s", out)
				}
				return
			}
			if err == nil || len(prod) != 0 {
				t.Fatalf("act: %v; prod releases %s (want none)\n%s", exitOf(err), releases(prod), out)
			}
			// Applied in test, refused by smoke-test; the prod job never ran.
			if len(test) != 1 || !strings.Contains(string(out), `json version: want "v1.0.0", got "v0.9.0"`) ||
				!strings.Contains(string(out), "Job 'test' failed") || strings.Contains(string(out), "[deploy/prod]") {
				t.Fatalf("test releases %s\n%s", releases(test), out)
			}
		})
	}
}

// actSetup is what every act run here needs: act, the six steps built
// into a DRIFTLESS_BIN_DIR (install.sh takes them from there), the shared
// cluster, clients for it, and its kubeconfig.
func actSetup(t *testing.T) (act, bin string, c *cluster.Cluster, clients *kube.Clients, kubeconfig []byte) {
	t.Helper()
	act = testtool.Path(t, "act")
	bin = t.TempDir()
	build(t, bin, "validate-config", "bake-image", "tag-sync", "kustomize-render", "apply-env", "smoke-test")
	c = clustertest.Shared(t)
	clients, err := kube.NewClients(c.RESTConfig(), "")
	if err != nil {
		t.Fatal(err)
	}
	if kubeconfig, err = os.ReadFile(c.Kubeconfig()); err != nil {
		t.Fatal(err)
	}
	return act, bin, c, clients, kubeconfig
}

func exitOf(err error) string {
	if err == nil {
		return "exit 0"
	}
	return err.Error()
}

func releases(rs []*apply.ReleaseRecord) string {
	var b []string
	for _, r := range rs {
		b = append(b, fmt.Sprintf("{%d %s %s %s}", r.Revision, r.Status, r.Version, r.Digest))
	}
	return "[" + strings.Join(b, " ") + "]"
}

// actRepo writes the repository act runs in: the workflow, the actions, the
// example's static configuration, a spec for the test cluster and registry,
// one commit tagged v1.0.0. live starts the example service for the commit
// and returns its URL, which the spec's smoke checks use.
func actRepo(t *testing.T, dir, host, testNS, prodNS string, live func(sha string) string) string {
	t.Helper()
	root := testtool.Root(t)
	git := gitIn(t, dir)
	copyTree(t, filepath.Join(root, "actions"), filepath.Join(dir, "actions"))
	copyTree(t, filepath.Join(root, "example", "static"), filepath.Join(dir, "static"))
	copyTree(t, filepath.Join(root, ".github", "workflows", "example-deploy.yml"), filepath.Join(dir, ".github", "workflows", "example-deploy.yml"))
	write(t, filepath.Join(dir, "k", "base", "kustomization.yaml"), "resources: [config.yaml, api.yaml]\n")
	write(t, filepath.Join(dir, "k", "base", "api.yaml"), "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api}\n"+
		"spec:\n  selector: {matchLabels: {app: api}}\n  template:\n    metadata: {labels: {app: api}}\n    spec: {containers: [{name: api, image: pssp-api}]}\n")
	write(t, filepath.Join(dir, "k", "base", "config.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: api}\ndata: {LOG_LEVEL: info}\n")
	write(t, filepath.Join(dir, "k", "test", "kustomization.yaml"), "namespace: "+testNS+"\nresources: [../base]\n")
	write(t, filepath.Join(dir, "k", "prod", "kustomization.yaml"), "namespace: "+prodNS+"\nresources: [../base]\n")
	git("init", "-q", "-b", "main")
	// act names the repository after origin's URL; git itself is sent to a
	// local bare repository instead, so no step can reach a remote host.
	git("remote", "add", "origin", "https://github.com/example/pssp-api.git")
	bare := t.TempDir()
	git("init", "-q", "--bare", bare)
	git("config", "url.file://"+bare+".insteadOf", "https://github.com/example/pssp-api.git")
	git("add", "-A")
	git("commit", "-q", "-m", "the service")
	sha := git("rev-parse", "HEAD")
	// The spec names the service's URL, which names the commit: a second
	// commit would change it, so the spec stays out of Git (the workflow
	// reads the working tree act copies).
	write(t, filepath.Join(dir, "driftless.act.yaml"), fmt.Sprintf(`apiVersion: driftless.dev/v1alpha1
kind: Pipeline
name: pssp-api
image: {repository: %s/pssp/api, name: pssp-api, base: %[1]s/base/runtime:1}
static: {dir: static, path: /var/portal-api/static}
versioning: {gitTag: semver}
environments:
  - name: test
    overlay: k/test
    namespace: %s
    smoke:
      url: %s
      timeout: 5s # a live version that is not the tag's does not become it
      checks: [{name: catalog, path: /apis/catalog, json: {name: catalog}}]
  - name: prod
    overlay: k/prod
    namespace: %s
    smoke:
      url: %[3]s
      checks: [{name: catalog, path: /apis/catalog, json: {name: catalog}}]
    promotion: {from: test, gitTag: required}
`, host, testNS, live(sha), prodNS))
	git("tag", "v1.0.0")
	return sha
}

// gitIn returns a function that runs git in dir, isolated from the user's
// configuration, and fails the test if git does.
func gitIn(t *testing.T, dir string) func(args ...string) string {
	return func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
			"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_GLOBAL=/dev/null")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// copyTree copies a file or a directory, keeping the modes.
func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		return os.WriteFile(dst, b, info.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
}
