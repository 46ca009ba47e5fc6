// Package access declares, once for every step, the inputs that say how a
// step reaches registries and GitHub (insecure-registry, github-token), and
// turns them into options. Cluster access is internal/kube's, which only the
// steps that reach a cluster import.
package access

import (
	"github.com/driftless-dev/driftless/internal/registry"
	"github.com/driftless-dev/driftless/internal/step"
)

// Input names.
const (
	InputInsecureRegistry = "insecure-registry"
	InputGitHubToken      = "github-token"
)

// RegistryInputs are the inputs of steps that talk to registries or GitHub.
var RegistryInputs = []step.Input{
	{Name: InputInsecureRegistry, Description: "Allow plain HTTP to registries that are not on loopback.", Bool: true, Default: "false"},
	{Name: InputGitHubToken, Description: "Token for the GitHub API and ghcr.io; the job's token (github.token) in the actions, the GITHUB_TOKEN environment variable for the binary.", Secret: true},
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
