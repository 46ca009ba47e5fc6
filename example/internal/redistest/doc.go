// Package redistest starts a real redis-server for tests.
//
// The server listens on 127.0.0.1 only, keeps nothing on disk, and is killed
// when the test ends. Tests that need it skip when redis-server is not
// installed, unless the CI environment variable is set: CI installs it, so
// there a missing server is a failure, not a reason to pass quietly.
package redistest
