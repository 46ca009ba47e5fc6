package apply

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
)

// TestUnchangedLocally: after a deploy, what driftless owns in the live
// objects is exactly what the manifests set, decided without a request;
// a changed manifest, or a field another manager took over, is not.
func TestUnchangedLocally(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	m := manifests(e.ns, "no-pvc")
	if _, err := e.a.Deploy(ctx, e.deployment(m)); err != nil {
		t.Fatalf("%v\n%s", err, e.log())
	}
	labelled := func(manifest []byte) []*unstructured.Unstructured {
		objs, err := Parse(manifest)
		if err != nil {
			t.Fatal(err)
		}
		e.owner().ApplySet().Label(objs)
		return objs
	}
	liveOf := func(u *unstructured.Unstructured) *unstructured.Unstructured {
		t.Helper()
		ri, _, err := e.a.resource(u)
		if err != nil {
			t.Fatal(err)
		}
		l, err := ri.Get(ctx, u.GetName(), metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	want := map[string]bool{
		"ConfigMap/" + e.ns + "/runtime": true,
		"Service/" + e.ns + "/api":       true,
		"Deployment/" + e.ns + "/api":    true,
		// stringData is stored as data: read back for the comparison.
		"Secret/" + e.ns + "/key": true,
	}
	for _, u := range labelled(m) {
		if got := unchangedLocally(u, liveOf(u)); got != want[ID(u)] {
			t.Errorf("%s: unchangedLocally = %v, want %v", ID(u), got, want[ID(u)])
		}
	}
	// A changed manifest is a change.
	for _, u := range labelled(manifests(e.ns, "no-pvc", "v2")) {
		if u.GetKind() == "Deployment" && unchangedLocally(u, liveOf(u)) {
			t.Error("a new image is not a change")
		}
	}
	// A new Secret value is a change.
	for _, u := range labelled(manifests(e.ns, "no-pvc", "secret-v2")) {
		if u.GetKind() == "Secret" && unchangedLocally(u, liveOf(u)) {
			t.Error("a new Secret value is not a change")
		}
	}
	// A field another manager took over is a change too.
	patch := []byte(`{"data":{"LOG_LEVEL":"debug"}}`)
	if _, err := e.a.C.Kube.CoreV1().ConfigMaps(e.ns).Patch(ctx, "runtime", types.MergePatchType, patch, metav1.PatchOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}
	for _, u := range labelled(m) {
		if u.GetKind() == "ConfigMap" && unchangedLocally(u, liveOf(u)) {
			t.Error("a hand edit of a field the manifests set is not a change")
		}
	}
}
