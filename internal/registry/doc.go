// Package registry holds how driftless talks to container registries:
// credentials (the Docker config keychain, plus the CI token for ghcr.io),
// retries with backoff for 429, 5xx and dropped connections, parallel
// uploads, and plain HTTP only for loopback registries unless asked.
package registry
