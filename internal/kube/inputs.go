package kube

import (
	"context"

	"github.com/driftless-dev/driftless/internal/step"
)

// The inputs of steps that talk to the cluster.
var (
	KubeconfigInput = step.Input{Name: "kubeconfig", Description: "Kubeconfig file; defaults to KUBECONFIG, ~/.kube/config, then the in-cluster service account."}
	ContextInput    = step.Input{Name: "context", Description: "Kubeconfig context; defaults to the current one."}
	Inputs          = []step.Input{KubeconfigInput, ContextInput}
)

// Given reports whether cluster access was asked for explicitly (not just
// a ~/.kube/config that happens to exist).
func Given(s *step.Context) bool {
	return s.String(KubeconfigInput) != "" || s.Getenv("KUBECONFIG") != "" || s.String(ContextInput) != ""
}

// ForStep connects as the step's inputs say, reading KUBECONFIG from the
// step's environment, with the step's name and version as user agent.
// The cluster is asked for its version first, so an unreachable or
// unauthorised cluster is reported naming its context and server.
func ForStep(ctx context.Context, s *step.Context, stepName string) (*Clients, error) {
	c, err := Connect(s.String(KubeconfigInput), s.Getenv("KUBECONFIG"), s.String(ContextInput), "driftless-"+stepName+"/"+step.Version())
	if err != nil {
		return nil, err
	}
	if err := c.Check(ctx); err != nil {
		return nil, err
	}
	return c, nil
}
