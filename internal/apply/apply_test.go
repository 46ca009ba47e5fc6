package apply

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/driftless-dev/driftless/internal/kube"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/driftless-dev/driftless/internal/cluster/clustertest"
)

func TestMain(m *testing.M) { clustertest.Main(m) }

// manifests is a small environment in the style of the example: config,
// a ReadWriteOnce claim, a Service and two Deployments. Options edit it.
func manifests(ns string, opts ...string) []byte {
	has := func(o string) bool {
		for _, x := range opts {
			if x == o {
				return true
			}
		}
		return false
	}
	var b strings.Builder
	if !has("no-configmap") {
		fmt.Fprintf(&b, `apiVersion: v1
kind: ConfigMap
metadata: {name: runtime, namespace: %[1]s}
data: {LOG_LEVEL: info}
---
`, ns)
	}
	if !has("no-pvc") {
		fmt.Fprintf(&b, `apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data, namespace: %[1]s}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
`, ns)
	}
	fmt.Fprintf(&b, `apiVersion: v1
kind: Secret
metadata: {name: key, namespace: %[1]s}
stringData: {key: %[2]s}
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: %[1]s}
spec:
  selector: {app: api}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: %[1]s}
spec:
  replicas: 2
  progressDeadlineSeconds: %[3]d
  selector: {matchLabels: {app: api}}
  template:
    metadata:
      labels: {app: api%[4]s}%[6]s
    spec:
      containers: [{name: api, image: "registry.example.com/api@sha256:%[5]s"}]
`, ns, map[bool]string{true: "second-value", false: "first-value"}[has("secret-v2")],
		map[bool]int{true: 4, false: 600}[has("unready")],
		map[bool]string{true: `, driftless.dev/test-unready: "true"`, false: ""}[has("unready")]+
			map[bool]string{true: `, driftless.dev/test-unready: "crashloop"`, false: ""}[has("crashloop")],
		strings.Repeat(map[bool]string{true: "b", false: "a"}[has("v2") || has("unready")]+map[bool]string{true: "c", false: ""}[has("crashloop")], 64)[:64],
		// Pods of a crash-looping release hold a finalizer, so they stay
		// terminating after a rollback until the test lets them go: the
		// state in which health must judge only the current ReplicaSet.
		map[bool]string{true: "\n      finalizers: [" + testHold + "]", false: ""}[has("crashloop")])
	if !has("no-pvc") {
		fmt.Fprintf(&b, `---
apiVersion: apps/v1
kind: Deployment
metadata: {name: redis, namespace: %[1]s}
spec:
  replicas: 1
  strategy: {type: Recreate}
  selector: {matchLabels: {app: redis}}
  template:
    metadata: {labels: {app: redis}}
    spec:
      containers: [{name: redis, image: "redis:7.2.5"}]
      volumes: [{name: data, persistentVolumeClaim: {claimName: data}}]
`, ns)
	}
	return []byte(b.String())
}

// testHold is the finalizer crash-looping test pods carry.
const testHold = "driftless.dev/test-hold"

type env struct {
	t  *testing.T
	ns string
	a  *Applier
	mu sync.Mutex
	lg []string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	c := clustertest.Shared(t)
	ns := clustertest.Namespace(t, c)
	e := &env{t: t, ns: ns}
	clients, err := kube.NewClients(c.RESTConfig(), "")
	if err != nil {
		t.Fatal(err)
	}
	e.a = &Applier{C: clients, Logf: e.logf, PollInterval: 200 * time.Millisecond}
	return e
}

func (e *env) logf(format string, args ...any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.lg = append(e.lg, fmt.Sprintf(format, args...))
}

func (e *env) log() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return strings.Join(e.lg, "\n")
}

func (e *env) deployment(m []byte) Deployment {
	return Deployment{Pipeline: "shop", Env: "test", Namespace: e.ns, Manifests: m, Digest: "sha256:x", Keep: []string{"PersistentVolumeClaim"},
		Timeout: 60 * time.Second, Holder: e.t.Name(), LockTimeout: 30 * time.Second}
}

func (e *env) owner() Owner { return Owner{Pipeline: "shop", Env: "test", Namespace: e.ns} }

func changes(rs []Result) map[string]Change {
	m := map[string]Change{}
	for _, r := range rs {
		m[r.Object] = r.Change
	}
	return m
}

