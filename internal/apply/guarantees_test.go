package apply

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/driftless-dev/driftless/internal/kube"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/driftless-dev/driftless/internal/cluster/clustertest"
)

// service is a small service of one pipeline: a ConfigMap and a
// Deployment named after it, plus extra objects.
func service(ns, name, version string, extra ...string) []byte {
	b := fmt.Sprintf(`apiVersion: v1
kind: ConfigMap
metadata: {name: %[2]s-config, namespace: %[1]s}
data: {VERSION: %[3]s}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: %[2]s, namespace: %[1]s}
spec:
  replicas: 1
  selector: {matchLabels: {app: %[2]s}}
  template:
    metadata: {labels: {app: %[2]s}}
    spec:
      containers: [{name: app, image: "registry.example.com/%[2]s:%[3]s"}]
`, ns, name, version)
	for _, x := range extra {
		b += "---\n" + x
	}
	return []byte(b)
}

func configMap(ns, name string) string {
	return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: %s, namespace: %s}\ndata: {a: b}\n", name, ns)
}

// TestMonorepoOwners: two pipelines deploy an environment called prod into
// one namespace. Each prunes and rolls back only its own objects, and
// neither touches an object made by hand.
func TestMonorepoOwners(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	deploy := func(pipeline string, m []byte, rollback bool) *Outcome {
		t.Helper()
		d := Deployment{Pipeline: pipeline, Env: "prod", Namespace: e.ns, Manifests: m, Digest: "sha256:" + pipeline,
			Timeout: time.Minute, Holder: t.Name(), LockTimeout: 30 * time.Second, Rollback: rollback}
		out, err := e.a.Deploy(ctx, d)
		if err != nil {
			t.Fatalf("%s: %v\n%s", pipeline, err, e.log())
		}
		return out
	}
	// Made with kubectl: nobody's.
	if _, err := e.a.C.Kube.CoreV1().ConfigMaps(e.ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "by-hand", Namespace: e.ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	deploy("shop", service(e.ns, "shop", "v1", configMap(e.ns, "shop-extra")), false)
	deploy("billing", service(e.ns, "billing", "v1", configMap(e.ns, "billing-extra")), false)
	deploy("shop", service(e.ns, "shop", "v2"), false)
	out := deploy("billing", service(e.ns, "billing", "v2"), false)

	exists := func(name string) bool {
		_, err := e.a.C.Kube.CoreV1().ConfigMaps(e.ns).Get(ctx, name, metav1.GetOptions{})
		return err == nil
	}
	for name, want := range map[string]bool{"shop-extra": false, "billing-extra": false, "shop-config": true, "billing-config": true, "by-hand": true} {
		if exists(name) != want {
			t.Errorf("ConfigMap %s exists %v, want %v", name, !want, want)
		}
	}
	if diff := cmp.Diff(map[string]Change{
		"ConfigMap/" + e.ns + "/billing-config": Configured, "Deployment/" + e.ns + "/billing": Configured, "ConfigMap/" + e.ns + "/billing-extra": Pruned,
	}, changes(out.Results)); diff != "" {
		t.Errorf("billing's second deploy touched more than its own objects (-want +got):\n%s", diff)
	}
	// Rolling shop back restores shop's release 1 and nothing of billing's.
	back := deploy("shop", nil, true)
	if back.Revision != 3 || back.Previous != 2 {
		t.Errorf("shop's rollback: revision %d previous %d", back.Revision, back.Previous)
	}
	img := func(name string) string {
		dep, err := e.a.C.Kube.AppsV1().Deployments(e.ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return dep.Spec.Template.Spec.Containers[0].Image
	}
	if img("shop") != "registry.example.com/shop:v1" || img("billing") != "registry.example.com/billing:v2" {
		t.Errorf("after shop's rollback: shop runs %s, billing %s", img("shop"), img("billing"))
	}
	if !exists("shop-extra") || exists("billing-extra") {
		t.Errorf("shop's rollback: shop-extra %v (want back), billing-extra %v (want gone)", exists("shop-extra"), exists("billing-extra"))
	}
	for _, p := range []string{"shop", "billing"} {
		h, err := History(ctx, e.a.C, Owner{Pipeline: p, Env: "prod", Namespace: e.ns}, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range h {
			if r.Digest != "sha256:"+p {
				t.Errorf("%s's history holds %s's release %d", p, r.Digest, r.Revision)
			}
		}
	}
}

// TestLegacyNamesAdopted: an environment deployed when ApplySet, Lease and
// releases were named after the environment alone keeps working: its
// history is adopted (revisions go on, rollback reaches the old release),
// its objects move to the new set, and what the new manifests lack is
// left alone, never pruned through the rename.
func TestLegacyNamesAdopted(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	o := e.owner()
	legacy := o.legacyApplySet()
	// What an earlier driftless left: objects in the legacy set, its
	// parent, and a release Secret labelled with the environment only.
	old := service(e.ns, "shop", "v1", configMap(e.ns, "dropped"))
	objs, err := Parse(old)
	if err != nil {
		t.Fatal(err)
	}
	d := e.deployment(old)
	if _, err := e.a.rollout(ctx, legacy, objs, nil, d); err != nil {
		t.Fatalf("%v\n%s", err, e.log())
	}
	legacyRelease(t, e, 1, old)

	repos := []string{"registry.example.com/shop"}
	d = e.deployment(service(e.ns, "shop", "v2"))
	d.ImageRepos = repos
	out, err := e.a.Deploy(ctx, d)
	if err != nil {
		t.Fatalf("%v\n%s", err, e.log())
	}
	if out.Revision != 2 || out.Previous != 1 {
		t.Errorf("revision %d previous %d: the old history was not adopted", out.Revision, out.Previous)
	}
	if diff := cmp.Diff([]string{"ConfigMap/" + e.ns + "/dropped"}, out.LegacyLeft); diff != "" {
		t.Errorf("objects left in the old set (-want +got):\n%s", diff)
	}
	if _, err := e.a.C.Kube.CoreV1().ConfigMaps(e.ns).Get(ctx, "dropped", metav1.GetOptions{}); err != nil {
		t.Errorf("an object of the old set was pruned through the rename: %v", err)
	}
	cm, _ := e.a.C.Kube.CoreV1().ConfigMaps(e.ns).Get(ctx, "shop-config", metav1.GetOptions{})
	if got := cm.Labels[LabelPartOf]; got != o.ApplySet().ID() {
		t.Errorf("shop-config is in set %q, want the new %q", got, o.ApplySet().ID())
	}
	h, err := History(ctx, e.a.C, o, nil)
	if err != nil || len(h) != 2 {
		t.Fatalf("history %v %v: want the adopted release and the new one, labelled as the owner's", h, err)
	}
	// Rolling back reaches the release recorded under the old names.
	d = e.deployment(nil)
	d.Rollback = true
	back, err := e.a.Deploy(ctx, d)
	if err != nil || back.Revision != 3 {
		t.Fatalf("rollback: %v %+v\n%s", err, back, e.log())
	}
	dep, _ := e.a.C.Kube.AppsV1().Deployments(e.ns).Get(ctx, "shop", metav1.GetOptions{})
	if img := dep.Spec.Template.Spec.Containers[0].Image; img != "registry.example.com/shop:v1" {
		t.Errorf("after rollback the Deployment runs %s", img)
	}
	// Once nothing refers to the old set, its parent goes.
	if err := e.a.C.Kube.CoreV1().ConfigMaps(e.ns).Delete(ctx, "dropped", metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	if _, err := e.a.Deploy(ctx, e.deployment(service(e.ns, "shop", "v3"))); err != nil {
		t.Fatal(err)
	}
	if _, err := e.a.C.Kube.CoreV1().Secrets(e.ns).Get(ctx, legacy.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the old ApplySet parent is still there: %v", err)
	}
}

// legacyRelease records a release the way driftless did before releases
// were keyed by pipeline.
func legacyRelease(t *testing.T, e *env, rev int, manifests []byte) {
	t.Helper()
	o := e.owner()
	r := &ReleaseRecord{Status: StatusDeployed, Digest: "sha256:old", Version: "v1", Manifests: manifests, Time: time.Now()}
	if _, err := Record(context.Background(), e.a.C, o, r, nil); err != nil {
		t.Fatal(err)
	}
	// Record names and labels it the new way: undo that.
	s, err := e.a.C.Kube.CoreV1().Secrets(e.ns).Get(context.Background(), r.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.ObjectMeta = metav1.ObjectMeta{Name: fmt.Sprintf("driftless.release.%s.v%d", o.Env, rev), Namespace: e.ns, Labels: s.Labels, Annotations: s.Annotations}
	delete(s.Labels, LabelPipeline)
	if _, err := e.a.C.Kube.CoreV1().Secrets(e.ns).Create(context.Background(), s, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := e.a.C.Kube.CoreV1().Secrets(e.ns).Delete(context.Background(), r.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestRefusedLeavesNothing: everything that would make a deployment fail
// part-way is found before the first write, and a refusal leaves no
// namespace, Lease, ApplySet or release behind.
func TestRefusedLeavesNothing(t *testing.T) {
	t.Parallel()
	c := clustertest.Shared(t)
	existing := clustertest.Namespace(t, c)
	clients, err := kube.NewClients(c.RESTConfig(), "")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// An object of another pipeline's set, in the existing namespace.
	other := Owner{Pipeline: "other", Env: "test", Namespace: existing}
	theirs, _ := Parse([]byte(configMap(existing, "theirs")))
	other.ApplySet().Label(theirs)
	if _, _, _, err := (&Applier{C: clients}).Apply(ctx, theirs[0], false); err != nil {
		t.Fatal(err)
	}
	fresh := existing + "-fresh" // does not exist: apply-env would create it
	secret := func(ns string) string {
		return fmt.Sprintf("apiVersion: v1\nkind: Secret\nmetadata: {name: pin, namespace: %s}\nstringData: {PIN: 7351904273}\n", ns)
	}
	cases := []struct {
		name, ns  string
		manifests string
		timeout   time.Duration
		want      []string
	}{
		{"no namespace", existing, string(service(existing, "shop", "v1")) + "---\n" + "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: loose}\ndata: {a: b}\n", time.Minute,
			[]string{"ConfigMap/loose: namespaced object without a namespace: set namespace: " + existing}},
		{"no namespace, fresh", fresh, string(service(fresh, "shop", "v1")) + "---\n" + "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: loose}\ndata: {a: b}\n", time.Minute,
			[]string{"ConfigMap/loose: namespaced object without a namespace"}},
		{"unknown kind", existing, string(service(existing, "shop", "v1")) + "---\napiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w, namespace: " + existing + "}\n", time.Minute,
			[]string{"Widget/" + existing + "/w: the cluster does not serve example.com/v1, Kind=Widget, and no CustomResourceDefinition in the manifests defines it"}},
		{"another set's object", existing, string(service(existing, "shop", "v1", configMap(existing, "theirs"))), time.Minute,
			[]string{"ConfigMap/" + existing + "/theirs: already exists as a member of another ApplySet"}},
		{"missing other namespace", existing, string(service(existing, "shop", "v1", configMap("nowhere-"+existing, "x"))), time.Minute,
			[]string{`namespace "nowhere-` + existing + `" does not exist and the manifests do not create it`}},
		{"zero timeout", existing, string(service(existing, "shop", "v1")), 0,
			[]string{"the health timeout is 0s: give a positive duration"}},
		{"invalid object", existing, string(service(existing, "shop", "v1", secret(existing))), time.Minute,
			[]string{"Secret/" + existing + "/pin: applying:"}},
		{"invalid object, fresh namespace", fresh, string(service(fresh, "shop", "v1", secret(fresh))), time.Minute,
			[]string{"Secret/" + fresh + "/pin: applying:"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := &Applier{C: clients, Logf: t.Logf}
			d := Deployment{Pipeline: "shop", Env: "test", Namespace: tc.ns, Manifests: []byte(tc.manifests),
				Timeout: tc.timeout, Holder: t.Name(), LockTimeout: 10 * time.Second}
			_, err := a.Deploy(ctx, d)
			var re *RefusedError
			if !errors.As(err, &re) {
				t.Fatalf("want a RefusedError, got %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if _, err := clients.Kube.CoreV1().Namespaces().Get(ctx, fresh, metav1.GetOptions{}); err == nil {
				// Deleting a namespace takes a moment: it must be going.
				if ns, _ := clients.Kube.CoreV1().Namespaces().Get(ctx, fresh, metav1.GetOptions{}); ns.DeletionTimestamp == nil {
					t.Errorf("Namespace/%s was created and left behind", fresh)
				}
			}
			o := d.Owner()
			if _, err := clients.Kube.CoordinationV1().Leases(tc.ns).Get(ctx, o.LeaseName(), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				t.Errorf("a Lease was left behind: %v", err)
			}
			if _, err := clients.Kube.CoreV1().Secrets(tc.ns).Get(ctx, o.ApplySet().Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				t.Errorf("an ApplySet parent was left behind: %v", err)
			}
			if _, err := clients.Kube.AppsV1().Deployments(tc.ns).Get(ctx, "shop", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				t.Errorf("the Deployment was applied: %v", err)
			}
		})
	}
}

// TestRollbackTellsTruth: a release whose pods crash-loop fails fast and is
// rolled back; the pods of the failed ReplicaSet linger while they stop,
// but health judges the current ReplicaSet, so the report says release 1
// was restored and is healthy. The history stays consistent: the next
// good deploy works and --rollback goes to the release before it, never
// to the failed one.
func TestRollbackTellsTruth(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	t.Cleanup(func() { releaseHeldPods(e) })
	if _, err := e.a.Deploy(ctx, e.deployment(manifests(e.ns, "no-pvc"))); err != nil {
		t.Fatalf("%v\n%s", err, e.log())
	}
	d := e.deployment(manifests(e.ns, "no-pvc", "crashloop"))
	d.Version = "v2"
	start := time.Now()
	out, err := e.a.Deploy(ctx, d)
	var re *RolloutError
	if !errors.As(err, &re) || !re.RollbackOK || !out.RolledBack {
		t.Fatalf("want a rollout error with a successful rollback, got %v\n%s", err, e.log())
	}
	for _, want := range []string{"rollout of release 2 (v2) failed: ", "Deployment/" + e.ns + "/api failed: pod api-", "CrashLoopBackOff", "rolled back: release 1 was restored and is healthy"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if strings.Contains(err.Error(), "failed too") {
		t.Errorf("the rollback is reported as failed although release 1 is live: %v", err)
	}
	if took := time.Since(start); took > time.Minute {
		t.Errorf("failing took %s: a crash loop must fail fast", took)
	}
	// The failed release's pods are still terminating: what made the
	// report lie before.
	pods, _ := e.a.C.Kube.CoreV1().Pods(e.ns).List(ctx, metav1.ListOptions{LabelSelector: "app=api"})
	terminating := 0
	for _, p := range pods.Items {
		if p.DeletionTimestamp != nil {
			terminating++
		}
	}
	if terminating == 0 {
		t.Log("no pod of the failed release was terminating at the end: the test did not reproduce the condition")
	}
	releaseHeldPods(e)

	ok, err := e.a.Deploy(ctx, e.deployment(manifests(e.ns, "no-pvc", "v2")))
	if err != nil || ok.Revision != 3 || ok.Previous != 1 {
		t.Fatalf("the next good deploy: %v %+v\n%s", err, ok, e.log())
	}
	d = e.deployment(nil)
	d.Rollback = true
	back, err := e.a.Deploy(ctx, d)
	if err != nil || back.Revision != 4 {
		t.Fatalf("rollback: %v %+v", err, back)
	}
	h, _ := History(ctx, e.a.C, e.owner(), nil)
	if h[0].RollbackOf != 1 {
		t.Errorf("--rollback restored release %d, want 1 (release 2 failed)", h[0].RollbackOf)
	}
}

// releaseHeldPods removes the test finalizer from the environment's pods.
func releaseHeldPods(e *env) {
	ctx := context.Background()
	pods, err := e.a.C.Kube.CoreV1().Pods(e.ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return
	}
	for _, p := range pods.Items {
		if len(p.Finalizers) > 0 {
			_, _ = e.a.C.Kube.CoreV1().Pods(e.ns).Patch(ctx, p.Name, types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{})
		}
	}
}

// TestDriftCorrectionIsNotARelease: re-applying the live release after a
// hand edit puts the object back and records that on the release, but no
// new release identical to the last.
func TestDriftCorrectionIsNotARelease(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	m := manifests(e.ns, "no-pvc")
	if _, err := e.a.Deploy(ctx, e.deployment(m)); err != nil {
		t.Fatalf("%v\n%s", err, e.log())
	}
	patch := []byte(`{"data":{"LOG_LEVEL":"debug"}}`)
	if _, err := e.a.C.Kube.CoreV1().ConfigMaps(e.ns).Patch(ctx, "runtime", types.MergePatchType, patch, metav1.PatchOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}
	out, err := e.a.Deploy(ctx, e.deployment(m))
	if err != nil {
		t.Fatal(err)
	}
	if out.Revision != 1 || !out.Changed {
		t.Errorf("revision %d changed %v: want the same release, changed", out.Revision, out.Changed)
	}
	if diff := cmp.Diff([]string{"ConfigMap/" + e.ns + "/runtime configured"}, out.DriftCorrected); diff != "" {
		t.Errorf("drift corrected (-want +got):\n%s", diff)
	}
	cm, _ := e.a.C.Kube.CoreV1().ConfigMaps(e.ns).Get(ctx, "runtime", metav1.GetOptions{})
	if cm.Data["LOG_LEVEL"] != "info" {
		t.Errorf("the hand edit was not reverted: %v", cm.Data)
	}
	h, _ := History(ctx, e.a.C, e.owner(), nil)
	if len(h) != 1 || !strings.Contains(h[0].DriftCorrected, "ConfigMap/"+e.ns+"/runtime configured") {
		t.Errorf("history %+v: want one release recording the correction", h)
	}
}

// TestLeaseLostStopsDeploy: when another run takes the Lease over (its
// holder thought it expired), the deployment stops instead of writing
// alongside it, and says so.
func TestLeaseLostStopsDeploy(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	e.a.LeaseDuration = 3 * time.Second
	if _, err := e.a.Deploy(ctx, e.deployment(manifests(e.ns, "no-pvc"))); err != nil {
		t.Fatalf("%v\n%s", err, e.log())
	}
	intruded := make(chan struct{})
	logf := e.a.Logf
	e.a.Logf = func(f string, args ...any) {
		logf(f, args...)
		if strings.HasPrefix(f, "apply-env: waiting for health") {
			go func() {
				defer close(intruded)
				l, err := e.a.C.Kube.CoordinationV1().Leases(e.ns).Get(ctx, e.owner().LeaseName(), metav1.GetOptions{})
				if err != nil {
					t.Error(err)
					return
				}
				other := "https://ci.example.com/run/intruder"
				l.Spec.HolderIdentity = &other
				if _, err := e.a.C.Kube.CoordinationV1().Leases(e.ns).Update(ctx, l, metav1.UpdateOptions{}); err != nil {
					t.Error(err)
				}
			}()
		}
	}
	d := e.deployment(manifests(e.ns, "no-pvc", "unready"))
	d.Timeout = time.Minute
	start := time.Now()
	_, err := e.a.Deploy(ctx, d)
	<-intruded
	var lost *LeaseLostError
	if !errors.As(err, &lost) || lost.Holder != "https://ci.example.com/run/intruder" {
		t.Fatalf("want a LeaseLostError naming the new holder, got %v\n%s", err, e.log())
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("stopping took %s", took)
	}
}

// TestTrimKeepsLastHealthy: ten failed releases in a row never evict the
// last deployed one, which rollback needs.
func TestTrimKeepsLastHealthy(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	o := e.owner()
	good := &ReleaseRecord{Status: StatusDeployed, Version: "v1", Manifests: []byte("{}"), Time: time.Now()}
	history := []*ReleaseRecord{}
	if _, err := Record(ctx, e.a.C, o, good, history); err != nil {
		t.Fatal(err)
	}
	for i := range HistoryLimit + 2 {
		h, err := History(ctx, e.a.C, o, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Record(ctx, e.a.C, o, &ReleaseRecord{Status: StatusFailed, Version: fmt.Sprintf("v2.%d", i), Manifests: []byte("{}"), Time: time.Now()}, h); err != nil {
			t.Fatal(err)
		}
	}
	h, err := History(ctx, e.a.C, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	if last := LastDeployed(h); last == nil || last.Version != "v1" {
		t.Errorf("the last deployed release was evicted: %+v", last)
	}
	if len(h) != HistoryLimit+1 {
		t.Errorf("%d releases kept, want the %d newest and the last deployed", len(h), HistoryLimit)
	}
}

// TestOlderReleaseNeverLandsLast: two runs started together serialise on
// the Lease; the one carrying the older release, which saw an older live
// release when it was prepared, is refused once it gets the Lease, instead
// of landing after the newer one.
func TestOlderReleaseNeverLandsLast(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	deployment := func(version string, opts ...string) Deployment {
		d := e.deployment(manifests(e.ns, append([]string{"no-pvc"}, opts...)...))
		d.Version, d.Holder = version, "run-"+version
		return d
	}
	if _, err := e.a.Deploy(ctx, deployment("v1.0.0")); err != nil {
		t.Fatalf("%v\n%s", err, e.log())
	}
	// Run A holds the Lease; run B, with an older release, is prepared
	// while v1.0.0 is live and waits.
	lockA, err := Acquire(ctx, e.a.C, e.owner(), LockOptions{Holder: "run-v1.2.4", Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	planB, err := e.a.Prepare(ctx, deployment("v1.2.3", "secret-v2"))
	if err != nil {
		t.Fatal(err)
	}
	errB := make(chan error, 1)
	go func() {
		_, err := e.a.Run(ctx, planB)
		errB <- err
	}()
	if _, err := e.a.Deploy(ctx, deployment("v1.2.4", "v2")); err != nil {
		t.Fatalf("run A: %v\n%s", err, e.log())
	}
	lockA.Release()
	err = <-errB
	var oe *OutdatedError
	if !errors.As(err, &oe) || oe.Live != "v1.2.4" {
		t.Fatalf("run B: want an OutdatedError naming v1.2.4, got %v\n%s", err, e.log())
	}
	h, _ := History(ctx, e.a.C, e.owner(), nil)
	if h[0].Version != "v1.2.4" || len(h) != 2 {
		t.Errorf("history %+v: the older release was recorded", h)
	}
	sec, _ := e.a.C.Kube.CoreV1().Secrets(e.ns).Get(ctx, "key", metav1.GetOptions{})
	if string(sec.Data["key"]) != "first-value" {
		t.Errorf("run B applied its Secret: %q", sec.Data["key"])
	}
	// A later run of the older release is refused up front; a rollback
	// is how to go back.
	if _, err := e.a.Prepare(ctx, deployment("v1.2.3")); !errors.As(err, &oe) {
		t.Errorf("preparing an older release: %v", err)
	}
}

// TestCancelledMidRollout: a cancelled CI job stops the deployment while
// it waits for health; within the grace period the last deployed release
// is put back, the cut-short release is recorded as cancelled, and the
// error says what is live.
func TestCancelledMidRollout(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if _, err := e.a.Deploy(context.Background(), e.deployment(manifests(e.ns, "no-pvc"))); err != nil {
		t.Fatalf("%v\n%s", err, e.log())
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logf := e.a.Logf
	e.a.Logf = func(f string, args ...any) {
		logf(f, args...)
		if strings.HasPrefix(f, "apply-env: waiting for health") {
			cancel() // SIGTERM
		}
	}
	d := e.deployment(manifests(e.ns, "no-pvc", "unready"))
	d.Version = "v2"
	start := time.Now()
	_, err := e.a.Deploy(ctx, d)
	var ce *CancelledError
	if !errors.As(err, &ce) || !ce.Restored || ce.RolledBack != 1 || ce.Release != 2 {
		t.Fatalf("want a CancelledError saying release 1 was put back, got %v\n%s", err, e.log())
	}
	if !strings.Contains(err.Error(), "cancelled during the rollout of release 2 (v2): release 1 () was re-applied within the 5s grace period") {
		t.Errorf("error: %v", err)
	}
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("stopping took %s", took)
	}
	dep, _ := e.a.C.Kube.AppsV1().Deployments(e.ns).Get(context.Background(), "api", metav1.GetOptions{})
	if _, bad := dep.Spec.Template.Labels["driftless.dev/test-unready"]; bad {
		t.Error("the cut-short release is still live")
	}
	h, _ := History(context.Background(), e.a.C, e.owner(), nil)
	if len(h) != 2 || h[0].Status != StatusCancelled || !strings.Contains(h[0].Note, "release 1 re-applied") || LastDeployed(h).Revision != 1 {
		t.Errorf("history: %+v", h)
	}
}

// TestHistoryKeepsNoSecretValues: release Secrets hold a hash of each
// Secret's values, never the values; a rollback in the same run restores
// the previous values exactly (from memory), and a later --rollback keeps
// the live values, since older ones are not kept.
func TestHistoryKeepsNoSecretValues(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	secretValue := func() string {
		s, err := e.a.C.Kube.CoreV1().Secrets(e.ns).Get(ctx, "key", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return string(s.Data["key"])
	}
	if _, err := e.a.Deploy(ctx, e.deployment(manifests(e.ns, "no-pvc"))); err != nil {
		t.Fatalf("%v\n%s", err, e.log())
	}
	if _, err := e.a.Deploy(ctx, e.deployment(manifests(e.ns, "no-pvc", "v2", "secret-v2"))); err != nil {
		t.Fatalf("%v\n%s", err, e.log())
	}
	// A release that fails and changed the value: rolled back, the value
	// is release 2's again.
	failing := strings.Replace(string(manifests(e.ns, "no-pvc", "unready", "secret-v2")), "second-value", "third-value", 1)
	d := e.deployment([]byte(failing))
	d.Timeout = 3 * time.Minute
	if _, err := e.a.Deploy(ctx, d); err == nil {
		t.Fatal("the unready release deployed")
	}
	if v := secretValue(); v != "second-value" {
		t.Errorf("after the automatic rollback the Secret holds %q, want release 2's", v)
	}
	list, err := e.a.C.Kube.CoreV1().Secrets(e.ns).List(ctx, metav1.ListOptions{LabelSelector: LabelRelease + "=true"})
	if err != nil || len(list.Items) != 3 {
		t.Fatalf("%d release Secrets, %v", len(list.Items), err)
	}
	for _, s := range list.Items {
		r, err := fromSecret(&s)
		if err != nil {
			t.Fatal(err)
		}
		for _, leak := range []string{"first-value", "second-value", "third-value", "Zmlyc3QtdmFsdWU", "c2Vjb25kLXZhbHVl", "dGhpcmQtdmFsdWU"} {
			if strings.Contains(string(r.Manifests), leak) {
				t.Errorf("release %d keeps a Secret value (%s)", r.Revision, leak)
			}
		}
		if !strings.Contains(string(r.Manifests), annotationValuesHash) {
			t.Errorf("release %d records no hash of the Secret's values", r.Revision)
		}
	}
	// --rollback to release 1: its value is not kept; the live one stays.
	d = e.deployment(nil)
	d.Rollback = true
	if _, err := e.a.Deploy(ctx, d); err != nil {
		t.Fatalf("%v\n%s", err, e.log())
	}
	if v := secretValue(); v != "second-value" {
		t.Errorf("after --rollback the Secret holds %q, want the live value kept", v)
	}
	if !strings.Contains(e.log(), "Secret/"+e.ns+"/key keeps its current values") {
		t.Errorf("the rollback did not say the Secret keeps its values:\n%s", e.log())
	}
	s, _ := e.a.C.Kube.CoreV1().Secrets(e.ns).Get(ctx, "key", metav1.GetOptions{})
	if _, ok := s.Annotations[annotationValuesHash]; ok {
		t.Error("the history's hash annotation reached the live Secret")
	}
}
