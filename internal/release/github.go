package release

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/driftless-dev/driftless/internal/githubapi"

	"github.com/google/go-github/v60/github"
)

// GitHubTags creates tags through the GitHub REST API (Git references),
// which needs no checkout and no push credentials: the CI token is enough.
type GitHubTags struct {
	Client      *github.Client
	Owner, Repo string
}

var _ GitTagger = (*GitHubTags)(nil)

// NewGitHubTags returns a GitHubTags for repository (owner/name) at the API
// apiURL (githubapi.DefaultURL when empty), authenticated with token. hc may be
// nil.
func NewGitHubTags(apiURL, token, repository string, hc *http.Client) (*GitHubTags, error) {
	owner, repo, err := githubapi.SplitRepository(repository)
	if err != nil {
		return nil, err
	}
	c, err := githubapi.New(apiURL, token, hc)
	if err != nil {
		return nil, err
	}
	return &GitHubTags{Client: c, Owner: owner, Repo: repo}, nil
}

// Where names the repository.
func (g *GitHubTags) Where() string { return "GitHub " + g.Owner + "/" + g.Repo }

// tagCommit returns the commit tag points at, annotated tags peeled; "" when
// the repository has no such tag.
func (g *GitHubTags) tagCommit(ctx context.Context, tag string) (string, error) {
	ref, _, err := g.Client.Git.GetRef(ctx, g.Owner, g.Repo, "tags/"+tag)
	if isStatus(err, http.StatusNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading git tag %q from %s: %w", tag, g.Where(), err)
	}
	obj := ref.GetObject()
	// An annotated tag's ref names a tag object, which names the commit (or,
	// rarely, another tag object).
	for range 10 {
		switch obj.GetType() {
		case "commit":
			return obj.GetSHA(), nil
		case "tag":
			t, _, err := g.Client.Git.GetTag(ctx, g.Owner, g.Repo, obj.GetSHA())
			if err != nil {
				return "", fmt.Errorf("reading annotated tag %q (object %s) from %s: %w", tag, obj.GetSHA(), g.Where(), err)
			}
			obj = t.GetObject()
		default:
			return "", refusef("git tag %q on %s names a %s (%s), not a commit: a release tag names the commit it was built from", tag, g.Where(), obj.GetType(), obj.GetSHA())
		}
	}
	return "", fmt.Errorf("reading git tag %q from %s: more than 10 nested tag objects", tag, g.Where())
}

func (g *GitHubTags) check(ctx context.Context, tag, sha string) (bool, error) {
	commit, err := g.tagCommit(ctx, tag)
	if err != nil || commit == "" {
		return false, err
	}
	if commit != sha {
		return true, refusef("git tag %q already exists on %s on commit %s, not on the commit being built (%s): release tags never move; build that commit, or release this one under a new version", tag, g.Where(), commit, sha)
	}
	return true, nil
}

// CheckTag looks the tag up through the API.
func (g *GitHubTags) CheckTag(ctx context.Context, tag, sha string) (bool, error) {
	return g.check(ctx, tag, sha)
}

// CreateTag creates the reference refs/tags/<tag> at sha (a lightweight
// tag) unless it exists there already.
func (g *GitHubTags) CreateTag(ctx context.Context, tag, sha string) error {
	exists, err := g.check(ctx, tag, sha)
	if err != nil || exists {
		return err
	}
	_, _, err = g.Client.Git.CreateRef(ctx, g.Owner, g.Repo, &github.Reference{
		Ref:    github.String("refs/tags/" + tag),
		Object: &github.GitObject{SHA: github.String(sha)},
	})
	if isStatus(err, http.StatusUnprocessableEntity) {
		// "Reference already exists": someone created it since we looked.
		exists, cerr := g.check(ctx, tag, sha)
		if cerr != nil {
			return cerr
		}
		if exists {
			return nil
		}
	}
	if err != nil {
		return fmt.Errorf("creating git tag %q at %s on %s: %w", tag, sha, g.Where(), err)
	}
	return nil
}

func isStatus(err error, code int) bool {
	var er *github.ErrorResponse
	return errors.As(err, &er) && er.Response != nil && er.Response.StatusCode == code
}
