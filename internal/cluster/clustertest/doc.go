// Package clustertest gives a test binary one real Kubernetes control
// plane (package cluster), started when a test first asks for it and
// stopped when the tests end, and each test a namespace of its own:
//
//	func TestMain(m *testing.M) { clustertest.Main(m) }
//
//	func TestApply(t *testing.T) {
//		t.Parallel()
//		c := clustertest.Shared(t)
//		ns := clustertest.Namespace(t, c)
//		apps, err := c.REST(appsv1.SchemeGroupVersion)
//		...
//	}
//
// The first Shared call takes about five seconds once scripts/tool has
// built the binaries (scripts/test builds them before go test runs).
package clustertest