func TestDeployReapplyPrune(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	out, err := e.a.Deploy(ctx, e.deployment(manifests(e.ns)))
	if err != nil {
		t.Fatalf("%v\n%s", err, e.log())
	}
	ns := e.ns
	want := map[string]Change{
		"ConfigMap/" + ns + "/runtime": Created, "PersistentVolumeClaim/" + ns + "/data": Created, "Secret/" + ns + "/key": Created,
		"Service/" + ns + "/api": Created, "Deployment/" + ns + "/api": Created, "Deployment/" + ns + "/redis": Created,
	}
	if diff := cmp.Diff(want, changes(out.Results)); diff != "" || out.Revision != 1 || !out.Changed {
		t.Errorf("first deploy: revision %d changed %v (-want +got):\n%s", out.Revision, out.Changed, diff)
	}
	// PVCs before workloads: the claim was applied before any Deployment.
	order := strings.Join(func() []string {
		var s []string
		for _, r := range out.Results {
			s = append(s, r.Object)
		}
		return s
	}(), " ")
	if strings.Index(order, "PersistentVolumeClaim") > strings.Index(order, "Deployment") {
		t.Errorf("apply order %s", order)
	}

	again, err := e.a.Deploy(ctx, e.deployment(manifests(e.ns)))
	if err != nil {
		t.Fatal(err)
	}
	for id, c := range changes(again.Results) {
		if c != Unchanged {
			t.Errorf("re-apply: %s %s", id, c)
		}
	}
	if again.Changed || again.Revision != 1 {
		t.Errorf("re-apply: changed %v revision %d", again.Changed, again.Revision)
	}

	// Removing objects prunes them, but never the claim: user data lives there.
	third, err := e.a.Deploy(ctx, e.deployment(manifests(e.ns, "no-configmap", "no-pvc", "v2")))
	if err != nil {
		t.Fatalf("%v\n%s", err, e.log())
	}
	got := changes(third.Results)
	if got["ConfigMap/"+ns+"/runtime"] != Pruned || got["Deployment/"+ns+"/redis"] != Pruned || got["Deployment/"+ns+"/api"] != Configured {
		t.Errorf("third deploy: %v", got)
	}
	if _, ok := got["PersistentVolumeClaim/"+ns+"/data"]; ok {
		t.Errorf("the claim was touched: %v", got)
	}
	if _, err := e.a.C.Kube.CoreV1().PersistentVolumeClaims(ns).Get(ctx, "data", metav1.GetOptions{}); err != nil {
		t.Errorf("the claim is gone: %v", err)
	}
	h, err := History(ctx, e.a.C, e.owner(), nil)
	if err != nil || len(h) != 2 || h[0].Revision != 2 || third.Previous != 1 {
		t.Errorf("history %v %v, previous %d", h, err, third.Previous)
	}
}

func TestFailedRolloutRollsBack(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.a.Deploy(ctx, e.deployment(manifests(e.ns))); err != nil {
		t.Fatalf("%v\n%s", err, e.log())
	}
	start := time.Now()
	d := e.deployment(manifests(e.ns, "unready"))
	d.Timeout = 3 * time.Minute
	out, err := e.a.Deploy(ctx, d)
	var re *RolloutError
	if !errors.As(err, &re) || !re.RollbackOK || re.RolledBack != 1 || !out.RolledBack {
		t.Fatalf("want a rollout error with a rollback to 1, got %v\n%s", err, e.log())
	}
	if !strings.Contains(err.Error(), "Deployment/"+e.ns+"/api failed") || !strings.Contains(strings.ToLower(err.Error()), "progress deadline exceeded") {
		t.Errorf("error does not say what failed: %v", err)
	}
	if took := time.Since(start); took > 2*time.Minute {
		t.Errorf("failing took %s: it must fail fast, not wait for the timeout", took)
	}
	dep, err := e.a.C.Kube.AppsV1().Deployments(e.ns).Get(ctx, "api", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, bad := dep.Spec.Template.Labels["driftless.dev/test-unready"]; bad || !strings.HasSuffix(dep.Spec.Template.Spec.Containers[0].Image, strings.Repeat("a", 64)) {
		t.Errorf("not rolled back: %v %s", dep.Spec.Template.Labels, dep.Spec.Template.Spec.Containers[0].Image)
	}
	h, _ := History(ctx, e.a.C, e.owner(), nil)
	if len(h) != 2 || h[0].Status != StatusFailed || LastDeployed(h).Revision != 1 {
		t.Errorf("history after a failed rollout: %+v", h)
	}
}

func TestLockSerialises(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	lock, err := Acquire(ctx, e.a.C, e.owner(), LockOptions{Holder: "https://ci.example.com/run/1", Timeout: time.Second, Logf: e.logf})
	if err != nil {
		t.Fatal(err)
	}
	d := e.deployment(manifests(e.ns))
	d.LockTimeout = time.Second
	_, err = e.a.Deploy(ctx, d)
	var le *LockedError
	if !errors.As(err, &le) || le.Holder != "https://ci.example.com/run/1" {
		t.Fatalf("want LockedError naming the holder, got %v", err)
	}
	// Two deployments at once: the second waits for the first.
	lock.Release()
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := e.deployment(manifests(e.ns))
			d.Holder = fmt.Sprintf("run-%d", i)
			_, errs[i] = e.a.Deploy(ctx, d)
		}()
	}
	wg.Wait()
	if errs[0] != nil || errs[1] != nil {
		t.Fatalf("concurrent deploys: %v / %v\n%s", errs[0], errs[1], e.log())
	}
	if !strings.Contains(e.log(), "waiting for Lease/"+e.ns+"/driftless.shop.test held by run-") {
		t.Errorf("the second deploy did not wait:\n%s", e.log())
	}
}

