// Package validate implements validate-config: it checks the pipeline spec,
// the static configuration, every environment's rendered overlay, and every
// rendered object against the Kubernetes API types, CRD schemas and the
// project's deployment policies. Each Finding points at the source file and
// line the problem came from.
package validate
