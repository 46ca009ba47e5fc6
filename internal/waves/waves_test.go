package waves

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/driftless-dev/driftless/internal/apply"
	"github.com/driftless-dev/driftless/internal/cluster"
	"github.com/driftless-dev/driftless/internal/cluster/clustertest"
	"github.com/driftless-dev/driftless/internal/kube"
)

func TestMain(m *testing.M) { clustertest.Main(m) }

// clusters are the three control planes every test here shares, each with
// KWOK's node, started at once on first use and stopped by TestMain; each
// test works in a namespace of its own.
func clusters(t *testing.T) [3]*cluster.Cluster {
	t.Helper()
	cs := clustertest.Several(t, 3, cluster.WithVolumes(2, resource.MustParse("1Gi")))
	return [3]*cluster.Cluster{cs[0], cs[1], cs[2]}
}

// env is one test's environment: a namespace of its own in each cluster.
type env struct {
	t       *testing.T
	ns      string
	cs      [3]*cluster.Cluster
	clients [3]*kube.Clients
	mu      sync.Mutex
	lines   []string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, cs: clusters(t), ns: fmt.Sprintf("waves-%d", rand.IntN(1e9))}
	for i, c := range e.cs {
		clients, err := kube.NewClients(c.RESTConfig(), "")
		if err != nil {
			t.Fatal(err)
		}
		e.clients[i] = clients
	}
	t.Cleanup(func() {
		for _, c := range e.clients {
			err := c.Kube.CoreV1().Namespaces().Delete(context.Background(), e.ns, metav1.DeleteOptions{})
			if err != nil && !apierrors.IsNotFound(err) {
				t.Errorf("deleting Namespace/%s: %v", e.ns, err)
			}
		}
	})
	return e
}

func (e *env) logf(format string, args ...any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.lines = append(e.lines, fmt.Sprintf(format, args...))
}

func (e *env) log() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return strings.Join(e.lines, "\n")
}

// cluster is the i-th control plane as a wave's cluster.
func (e *env) cluster(i int) Cluster {
	return Cluster{Name: fmt.Sprintf("c%d", i+1), Kubeconfig: e.cs[i].Kubeconfig()}
}

// manifests is a ConfigMap and a one-replica Deployment of version v
// running image digest sha256:<hex repeated>, failing fast (a 5 s
// progress deadline) when its pods cannot come up.
func (e *env) manifests(v, hex string) []byte {
	return fmt.Appendf(nil, `apiVersion: v1
kind: ConfigMap
metadata: {name: api-config, namespace: %[1]s}
data: {VERSION: %[2]s}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: %[1]s}
spec:
  replicas: 1
  progressDeadlineSeconds: 5
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers: [{name: api, image: "registry.example.com/api@sha256:%[3]s"}]
`, e.ns, v, strings.Repeat(hex, 64))
}

// deployment is release v1 or v2 of the environment: v1 runs digest
// sha256:aaa..., v2 sha256:bbb....
func (e *env) deployment(v string) apply.Deployment {
	hex := map[string]string{"v1": "a", "v2": "b"}[v]
	return apply.Deployment{Pipeline: "shop", Env: "prod", Namespace: e.ns, Manifests: e.manifests(v+".0.0", hex),
		Digest: "sha256:" + strings.Repeat(hex, 64), Version: v + ".0.0",
		Timeout: time.Minute, Holder: e.t.Name(), LockTimeout: 30 * time.Second}
}

func (e *env) options(policy Policy) Options {
	return Options{OnFailure: policy, Applier: apply.Applier{PollInterval: 200 * time.Millisecond}, Logf: e.logf}
}

// deploy prepares and runs; a refusal before anything runs fails the test.
func (e *env) deploy(waves []Wave, d apply.Deployment, o Options) (*Report, error) {
	e.t.Helper()
	p, err := Prepare(e.t.Context(), waves, d, o)
	if err != nil {
		e.t.Fatalf("prepare: %v\n%s", err, e.log())
	}
	return p.Run(e.t.Context())
}

