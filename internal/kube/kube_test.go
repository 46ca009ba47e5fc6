package kube

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/driftless-dev/driftless/internal/cluster/clustertest"
)

func TestMain(m *testing.M) { clustertest.Main(m) }

// TestClusterErrorsNameContextAndServer: a cluster that cannot be reached,
// one that refuses the credentials, and no kubeconfig at all each give a
// message that says which context and server, and what to do — never
// client-go's "try setting KUBERNETES_MASTER".
func TestClusterErrorsNameContextAndServer(t *testing.T) {
	c := clustertest.Shared(t)
	dir := t.TempDir()
	kubeconfig := func(name, server, user string) string {
		p := filepath.Join(dir, name)
		y := `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "` + server + `", insecure-skip-tls-verify: true}}]
users: [{name: u, user: ` + user + `}]
contexts: [{name: prod-eu, context: {cluster: c, user: u}}]
current-context: prod-eu
`
		if err := os.WriteFile(p, []byte(y), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct {
		name, kubeconfig string
		want             []string
	}{
		{"unreachable", kubeconfig("closed", "https://127.0.0.1:1", "{token: x}"),
			[]string{`cannot reach the cluster (context "prod-eu" at https://127.0.0.1:1)`}},
		{"unauthorised", kubeconfig("badtoken", c.RESTConfig().Host, "{token: not-a-valid-token}"),
			[]string{`the cluster (context "prod-eu" at ` + c.RESTConfig().Host + `) refused the credentials (401 Unauthorized): log in again`}},
		{"no kubeconfig", filepath.Join(dir, "missing"), []string{"loading cluster access"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clients, err := Connect(tc.kubeconfig, "", "", "driftless-test")
			if err == nil {
				err = clients.Check(t.Context())
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
	// Nothing at all: KUBECONFIG names files that do not exist, and this
	// is not a cluster's pod.
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	list := filepath.Join(dir, "a") + string(filepath.ListSeparator) + filepath.Join(dir, "b")
	_, err := Connect("", list, "", "driftless-test")
	if err == nil || strings.Contains(err.Error(), "KUBERNETES_MASTER") || !strings.Contains(err.Error(), "no cluster access: no kubeconfig at "+list) {
		t.Errorf("no access at all: %v", err)
	}
	// The real cluster passes.
	ok, err := Connect(c.Kubeconfig(), "", "", "driftless-test")
	if err != nil {
		t.Fatal(err)
	}
	if err := ok.Check(t.Context()); err != nil {
		t.Errorf("the local cluster: %v", err)
	}
}