func TestExpiredLeaseIsTakenOver(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	// A runner killed mid-deploy: its lease is never released nor renewed.
	secs := int32(1)
	_, err := Acquire(ctx, e.a.C, e.owner(), LockOptions{Holder: "killed-runner", Timeout: time.Second, Logf: e.logf})
	if err != nil {
		t.Fatal(err)
	}
	l, _ := e.a.C.Kube.CoordinationV1().Leases(e.ns).Get(ctx, e.owner().LeaseName(), metav1.GetOptions{})
	past := metav1.NewMicroTime(time.Now().Add(-time.Hour))
	l.Spec.RenewTime, l.Spec.LeaseDurationSeconds = &past, &secs
	if _, err := e.a.C.Kube.CoordinationV1().Leases(e.ns).Update(ctx, l, metav1.UpdateOptions{}); err != nil && !apierrors.IsConflict(err) {
		t.Fatal(err)
	}
	lock, err := Acquire(ctx, e.a.C, e.owner(), LockOptions{Holder: "next-run", Timeout: 5 * time.Second, Logf: e.logf})
	if err != nil {
		t.Fatalf("an expired lease must be taken over: %v", err)
	}
	lock.Release()
	if !strings.Contains(e.log(), "took over Lease/"+e.ns+"/driftless.shop.test from killed-runner") {
		t.Errorf("log:\n%s", e.log())
	}
}

func TestImmutableField(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.a.Deploy(ctx, e.deployment(manifests(e.ns, "no-pvc"))); err != nil {
		t.Fatalf("%v\n%s", err, e.log())
	}
	changed := strings.Replace(string(manifests(e.ns, "no-pvc")), "selector: {matchLabels: {app: api}}", "selector: {matchLabels: {app: api, tier: web}}", 1)
	changed = strings.Replace(changed, "labels: {app: api}", "labels: {app: api, tier: web}", 1)
	_, err := e.a.Deploy(ctx, e.deployment([]byte(changed)))
	var ie *ImmutableError
	if !errors.As(err, &ie) || ie.Object != "Deployment/"+e.ns+"/api" || !strings.Contains(ie.Detail, "spec.selector") {
		t.Fatalf("want an ImmutableError naming Deployment/%s/api and spec.selector, got %v", e.ns, err)
	}
	e.a.ForceRecreate = true
	out, err := e.a.Deploy(ctx, e.deployment([]byte(changed)))
	if err != nil {
		t.Fatalf("%v\n%s", err, e.log())
	}
	if c := changes(out.Results)["Deployment/"+e.ns+"/api"]; c != Recreated {
		t.Errorf("with force-recreate: %s", c)
	}
}