func (e *env) history(i int) []*apply.ReleaseRecord {
	e.t.Helper()
	h, err := apply.History(e.t.Context(), e.clients[i], apply.Owner{Pipeline: "shop", Env: "prod", Namespace: e.ns}, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return h
}

// image is the digest the cluster's Deployment runs: "a" for v1, "b" for v2.
func (e *env) image(i int) string {
	e.t.Helper()
	d, err := e.clients[i].Kube.AppsV1().Deployments(e.ns).Get(e.t.Context(), "api", metav1.GetOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	img := d.Spec.Template.Spec.Containers[0].Image
	return img[len(img)-1:]
}

// results are the clusters' results and revisions, "c1 deployed 1".
func results(rep *Report) []string {
	var out []string
	for _, w := range rep.Waves {
		for _, c := range w.Clusters {
			out = append(out, fmt.Sprintf("%s %s %d", c.Cluster, c.Result, c.Revision))
		}
	}
	return out
}

func logWaves(t *testing.T, what string, rep *Report) {
	t.Helper()
	for _, w := range rep.Waves {
		if w.Started.IsZero() {
			t.Logf("%s: wave %s not started", what, w.Name)
			continue
		}
		var cs []string
		for _, c := range w.Clusters {
			if c.RollbackDuration > 0 {
				cs = append(cs, fmt.Sprintf("%s healthy in %s, then rolled back in %s", c.Cluster, c.Duration.Round(time.Millisecond), c.RollbackDuration.Round(time.Millisecond)))
				continue
			}
			cs = append(cs, fmt.Sprintf("%s %s in %s", c.Cluster, c.Result, c.Duration.Round(time.Millisecond)))
		}
		t.Logf("%s: wave %s took %s (%s), then baked %s", what, w.Name, w.Finished.Sub(w.Started).Round(time.Millisecond), strings.Join(cs, ", "), w.BakeWaited.Round(time.Millisecond))
	}
}

// TestWavesInOrderWithBake: three waves of one cluster each, a 2 s bake
// after the first two. Each cluster's release is recorded at least the
// bake time after the previous wave's, and a re-run is a re-apply that
// records nothing and waits for no bake again.
func TestWavesInOrderWithBake(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const bake = 2 * time.Second
	waves := []Wave{
		{Name: "canary", Clusters: []Cluster{e.cluster(0)}, Bake: bake},
		{Name: "eu", Clusters: []Cluster{e.cluster(1)}, Bake: bake},
		{Name: "us", Clusters: []Cluster{e.cluster(2)}},
	}
	rep, err := e.deploy(waves, e.deployment("v1"), e.options(RollbackFailed))
	if err != nil {
		t.Fatalf("%v\n%s", err, e.log())
	}
	logWaves(t, "first deploy", rep)
	if diff := cmp.Diff([]string{"c1 deployed 1", "c2 deployed 1", "c3 deployed 1"}, results(rep)); diff != "" {
		t.Errorf("results (-want +got):\n%s", diff)
	}
	// The release records say when each cluster got the release.
	var at [3]time.Time
	for i := range 3 {
		h := e.history(i)
		if len(h) != 1 || h[0].Status != apply.StatusDeployed || h[0].Digest != e.deployment("v1").Digest {
			t.Fatalf("cluster %d: history %+v", i+1, h)
		}
		at[i] = h[0].Time
	}
	for i := 1; i < 3; i++ {
		if gap := at[i].Sub(at[i-1]); gap < bake {
			t.Errorf("c%d's release is recorded %s after c%d's: the bake of %s was not honoured", i+1, gap, i, bake)
		}
	}
	t.Logf("release times after the first: c2 +%s, c3 +%s", at[1].Sub(at[0]).Round(time.Millisecond), at[2].Sub(at[0]).Round(time.Millisecond))

	again, err := e.deploy(waves, e.deployment("v1"), e.options(RollbackFailed))
	if err != nil {
		t.Fatalf("re-run: %v\n%s", err, e.log())
	}
	logWaves(t, "re-run", again)
	if diff := cmp.Diff([]string{"c1 unchanged 1", "c2 unchanged 1", "c3 unchanged 1"}, results(again)); diff != "" {
		t.Errorf("re-run results (-want +got):\n%s", diff)
	}
	for _, w := range again.Waves[:2] {
		if w.BakeWaited != 0 || !w.BakedSince.Equal(at[map[string]int{"canary": 0, "eu": 1}[w.Name]]) {
			t.Errorf("re-run: wave %s waited %s for a bake served since %s (its release is from %s)", w.Name, w.BakeWaited, w.BakedSince, at[map[string]int{"canary": 0, "eu": 1}[w.Name]])
		}
	}
	if again.Changed() {
		t.Error("the re-run changed something")
	}
}

// quota keeps cluster i's namespace at the one pod it runs: the next
// release's pod is refused there, and only there.
func (e *env) quota(i int) func() {
	e.t.Helper()
	ctx := e.t.Context()
	q := &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: "one-pod", Namespace: e.ns}, Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("1")}}}
	qs := e.clients[i].Kube.CoreV1().ResourceQuotas(e.ns)
	if _, err := qs.Create(ctx, q, metav1.CreateOptions{}); err != nil {
		e.t.Fatal(err)
	}
	for {
		got, err := qs.Get(ctx, q.Name, metav1.GetOptions{})
		if err != nil {
			e.t.Fatal(err)
		}
		if used, ok := got.Status.Used[corev1.ResourcePods]; ok && used.Value() == 1 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	return func() {
		if err := qs.Delete(ctx, q.Name, metav1.DeleteOptions{}); err != nil {
			e.t.Fatal(err)
		}
	}
}

