// Package imageref finds the container images a manifest runs and says
// which of them are the pipeline's: the one fact kustomize-render,
// validate-config and apply-env each check ("what is pinned is what
// runs"), answered once.
package imageref
