// Package access declares, once for every step, the inputs that say how a
// step reaches registries and GitHub (insecure-registry, github-token), and
// turns them into options. Cluster access is internal/kube's, which only the
// steps that reach a cluster import.
package access

import (
	"github.com/driftless-dev/driftless/internal/registry"
	"github.com/driftless-dev/driftless/internal/step"
)

// The inputs of steps that talk to registries or GitHub.
var (
	InsecureRegistryInput = step.Input{Name: "insecure-registry", Description: "Allow plain HTTP to registries that are not on loopback.", Kind: step.Bool, Default: "false"}
	GitHubTokenInput      = step.Input{Name: "github-token", Description: "Token for the GitHub API and ghcr.io; the job's token (github.token) in the actions, the GITHUB_TOKEN environment variable for the binary.", Secret: true}
	RegistryInputs        = []step.Input{InsecureRegistryInput, GitHubTokenInput}
)

// GitHubToken is the github-token input, else GITHUB_TOKEN (masked too).
func GitHubToken(s *step.Context) string {
	if t := s.String(GitHubTokenInput); t != "" {
		return t
	}
	t := s.Getenv("GITHUB_TOKEN")
	s.Mask(t)
	return t
}

// Registry returns the registry options the inputs ask for, with a log of
// the credential sources asked, so that the step's errors passed through
// its Explain name them.
func Registry(s *step.Context, ci step.CI, stepName string) registry.Options {
	return registry.Options{
		Insecure:    s.Bool(InsecureRegistryInput),
		GitHubToken: GitHubToken(s),
		GitHubActor: ci.Actor,
		UserAgent:   "driftless-" + stepName + "/" + step.Version(),
		Log:         registry.NewAuthLog(),
	}
}
