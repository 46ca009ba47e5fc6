package clustertest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/driftless-dev/driftless/internal/cluster"
)

// shared is the test binary's cluster. It is the one piece of global state
// here, and deliberately so: a control plane per test would cost seconds
// and most of a gigabyte each.
var shared struct {
	mu      sync.Mutex
	main    bool
	cluster *cluster.Cluster
	err     error
}

// Main runs the tests, stops the cluster Shared started, and exits with
// the tests' code. Call it from TestMain.
func Main(m *testing.M) {
	shared.mu.Lock()
	shared.main = true
	shared.mu.Unlock()
	code := m.Run()
	shared.mu.Lock()
	if shared.cluster != nil {
		if err := shared.cluster.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "clustertest: stopping the cluster: %v\n", err)
			code = max(code, 1)
		}
	}
	shared.mu.Unlock()
	os.Exit(code)
}

// Shared returns the test binary's cluster, starting it on first use. A
// cluster that failed to start fails every test that asks for it.
func Shared(tb testing.TB) *cluster.Cluster {
	tb.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if !shared.main {
		tb.Fatal("clustertest: Shared needs func TestMain(m *testing.M) { clustertest.Main(m) }, which stops the cluster")
	}
	if shared.cluster == nil && shared.err == nil {
		start := time.Now()
		shared.cluster, shared.err = cluster.Start(context.Background())
		if shared.err == nil {
			tb.Logf("clustertest: cluster started in %.1fs at %s", time.Since(start).Seconds(), shared.cluster.RESTConfig().Host)
		}
	}
	if shared.err != nil {
		tb.Fatalf("clustertest: %v", shared.err)
	}
	return shared.cluster
}

// Namespace creates a namespace for the test, named after it, waits until
// it has its default ServiceAccount (the API server refuses pods until
// then), and deletes it when the test ends. Deleting does not wait:
// KWOK deletes the pods and the pool's volumes come back on their own.
func Namespace(tb testing.TB, c *cluster.Cluster) string {
	tb.Helper()
	core, err := c.REST(corev1.SchemeGroupVersion)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(tb.Context(), 30*time.Second)
	defer cancel()
	var ns corev1.Namespace
	err = core.Post().Resource("namespaces").
		Body(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: namePrefix(tb.Name())}}).
		Do(ctx).Into(&ns)
	if err != nil {
		tb.Fatalf("creating a namespace for %s: %v", tb.Name(), err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := core.Delete().Resource("namespaces").Name(ns.Name).Do(ctx).Error(); err != nil {
			tb.Errorf("deleting Namespace/%s: %v", ns.Name, err)
		}
	})
	for {
		err := core.Get().Namespace(ns.Name).Resource("serviceaccounts").Name("default").Do(ctx).Error()
		if err == nil {
			return ns.Name
		}
		select {
		case <-ctx.Done():
			tb.Fatalf("waiting for ServiceAccount/%s/default: %v", ns.Name, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// namePrefix turns a test's name into the start of a namespace name: a
// DNS label short enough to take the API server's random suffix.
func namePrefix(test string) string {
	var b strings.Builder
	dash := true // no leading dash
	for _, r := range strings.ToLower(test) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
			dash = false
		case !dash:
			b.WriteByte('-')
			dash = true
		}
		if b.Len() >= 40 {
			break
		}
	}
	prefix := strings.TrimSuffix(b.String(), "-")
	if prefix == "" {
		prefix = "test"
	}
	return prefix + "-"
}
