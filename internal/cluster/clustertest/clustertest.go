package clustertest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/driftless-dev/driftless/internal/cluster"
	"github.com/driftless-dev/driftless/internal/testtool"
)

// shared holds the test binary's clusters: one with KWOK's node, one with
// a real node. It is the one piece of global state here, and deliberately
// so: a control plane per test would cost seconds and most of a gigabyte
// each.
var shared struct {
	mu       sync.Mutex
	main     bool
	clusters [2]struct {
		cluster *cluster.Cluster
		err     error
	}
	// several are the clusters Several started, started bool once it ran.
	several    []*cluster.Cluster
	severalErr error
	started    bool
}

// Main runs the tests, stops the clusters Shared and SharedNode started,
// and exits with the tests' code. Call it from TestMain. An interrupt or
// SIGTERM stops them too before the test binary exits (a real node's
// containers would outlive it otherwise, until the next real node's start
// swept them up).
func Main(m *testing.M) {
	shared.mu.Lock()
	shared.main = true
	shared.mu.Unlock()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		s := <-sigs
		fmt.Fprintf(os.Stderr, "clustertest: %v: stopping the clusters\n", s)
		stopAll()
		os.Exit(1)
	}()
	code := m.Run()
	signal.Stop(sigs)
	if !stopAll() {
		code = max(code, 1)
	}
	os.Exit(code)
}

// stopAll stops the clusters, and says whether all stopped cleanly.
func stopAll() bool {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	ok := true
	all := shared.several
	for i := range shared.clusters {
		all = append(all, shared.clusters[i].cluster)
	}
	for _, c := range all {
		if c != nil {
			if err := c.Stop(); err != nil {
				fmt.Fprintf(os.Stderr, "clustertest: stopping the cluster: %v\n", err)
				ok = false
			}
		}
	}
	return ok
}

// Several returns n control planes of the test binary's own (multi-cluster
// tests), started at once on first use with opts and stopped by Main like
// Shared's. Every call in a test binary must ask for the same n.
func Several(tb testing.TB, n int, opts ...cluster.Option) []*cluster.Cluster {
	tb.Helper()
	shared.mu.Lock()
	if !shared.main {
		shared.mu.Unlock()
		tb.Fatal("clustertest: Several needs func TestMain(m *testing.M) { clustertest.Main(m) }, which stops the clusters")
	}
	if !shared.started {
		shared.started = true
		start := time.Now()
		cs := make([]*cluster.Cluster, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { cs[i], errs[i] = cluster.Start(context.Background(), opts...) })
		}
		wg.Wait()
		shared.several, shared.severalErr = cs, errors.Join(errs...)
		if shared.severalErr == nil {
			tb.Logf("clustertest: %d control planes started in %.1fs", n, time.Since(start).Seconds())
		}
	}
	cs, err := shared.several, shared.severalErr
	shared.mu.Unlock()
	if err != nil {
		tb.Fatalf("clustertest: %v", err)
	}
	if len(cs) != n {
		tb.Fatalf("clustertest: Several(%d) after Several(%d) in one test binary", n, len(cs))
	}
	return cs
}

// Shared returns the test binary's cluster with KWOK's simulated node,
// starting it on first use: fast, and its pods become Ready or fail as
// the test's labels say (cluster.UnreadyLabel) without running anything.
// A cluster that failed to start fails every test that asks for it.
func Shared(tb testing.TB) *cluster.Cluster {
	tb.Helper()
	return sharedCluster(tb, 0)
}

// SharedNode returns the test binary's cluster with a real node
// (cluster.WithRealNode), starting it on first use, for tests whose pods
// must really run: images pushed to c.Registry() (see GoImage), readiness
// probes, logs, Services, volumes that keep data.
func SharedNode(tb testing.TB) *cluster.Cluster {
	tb.Helper()
	return sharedCluster(tb, 1, cluster.WithRealNode())
}

func sharedCluster(tb testing.TB, i int, opts ...cluster.Option) *cluster.Cluster {
	tb.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if !shared.main {
		tb.Fatal("clustertest: Shared and SharedNode need func TestMain(m *testing.M) { clustertest.Main(m) }, which stops the cluster")
	}
	s := &shared.clusters[i]
	if s.cluster == nil && s.err == nil {
		start := time.Now()
		s.cluster, s.err = cluster.Start(context.Background(), opts...)
		if s.err == nil {
			tb.Logf("clustertest: cluster with node %s started in %.1fs at %s", s.cluster.NodeName(), time.Since(start).Seconds(), s.cluster.RESTConfig().Host)
		}
	}
	if s.err != nil {
		tb.Fatalf("clustertest: %v", s.err)
	}
	return s.cluster
}

// GoImage builds the Go program pkg of the driftless repository (a
// package path relative to its root, like "./internal/cluster/testdata/hello"),
// static, pushes it as a one-program image to the real node's registry
// and returns the image's reference by digest.
func GoImage(tb testing.TB, c *cluster.Cluster, pkg string) string {
	tb.Helper()
	out := filepath.Join(tb.TempDir(), filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, pkg)
	cmd.Dir = testtool.Root(tb)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("building %s: %v\n%s", pkg, err, b)
	}
	ref, err := c.PushProgram(tb.Context(), "test/"+filepath.Base(pkg), out)
	if err != nil {
		tb.Fatal(err)
	}
	return ref
}

// Namespace creates a namespace for the test, named after it, waits until
// it has its default ServiceAccount (the API server refuses pods until
// then), and deletes it when the test ends. Deleting does not wait:
// the node deletes the pods (and, with KWOK, the pool's volumes come back
// on their own).
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
