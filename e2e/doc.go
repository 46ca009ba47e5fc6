// Package e2e holds tests that run several driftless binaries in sequence,
// as a pipeline does, against the real components: the local control
// plane, a registry, and the example service on 127.0.0.1.
package e2e
