// Package githubapi makes the one kind of GitHub REST client every step
// uses (go-github, at GITHUB_API_URL, with the CI token), and reads
// GITHUB_REPOSITORY. The Deployments (internal/githubdeploy), environment
// protection rules (internal/gate) and release tags (internal/release)
// each take such a client.
package githubapi

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/google/go-github/v60/github"
)

// DefaultURL is the API of github.com; GitHub Enterprise Server runs report
// theirs in GITHUB_API_URL.
const DefaultURL = "https://api.github.com"

// New returns a go-github client for the API at apiURL (DefaultURL when
// empty) authenticated with token (none when empty). hc may be nil.
func New(apiURL, token string, hc *http.Client) (*github.Client, error) {
	if apiURL == "" {
		apiURL = DefaultURL
	}
	base, err := url.Parse(strings.TrimSuffix(apiURL, "/") + "/")
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("GitHub API URL %q (GITHUB_API_URL) is not an http(s) URL", apiURL)
	}
	c := github.NewClient(hc)
	if token != "" {
		c = c.WithAuthToken(token)
	}
	// BaseURL, not WithEnterpriseURLs: the latter appends /api/v3/ to any
	// URL, which api.github.com and test servers do not have.
	c.BaseURL = base
	return c, nil
}

// SplitRepository splits owner/name (GITHUB_REPOSITORY).
func SplitRepository(repository string) (owner, repo string, err error) {
	owner, repo, ok := strings.Cut(repository, "/")
	if !ok || owner == "" || repo == "" || strings.Contains(repo, "/") {
		return "", "", fmt.Errorf("GitHub repository %q is not owner/name (GITHUB_REPOSITORY)", repository)
	}
	return owner, repo, nil
}
