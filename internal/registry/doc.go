// Package registry holds how driftless talks to container registries:
// credentials the way ko and crane find them (the Docker config and the
// credential helpers it names, the CI token for ghcr.io, then Google's,
// Amazon ECR's and Azure's keychains, each asked only for its own
// registries and within a time bound), which of them answered for which
// registry, and an error for a 401 or 403 that names them and says what to
// set; retries with backoff for 429, 5xx and dropped connections; parallel
// uploads; and plain HTTP only for loopback registries unless asked.
package registry