func TestDiffMasksSecrets(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.a.Deploy(ctx, e.deployment(manifests(e.ns, "no-pvc"))); err != nil {
		t.Fatalf("%v\n%s", err, e.log())
	}
	objs, _ := Parse(manifests(e.ns, "no-pvc", "secret-v2", "v2"))
	diffs, err := e.a.Diff(ctx, e.owner().ApplySet(), objs)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]ObjectDiff{}
	for _, d := range diffs {
		got[d.Object] = d
	}
	if c := got["ConfigMap/"+e.ns+"/runtime"].Change; c != Unchanged {
		t.Errorf("configmap: %s\n%s", c, got["ConfigMap/"+e.ns+"/runtime"].Diff)
	}
	dep := got["Deployment/"+e.ns+"/api"]
	if dep.Change != Configured || !strings.Contains(dep.Diff, "+      - image: registry.example.com/api@sha256:bbbb") {
		t.Errorf("deployment diff:\n%s", dep.Diff)
	}
	sec := got["Secret/"+e.ns+"/key"]
	if sec.Change != Configured || !strings.Contains(sec.Diff, "*** (changed)") {
		t.Errorf("secret diff:\n%s", sec.Diff)
	}
	all := fmt.Sprint(diffs)
	for _, leak := range []string{"first-value", "second-value", "Zmlyc3QtdmFsdWU", "c2Vjb25kLXZhbHVl"} {
		if strings.Contains(all, leak) {
			t.Errorf("the diff shows a Secret value (%s)", leak)
		}
	}
	// A dry run changes nothing.
	dep2, _ := e.a.C.Kube.AppsV1().Deployments(e.ns).Get(ctx, "api", metav1.GetOptions{})
	if strings.HasSuffix(dep2.Spec.Template.Spec.Containers[0].Image, "bbbb") {
		t.Error("the dry run changed the Deployment")
	}
}

// cutProxy forwards TCP to the API server until cut, then refuses.
type cutProxy struct {
	l     net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{l: l}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, u)
			p.mu.Unlock()
			go io.Copy(u, c)
			go io.Copy(c, u)
		}
	}()
	t.Cleanup(p.cut)
	return p
}

func (p *cutProxy) cut() {
	p.l.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
}

// TestAPIServerGoesAway: the connection dies mid-apply; the error says so
// (not a rollout failure), nothing is pruned, and the next run converges.
func TestAPIServerGoesAway(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	c := clustertest.Shared(t)
	if _, err := e.a.Deploy(ctx, e.deployment(manifests(e.ns, "no-pvc"))); err != nil {
		t.Fatalf("%v\n%s", err, e.log())
	}
	cfg := c.RESTConfig()
	u, _ := url.Parse(cfg.Host)
	proxy := newCutProxy(t, u.Host)
	via := rest.CopyConfig(cfg)
	via.Host = "https://" + proxy.l.Addr().String()
	clients, err := kube.NewClients(via, "")
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	flaky := &Applier{C: clients, Logf: func(f string, args ...any) {
		e.logf(f, args...)
		if strings.Contains(fmt.Sprintf(f, args...), "applying services") {
			once.Do(proxy.cut)
		}
	}}
	next := manifests(e.ns, "no-pvc", "no-configmap", "v2")
	_, err = flaky.Deploy(ctx, e.deployment(next))
	var re *RolloutError
	if err == nil || errors.As(err, &re) {
		t.Fatalf("want a connection error, got %v", err)
	}
	if !strings.Contains(err.Error(), "connection refused") && !strings.Contains(err.Error(), "EOF") && !strings.Contains(err.Error(), "connection reset") {
		t.Errorf("the error should say the API server went away: %v", err)
	}
	// Said once, not once per object that was still to go.
	var ue *UnreachableError
	if !errors.As(err, &ue) || strings.Count(err.Error(), "cannot be reached") != 1 || strings.Count(err.Error(), "\n") > 0 {
		t.Errorf("want one UnreachableError line, got:\n%v", err)
	}
	// Nothing was pruned: the ConfigMap the new manifests drop is still there.
	if _, err := e.a.C.Kube.CoreV1().ConfigMaps(e.ns).Get(ctx, "runtime", metav1.GetOptions{}); err != nil {
		t.Errorf("pruned before the apply finished: %v", err)
	}
	// The Lease could not be released: the log says until when it holds.
	if !strings.Contains(e.log(), "could not release Lease/"+e.ns+"/"+e.owner().LeaseName()) || !strings.Contains(e.log(), "a run of another holder waits until it expires at") {
		t.Errorf("the log does not say the Lease stays held:\n%s", e.log())
	}
	// The lease of the interrupted run is still held; the next run by the
	// same holder (a retried job) takes it at once and converges.
	out, err := e.a.Deploy(ctx, e.deployment(next))
	if err != nil {
		t.Fatalf("next run: %v\n%s", err, e.log())
	}
	got := changes(out.Results)
	if got["ConfigMap/"+e.ns+"/runtime"] != Pruned || got["Deployment/"+e.ns+"/api"] != Configured {
		t.Errorf("next run: %v", got)
	}
}