// versions are the resourceVersions of everything in cluster i's
// namespace that driftless writes: unchanged means nothing was written.
func (e *env) versions(i int) map[string]string {
	e.t.Helper()
	ctx, c := e.t.Context(), e.clients[i].Kube
	out := map[string]string{}
	add := func(kind, name, rv string) { out[kind+"/"+name] = rv }
	deps, err := c.AppsV1().Deployments(e.ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, x := range deps.Items {
		add("Deployment", x.Name, x.ResourceVersion)
	}
	cms, _ := c.CoreV1().ConfigMaps(e.ns).List(ctx, metav1.ListOptions{})
	for _, x := range cms.Items {
		add("ConfigMap", x.Name, x.ResourceVersion)
	}
	secrets, _ := c.CoreV1().Secrets(e.ns).List(ctx, metav1.ListOptions{})
	for _, x := range secrets.Items {
		add("Secret", x.Name, x.ResourceVersion)
	}
	leases, _ := c.CoordinationV1().Leases(e.ns).List(ctx, metav1.ListOptions{})
	for _, x := range leases.Items {
		add("Lease", x.Name, x.ResourceVersion)
	}
	return out
}

// TestFailingWaveStopsLaterWaves: v2 cannot start its pod in the second
// wave's cluster (a quota there only). That cluster rolls back to v1,
// the third wave is not touched at all, the first keeps v2; once the
// quota is gone a re-run resumes: the first wave is a re-apply, the
// others get v2.
func TestFailingWaveStopsLaterWaves(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	waves := []Wave{
		{Name: "canary", Clusters: []Cluster{e.cluster(0)}},
		{Name: "eu", Clusters: []Cluster{e.cluster(1)}},
		{Name: "us", Clusters: []Cluster{e.cluster(2)}},
	}
	if _, err := e.deploy(waves, e.deployment("v1"), e.options(RollbackFailed)); err != nil {
		t.Fatalf("v1: %v\n%s", err, e.log())
	}
	lift := e.quota(1)
	before := e.versions(2)

	rep, err := e.deploy(waves, e.deployment("v2"), e.options(RollbackFailed))
	logWaves(t, "v2 failing in wave eu", rep)
	var we *WaveError
	if !errors.As(err, &we) || we.Wave != "eu" || len(we.Failed) != 1 || we.Failed[0].Cluster != "c2" {
		t.Fatalf("want wave eu failing in c2, got %v\n%s", err, e.log())
	}
	var re *apply.RolloutError
	if !errors.As(err, &re) || !re.RollbackOK || re.RolledBack != 1 {
		t.Errorf("c2 did not roll back to release 1: %v", err)
	}
	for _, want := range []string{`wave "eu" failed: cluster "c2"`, "Deployment/" + e.ns + "/api failed", "rolled back: release 1", "later waves were not touched: us"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not say %q:\n%v", want, err)
		}
	}
	if diff := cmp.Diff([]string{"c1 deployed 2", "c2 failed 1", "c3 not started 0"}, results(rep)); diff != "" {
		t.Errorf("results (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(before, e.versions(2)); diff != "" {
		t.Errorf("the third wave's cluster was written to (-before +after):\n%s", diff)
	}
	if got := e.image(0) + e.image(1) + e.image(2); got != "baa" {
		t.Errorf("images live (c1, c2, c3) %q, want v2, v1, v1 (baa)", got)
	}
	if !strings.Contains(rep.Markdown(), "| eu | c2 | ❌ failed | 1 |") || !strings.Contains(rep.Markdown(), "- **c2** (wave eu") {
		t.Errorf("summary:\n%s", rep.Markdown())
	}

	lift()
	again, err := e.deploy(waves, e.deployment("v2"), e.options(RollbackFailed))
	if err != nil {
		t.Fatalf("re-run after the fix: %v\n%s", err, e.log())
	}
	logWaves(t, "re-run after the fix", again)
	// c2's release 2 is the failed v2; its v2 is release 3.
	if diff := cmp.Diff([]string{"c1 unchanged 2", "c2 deployed 3", "c3 deployed 2"}, results(again)); diff != "" {
		t.Errorf("re-run results (-want +got):\n%s", diff)
	}
	if got := e.image(0) + e.image(1) + e.image(2); got != "bbb" {
		t.Errorf("images live after the re-run %q, want v2 everywhere", got)
	}
}

// TestRollbackWave: with onFailure rollback-wave, the wave's healthy
// cluster goes back to v1 with the failed one; the earlier wave keeps v2.
func TestRollbackWave(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	waves := []Wave{
		{Name: "canary", Clusters: []Cluster{e.cluster(0)}},
		{Name: "main", Clusters: []Cluster{e.cluster(1), e.cluster(2)}},
	}
	if _, err := e.deploy(waves, e.deployment("v1"), e.options(RollbackWave)); err != nil {
		t.Fatalf("v1: %v\n%s", err, e.log())
	}
	e.quota(1)
	rep, err := e.deploy(waves, e.deployment("v2"), e.options(RollbackWave))
	logWaves(t, "v2 failing in wave main, rollback-wave", rep)
	var we *WaveError
	if !errors.As(err, &we) || we.Wave != "main" || len(we.RolledBack) != 1 || we.RolledBack[0].Cluster != "c3" {
		t.Fatalf("want wave main failing and c3 rolled back with it, got %v\n%s", err, e.log())
	}
	if diff := cmp.Diff([]string{"c1 deployed 2", "c2 failed 1", "c3 rolled back 2"}, results(rep)); diff != "" {
		t.Errorf("results (-want +got):\n%s", diff)
	}
	if got := e.image(0) + e.image(1) + e.image(2); got != "baa" {
		t.Errorf("images live (c1, c2, c3) %q, want v2, v1, v1 (baa)", got)
	}
	h := e.history(2)
	if len(h) != 3 || h[0].RollbackOf != 1 || apply.LastDeployed(h) != h[0] {
		t.Errorf("c3's history after rolling back with its wave: %+v", h)
	}
	if !strings.Contains(err.Error(), "rolled back with the wave (onFailure: rollback-wave): c3") {
		t.Errorf("error: %v", err)
	}
}

// TestNothingWrittenWhenAClusterCannotBeDeployed: one unreachable
// cluster, one that refuses the objects, or two clusters that are one
// API server: exit-2 errors naming the cluster, before anything is
// written to any cluster.
func TestNothingWrittenWhenAClusterCannotBeDeployed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dir := t.TempDir()
	closed := filepath.Join(dir, "ap")
	if err := os.WriteFile(closed, []byte(`apiVersion: v1
kind: Config
clusters: [{name: ap, cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: x}}]
contexts: [{name: prod-ap, context: {cluster: ap, user: u}}]
current-context: prod-ap
`), 0o600); err != nil {
		t.Fatal(err)
	}
	twin := filepath.Join(dir, "twin")
	b, err := os.ReadFile(e.cs[0].Kubeconfig())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(twin, b, 0o600); err != nil {
		t.Fatal(err)
	}
	nsExists := func(i int) bool {
		_, err := e.clients[i].Kube.CoreV1().Namespaces().Get(t.Context(), e.ns, metav1.GetOptions{})
		return err == nil
	}

	t.Run("unreachable", func(t *testing.T) {
		waves := []Wave{
			{Name: "canary", Clusters: []Cluster{e.cluster(0)}},
			{Name: "eu", Clusters: []Cluster{e.cluster(1)}},
			{Name: "ap", Clusters: []Cluster{{Name: "ap-1", Kubeconfig: closed}}},
		}
		_, err := Prepare(t.Context(), waves, e.deployment("v1"), e.options(RollbackFailed))
		var ue *UnreachableError
		if !errors.As(err, &ue) || len(ue.Clusters) != 1 {
			t.Fatalf("want one unreachable cluster, got %v", err)
		}
		for _, want := range []string{`cluster "ap-1" (wave "ap")`, `cannot reach the cluster (context "prod-ap" at https://127.0.0.1:1)`, "nothing was applied to any cluster"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error lacks %q:\n%v", want, err)
			}
		}
		if nsExists(0) || nsExists(1) {
			t.Error("a reachable cluster was written to")
		}
	})
	t.Run("same API server twice", func(t *testing.T) {
		waves := []Wave{
			{Name: "canary", Clusters: []Cluster{e.cluster(0)}},
			{Name: "eu", Clusters: []Cluster{{Name: "eu-1", Kubeconfig: twin}}},
		}
		_, err := Prepare(t.Context(), waves, e.deployment("v1"), e.options(RollbackFailed))
		if err == nil || !strings.Contains(err.Error(), `clusters "c1" (wave "canary") and "eu-1" (wave "eu") are the same API server`) {
			t.Fatalf("want the twin refused, got %v", err)
		}
		if nsExists(0) {
			t.Error("written to")
		}
	})
	t.Run("refused in one cluster", func(t *testing.T) {
		// In the last wave's cluster only, the ConfigMap exists already,
		// another tool's (a member of another ApplySet).
		ctx := t.Context()
		c3 := e.clients[2].Kube.CoreV1()
		if _, err := c3.Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: e.ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := c3.ConfigMaps(e.ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "api-config", Namespace: e.ns,
			Labels: map[string]string{apply.LabelPartOf: "applyset-someone-else-v1"}}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		waves := []Wave{
			{Name: "canary", Clusters: []Cluster{e.cluster(0)}},
			{Name: "eu", Clusters: []Cluster{e.cluster(1)}},
			{Name: "us", Clusters: []Cluster{e.cluster(2)}},
		}
		_, err := Prepare(ctx, waves, e.deployment("v1"), e.options(RollbackFailed))
		var re *apply.RefusedError
		if !errors.As(err, &re) || !strings.Contains(err.Error(), `cluster "c3" (wave "us", context`) || !strings.Contains(err.Error(), "member of another ApplySet") {
			t.Fatalf("want c3 refusing, got %v", err)
		}
		if nsExists(0) || nsExists(1) {
			t.Error("an earlier wave's cluster was written to")
		}
	})
}

