package validate

import (
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"

	"github.com/driftless-dev/driftless/internal/cluster/clustertest"
)

func TestMain(m *testing.M) { clustertest.Main(m) }

// TestBuiltinScopesMatchTheAPIServer: the scope validate-config knows for
// each built-in kind is the one a real kube-apiserver 1.34 serves it with,
// and every kind it serves has one.
func TestBuiltinScopesMatchTheAPIServer(t *testing.T) {
	c := clustertest.Shared(t)
	dc, err := discovery.NewDiscoveryClientForConfig(c.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	lists, err := dc.ServerPreferredResources()
	if err != nil {
		t.Fatal(err)
	}
	served := map[schema.GroupKind]bool{}
	for _, l := range lists {
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range l.APIResources {
			served[schema.GroupKind{Group: gv.Group, Kind: r.Kind}] = r.Namespaced
		}
	}
	var missing []string
	for gk, namespaced := range served {
		got, ok := builtinScopes()[gk]
		switch {
		case !ok:
			missing = append(missing, gk.String())
		case got != namespaced:
			t.Errorf("%v: validate-config says namespaced=%v, the API server %v", gk, got, namespaced)
		}
	}
	slices.Sort(missing)
	if len(missing) > 0 {
		t.Errorf("kinds the API server serves without a scope in validate-config: %v", missing)
	}
	t.Logf("%d kinds served, %d with a known scope", len(served), len(builtinScopes()))
}
