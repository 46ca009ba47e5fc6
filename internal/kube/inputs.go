package kube

import (
	"context"

	"github.com/driftless-dev/driftless/internal/step"
)

// Input names.
const (
	InputKubeconfig = "kubeconfig"
	InputContext    = "context"
)

// Inputs are the inputs of steps that talk to the cluster.
var Inputs = []step.Input{
	{Name: InputKubeconfig, Description: "Kubeconfig file; defaults to KUBECONFIG, ~/.kube/config, then the in-cluster service account."},
	{Name: InputContext, Description: "Kubeconfig context; defaults to the current one."},
}

// Given reports whether cluster access was asked for explicitly (not just
// a ~/.kube/config that happens to exist).
func Given(s *step.Context) bool {
	return s.Input(InputKubeconfig) != "" || s.Getenv("KUBECONFIG") != "" || s.Input(InputContext) != ""
}

// ForStep connects as the step's inputs say, reading KUBECONFIG from the
// step's environment, with the step's name and version as user agent.
// The cluster is asked for its version first, so an unreachable or
// unauthorised cluster is reported naming its context and server.
func ForStep(ctx context.Context, s *step.Context, stepName string) (*Clients, error) {
	c, err := Connect(s.Input(InputKubeconfig), s.Getenv("KUBECONFIG"), s.Input(InputContext), "driftless-"+stepName+"/"+step.Version())
	if err != nil {
		return nil, err
	}
	if err := c.Check(ctx); err != nil {
		return nil, err
	}
	return c, nil
}