// TestOneWaveAtATime: a CI job per wave (Options.Wave) or per cluster
// (Options.Cluster). A wave before the earlier one holds the release is
// refused, writing nothing; a cluster of the next wave waits out the rest
// of the bake and is deployed alone.
func TestOneWaveAtATime(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const bake = 2 * time.Second
	waves := []Wave{
		{Name: "canary", Clusters: []Cluster{e.cluster(0)}, Bake: bake},
		{Name: "main", Clusters: []Cluster{e.cluster(1), e.cluster(2)}},
	}
	o := e.options(RollbackFailed)
	o.Wave = "main"
	_, err := Prepare(t.Context(), waves, e.deployment("v1"), o)
	var nh *NotHeldError
	if !errors.As(err, &nh) || !strings.Contains(err.Error(), `wave "canary" comes before wave "main" and does not hold v1.0.0: cluster "c1" has no release; deploy wave "canary" first`) {
		t.Fatalf("want main refused before canary holds v1, got %v", err)
	}
	o.Wave = "canary"
	rep, err := e.deploy(waves, e.deployment("v1"), o)
	if err != nil {
		t.Fatalf("canary: %v\n%s", err, e.log())
	}
	if diff := cmp.Diff([]string{"c1 deployed 1"}, results(rep)); diff != "" {
		t.Errorf("canary alone (-want +got):\n%s", diff)
	}
	o.Wave, o.Cluster = "", "c3"
	rep, err = e.deploy(waves, e.deployment("v1"), o)
	if err != nil {
		t.Fatalf("c3: %v\n%s", err, e.log())
	}
	if diff := cmp.Diff([]string{"c1 held 1", "c3 deployed 1"}, results(rep)); diff != "" {
		t.Errorf("c3 alone (-want +got):\n%s", diff)
	}
	c1, c3 := e.history(0)[0].Time, e.history(2)[0].Time
	if c3.Sub(c1) < bake {
		t.Errorf("c3 got the release %s after canary: its bake of %s was not honoured", c3.Sub(c1), bake)
	}
	if len(e.history(1)) != 0 {
		t.Error("c2 was deployed though only c3 was asked for")
	}
}

