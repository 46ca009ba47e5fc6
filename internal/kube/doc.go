// Package kube connects the steps that talk to a cluster (apply-env,
// smoke-test) to it: the kubeconfig and context inputs, in-cluster access,
// client rate limits and a user agent per step. Steps that never reach a
// cluster (bake-image, tag-sync) do not import it, so they do not link
// client-go.
package kube
