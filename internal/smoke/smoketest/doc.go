// Package smoketest gives smoke-test's tests the real example service,
// pssp-api, built from this repository and run on 127.0.0.1 over a static
// configuration directory of the test's choosing, and a way to put it
// behind a Service of the local test cluster.
//
// The example's HTTP handler lives in example/internal, which packages
// outside example/ cannot import, so the binary is built (once per test
// process, cached under the user's cache directory) and run as a process
// that each test stops when it ends.
package smoketest
