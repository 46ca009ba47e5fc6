package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"

	"github.com/driftless-dev/driftless/internal/cluster/clustertest"
	"github.com/driftless-dev/driftless/internal/testtool"
)

// TestDataSurvivesReleases deploys the example as the demo does (the
// repository's driftless.yaml and kustomize/, its test environment) to a
// real node, and keeps the user data the API wrote to Redis, on its
// PersistentVolumeClaim, through three releases: one that changes the
// static configuration and restarts Redis, and one whose static
// configuration the service refuses, which crash-loops, fails fast with
// the container's own log lines in apply-env's output, and is rolled
// back. The singletons (Redis and the worker, strategy Recreate) never
// run two pods at once.
func TestDataSurvivesReleases(t *testing.T) {
	c := clustertest.SharedNode(t)
	ctx := t.Context()
	root := testtool.Root(t)
	redis := redisImage(t, root)
	if _, err := c.PushStandIn(ctx, redis, "redis-server", "--protected-mode", "no"); err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	build(t, bin, "bake-image", "kustomize-render", "apply-env", "smoke-test")

	dir := t.TempDir()
	copyTree(t, filepath.Join(root, "kustomize"), filepath.Join(dir, "kustomize"))
	copyTree(t, filepath.Join(root, "example", "static"), filepath.Join(dir, "example", "static"))
	copyTree(t, filepath.Join(root, "example", "schemas"), filepath.Join(dir, "example", "schemas"))
	spec, err := os.ReadFile(filepath.Join(root, "driftless.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	const demoRepository = "127.0.0.1:5000/pssp/api"
	if !strings.Contains(string(spec), "repository: "+demoRepository) {
		t.Fatalf("driftless.yaml no longer pushes to %s; the test puts the cluster's registry there", demoRepository)
	}
	write(t, filepath.Join(dir, "driftless.yaml"), strings.Replace(string(spec), demoRepository, c.Registry()+"/pssp/api", 1))
	git := gitIn(t, dir)
	git("init", "-q", "-b", "main")
	write(t, filepath.Join(dir, ".gitignore"), "/bin/\n/out/\n")

	core, err := c.REST(corev1.SchemeGroupVersion)
	if err != nil {
		t.Fatal(err)
	}
	const ns = "pssp-test"
	singletons := watchSingletons(t, core, ns, "redis", "pssp-worker")
	summary := filepath.Join(t.TempDir(), "summary.md")
	env := []string{"KUBECONFIG=" + c.Kubeconfig(), "GITHUB_ACTIONS=", "GITHUB_STEP_SUMMARY=" + summary, "GITHUB_OUTPUT="}

	// release builds the service at version from the working tree (as
	// scripts/build does), bakes, renders and applies test.
	release := func(version string) result {
		t.Helper()
		git("add", "-A")
		git("commit", "-q", "--allow-empty", "-m", version)
		sha := git("rev-parse", "HEAD")
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -X main.version="+version+" -X main.gitSHA="+sha,
			"-o", filepath.Join(dir, "bin", "pssp-api"), "./example/cmd/pssp-api")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("building pssp-api: %v\n%s", err, out)
		}
		r := step(t, filepath.Join(bin, "bake-image"), env, "--spec", filepath.Join(dir, "driftless.yaml"), "--release", version)
		if r.code != 0 {
			t.Fatalf("bake-image %s: exit %d\n%s", version, r.code, r.stderr)
		}
		image := strings.TrimSpace(r.stdout)
		r = step(t, filepath.Join(bin, "kustomize-render"), env, "--spec", filepath.Join(dir, "driftless.yaml"),
			"--image", image, "--release", version, "--out", filepath.Join(dir, "out"))
		if r.code != 0 {
			t.Fatalf("kustomize-render %s: exit %d\n%s", version, r.code, r.stderr)
		}
		begin := time.Now()
		r = step(t, filepath.Join(bin, "apply-env"), env, "--spec", filepath.Join(dir, "driftless.yaml"), "--env", "test",
			"--manifests", filepath.Join(dir, "out", "test.yaml"), "--output", "json")
		t.Logf("apply-env %s: exit %d in %.1fs", version, r.code, time.Since(begin).Seconds())
		return r
	}
	api := func(method, path, body string) (int, string) {
		t.Helper()
		req := core.Verb(method).AbsPath("/api/v1/namespaces", ns, "services", "pssp-api:80", "proxy", path)
		if body != "" {
			req = req.Body([]byte(body)).SetHeader("Content-Type", "application/json")
		}
		res := req.Do(ctx)
		var code int
		res.StatusCode(&code)
		raw, _ := res.Raw()
		return code, string(raw)
	}
	// smoke runs smoke-test against the test environment as the demo does:
	// the spec names no URL, so it goes through the API server's service
	// proxy to Service/pssp-api's real endpoints, and checks that the live
	// service reports the release recorded on the Deployment.
	smoke := func(want string) {
		t.Helper()
		r := step(t, filepath.Join(bin, "smoke-test"), env, "--spec", filepath.Join(dir, "driftless.yaml"), "--env", "test",
			"--record-evidence=false", "--output", "json")
		if r.code != 0 || !strings.Contains(r.stdout, `"failed":"0"`) || !strings.Contains(r.stderr, want) {
			t.Fatalf("smoke-test after %s: exit %d\n%s\n%s", want, r.code, r.stdout, r.stderr)
		}
	}
	version := func() (v struct{ Version, ConfigRevision string }) {
		t.Helper()
		code, body := api("GET", "version", "")
		if code != 200 || json.Unmarshal([]byte(body), &v) != nil {
			t.Fatalf("GET /version through Service/%s/pssp-api: %d %s", ns, code, body)
		}
		return v
	}
	subscription := func(id string) string {
		t.Helper()
		code, body := api("GET", "subscriptions/"+id, "")
		if code != 200 || !strings.Contains(body, `"user":"ada"`) {
			t.Fatalf("GET /subscriptions/%s: %d %s; the user's data is gone", id, code, body)
		}
		return body
	}
	redisPod := func() string {
		t.Helper()
		var pods corev1.PodList
		err := core.Get().Namespace(ns).Resource("pods").
			VersionedParams(&metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=redis"}, scheme.ParameterCodec).
			Do(ctx).Into(&pods)
		if err != nil || len(pods.Items) != 1 {
			t.Fatalf("the Redis pods: %d, %v", len(pods.Items), err)
		}
		return pods.Items[0].Name
	}

	// Release 1, and a user's subscription written through the API.
	if r := release("v1.0.0"); r.code != 0 || !strings.Contains(r.stdout, `"revision":"1"`) {
		t.Fatalf("release v1.0.0: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	v1 := version()
	smoke("v1.0.0")
	code, body := api("POST", "subscriptions", `{"user":"ada","api":"catalog","plan":"free"}`)
	if code != 201 {
		t.Fatalf("POST /subscriptions: %d %s", code, body)
	}
	var created struct{ ID string }
	if err := json.Unmarshal([]byte(body), &created); err != nil || created.ID == "" {
		t.Fatalf("POST /subscriptions answered %s: %v", body, err)
	}
	subscription(created.ID)
	redis1 := redisPod()

	// Release 2 changes the static configuration, and Redis's pod
	// template, so Redis starts again from its volume.
	write(t, filepath.Join(dir, "example", "static", "plans.yaml"),
		strings.Replace(read(t, filepath.Join(dir, "example", "static", "plans.yaml")), "title: Free\n", "title: Free tier\n", 1))
	overlay := filepath.Join(dir, "kustomize", "overlays", "test", "kustomization.yaml")
	if !strings.Contains(read(t, overlay), "\npatches:\n") {
		t.Fatal("the test overlay has no patches: list to add to")
	}
	write(t, overlay, strings.Replace(read(t, overlay), "\npatches:\n", `
patches:
  - target: {group: apps, version: v1, kind: Deployment, name: redis}
    patch: |-
      - op: add
        path: /spec/template/metadata/annotations
        value: {example.com/restarted-by: release-2}
`, 1))
	if r := release("v1.1.0"); r.code != 0 || !strings.Contains(r.stdout, `"revision":"2"`) {
		t.Fatalf("release v1.1.0: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	v2 := version()
	smoke("v1.1.0")
	if v2.Version != "v1.1.0" || v2.ConfigRevision == v1.ConfigRevision {
		t.Errorf("after release v1.1.0 the service reports %+v; before %+v", v2, v1)
	}
	if redis2 := redisPod(); redis2 == redis1 {
		t.Errorf("Redis's pod %s was not replaced by release v1.1.0", redis1)
	}
	subscription(created.ID)

	// Release 3's groups name a plan that does not exist: the service
	// refuses to start, and apply-env rolls back to release 2.
	groups := filepath.Join(dir, "example", "static", "groups.yaml")
	write(t, groups, strings.Replace(read(t, groups), "plans: [free, gold]", "plans: [free, gold, platinum]", 1))
	r := release("v1.2.0")
	t.Logf("apply-env v1.2.0 said:\n%s", r.stderr)
	if r.code == 0 || !strings.Contains(r.stdout, `"rolled_back":"true"`) {
		t.Fatalf("release v1.2.0: exit %d, want a failure rolled back\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if !regexp.MustCompile(`CrashLoopBackOff|Error`).MatchString(r.stderr) {
		t.Errorf("apply-env does not say how release v1.2.0's pods failed:\n%s", r.stderr)
	}
	// Why, in the service's own words: the end of the crashed container's
	// log, before the rollback (which takes the pods away), in the log
	// and in the step summary.
	const why = `unknown plan "platinum"`
	logged, rollback := strings.Index(r.stderr, "| "), strings.Index(r.stderr, "rolling back to release 2")
	if !strings.Contains(r.stderr, why) || logged < 0 || rollback < 0 || logged > rollback {
		t.Errorf("apply-env's log does not show the crashed container's last lines (%s) before the rollback:\n%s", why, r.stderr)
	}
	if md := read(t, summary); !strings.Contains(md, "#### Why it failed") || !strings.Contains(md, why) {
		t.Errorf("the step summary does not show why release v1.2.0 failed:\n%s", md)
	}
	if v := version(); v != v2 {
		t.Errorf("after the rollback the service reports %+v, want release v1.1.0's %+v", v, v2)
	}
	smoke("v1.1.0")
	subscription(created.ID)

	if max := singletons(); len(max) > 0 {
		t.Errorf("singletons ran more than one pod at once: %v", max)
	}
}

// redisImage returns the Redis image the example's manifests name.
func redisImage(t *testing.T, root string) string {
	m := regexp.MustCompile(`(?m)^\s*image:\s*(redis:\S+)\s*$`).FindStringSubmatch(read(t, filepath.Join(root, "kustomize", "base", "redis-deployment.yaml")))
	if m == nil {
		t.Fatal("kustomize/base/redis-deployment.yaml names no redis image")
	}
	return m[1]
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// watchSingletons watches the pods of the named apps
// (app.kubernetes.io/name) in ns until the test ends; the function it
// returns says which of them ever had more than one pod that had not
// finished (Pending or Running, not deleted) at once, and which pods.
func watchSingletons(t *testing.T, core *rest.RESTClient, ns string, apps ...string) func() map[string][]string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w, err := core.Get().Namespace(ns).Resource("pods").
		VersionedParams(&metav1.ListOptions{Watch: true, LabelSelector: "app.kubernetes.io/name in (" + strings.Join(apps, ",") + ")"}, scheme.ParameterCodec).
		Watch(ctx)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	var mu sync.Mutex
	live := map[string]map[string]bool{} // app → pods not finished
	over := map[string][]string{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range w.ResultChan() {
			p, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			app := p.Labels["app.kubernetes.io/name"]
			mu.Lock()
			if live[app] == nil {
				live[app] = map[string]bool{}
			}
			finished := p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
			if ev.Type == watch.Deleted || finished {
				delete(live[app], p.Name)
			} else {
				live[app][p.Name] = true
			}
			if len(live[app]) > 1 {
				var names []string
				for n := range live[app] {
					names = append(names, n)
				}
				over[app] = names
			}
			mu.Unlock()
		}
	}()
	stop := func() { cancel(); w.Stop(); <-done }
	t.Cleanup(stop)
	return func() map[string][]string {
		// Let the last events arrive.
		time.Sleep(time.Second)
		mu.Lock()
		defer mu.Unlock()
		out := map[string][]string{}
		for k, v := range over {
			out[k] = v
		}
		if len(live) < len(apps) {
			out["(watch)"] = []string{fmt.Sprintf("saw pods of %d of the apps %v", len(live), apps)}
		}
		return out
	}
}