// TestDegradedDuringBake: a release healthy when its wave finished but no
// longer at the end of the bake (its pod gone, and a quota keeping a new
// one out) stops the rollout there: the wave's cluster is reported failed
// and rolled back, and the later waves keep the release they had.
func TestDegradedDuringBake(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	waves := []Wave{
		{Name: "canary", Clusters: []Cluster{e.cluster(0)}, Bake: 3 * time.Second},
		{Name: "rest", Clusters: []Cluster{e.cluster(1), e.cluster(2)}},
	}
	if _, err := e.deploy(waves, e.deployment("v1"), e.options(RollbackFailed)); err != nil {
		t.Fatalf("v1: %v\n%s", err, e.log())
	}
	before := [2]map[string]string{e.versions(1), e.versions(2)}

	// Once c1 holds v2, take its pod away for good.
	ctx := t.Context()
	degraded := make(chan error, 1)
	go func() {
		degraded <- func() error {
			for {
				if h := e.history(0); len(h) == 2 && h[0].Status == apply.StatusDeployed {
					break
				}
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(100 * time.Millisecond):
				}
			}
			q := &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: "no-pods", Namespace: e.ns}, Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("0")}}}
			if _, err := e.clients[0].Kube.CoreV1().ResourceQuotas(e.ns).Create(ctx, q, metav1.CreateOptions{}); err != nil {
				return err
			}
			if err := e.clients[0].Kube.CoreV1().Pods(e.ns).DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: new(int64)}, metav1.ListOptions{LabelSelector: "app=api"}); err != nil {
				return err
			}
			// Once the rollback has put v1's spec back, let its pod in.
			for {
				d, err := e.clients[0].Kube.AppsV1().Deployments(e.ns).Get(ctx, "api", metav1.GetOptions{})
				if err != nil {
					return err
				}
				if img := d.Spec.Template.Spec.Containers[0].Image; strings.HasSuffix(img, "a") {
					return e.clients[0].Kube.CoreV1().ResourceQuotas(e.ns).Delete(ctx, q.Name, metav1.DeleteOptions{})
				}
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(100 * time.Millisecond):
				}
			}
		}()
	}()
	o := e.options(RollbackFailed)
	o.BakeCheck = 3 * time.Second
	rep, err := e.deploy(waves, e.deployment("v2"), o)
	if derr := <-degraded; derr != nil {
		t.Fatal(derr)
	}
	logWaves(t, "degraded during the bake", rep)
	var we *WaveError
	if !errors.As(err, &we) || we.Wave != "canary" || !strings.Contains(err.Error(), `cluster "c1"`) || !strings.Contains(err.Error(), "unhealthy at the end of the bake (3s)") || !strings.Contains(err.Error(), "later waves were not touched: rest") {
		t.Fatalf("err = %v\n%s", err, e.log())
	}
	if diff := cmp.Diff([]string{"c1 failed 2", "c2 not started 0", "c3 not started 0"}, results(rep)); diff != "" {
		t.Errorf("results (-want +got):\n%s", diff)
	}
	for i, b := range before {
		if diff := cmp.Diff(b, e.versions(i+1)); diff != "" {
			t.Errorf("c%d was written to (-before +after):\n%s", i+2, diff)
		}
	}
	if got := e.image(0); got != "a" {
		t.Errorf("c1 runs digest %s…, want v1's (rolled back)", got)
	}
	if c1 := rep.Waves[0].Clusters[0]; c1.RolledBackTo == 0 || c1.RollbackErr != nil || !strings.Contains(c1.Err.Error(), "rolled back to release") {
		t.Errorf("c1: rolled back to %d, rollback error %v, error %v", c1.RolledBackTo, c1.RollbackErr, c1.Err)
	}
}
