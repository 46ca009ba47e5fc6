// Package access declares, once for every step, the inputs that say how a
// step reaches registries (insecure-registry, github-token) and the cluster
// (kubeconfig, context), and turns them into clients.
package access

import (
	"github.com/driftless-dev/driftless/internal/apply"
	"github.com/driftless-dev/driftless/internal/registry"
	"github.com/driftless-dev/driftless/internal/step"
)

// Input names.
const (
	InputInsecureRegistry = "insecure-registry"
	InputGitHubToken      = "github-token"
	InputKubeconfig       = "kubeconfig"
	InputContext          = "context"
)

// RegistryInputs are the inputs of steps that talk to registries or GitHub.
var RegistryInputs = []step.Input{
	{Name: InputInsecureRegistry, Description: "Allow plain HTTP to registries that are not on loopback.", Bool: true, Default: "false"},
	{Name: InputGitHubToken, Description: "Token for the GitHub API and ghcr.io; defaults to the GITHUB_TOKEN environment variable.", Secret: true},
}

// ClusterInputs are the inputs of steps that talk to the cluster.
var ClusterInputs = []step.Input{
	{Name: InputKubeconfig, Description: "Kubeconfig file; defaults to KUBECONFIG, ~/.kube/config, then the in-cluster service account."},
	{Name: InputContext, Description: "Kubeconfig context; defaults to the current one."},
}

// GitHubToken is the github-token input, else GITHUB_TOKEN (masked too).
func GitHubToken(s *step.Context) string {
	if t := s.Input(InputGitHubToken); t != "" {
		return t
	}
	t := s.Getenv("GITHUB_TOKEN")
	s.Mask(t)
	return t
}

// Registry returns the registry options the inputs ask for.
func Registry(s *step.Context, ci step.CI, stepName string) registry.Options {
	return registry.Options{
		Insecure:    s.Bool(InputInsecureRegistry),
		GitHubToken: GitHubToken(s),
		GitHubActor: ci.Actor,
		UserAgent:   "driftless-" + stepName + "/" + step.Version(),
	}
}

// ClusterGiven reports whether cluster access was asked for explicitly
// (not just a ~/.kube/config that happens to exist).
func ClusterGiven(s *step.Context) bool {
	return s.Input(InputKubeconfig) != "" || s.Getenv("KUBECONFIG") != "" || s.Input(InputContext) != ""
}

// Cluster connects as the inputs say, reading KUBECONFIG from the step's
// environment.
func Cluster(s *step.Context) (*apply.Clients, error) {
	return apply.Connect(s.Input(InputKubeconfig), s.Getenv("KUBECONFIG"), s.Input(InputContext))
}
