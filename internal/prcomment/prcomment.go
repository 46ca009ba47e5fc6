// Package prcomment keeps one comment of driftless's on a pull request up
// to date: the dry-run diff of an environment, posted once and then edited
// in place on every push, so a pull request gets one comment per
// environment, not one per run.
package prcomment

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/google/go-github/v60/github"
)

// MaxBody is GitHub's limit on a comment's length (65,536 characters); a
// longer body is cut, saying so.
const MaxBody = 65536

// Marker is the hidden line that identifies the comment of key.
func Marker(key string) string { return "<!-- driftless: " + key + " -->" }

// PullRequest reads the pull request number from a GitHub ref
// (refs/pull/N/merge or refs/pull/N/head); 0 when the ref is not one.
func PullRequest(ref string) int {
	rest, ok := strings.CutPrefix(ref, "refs/pull/")
	if !ok {
		return 0
	}
	n, err := strconv.Atoi(strings.SplitN(rest, "/", 2)[0])
	if err != nil || n <= 0 {
		return 0
	}
	return n
}

// Upsert writes body as the comment of key on pull request pr: it edits
// the comment that carries key's marker (the first, when several do),
// else creates one. It returns the comment's URL and whether it was
// created.
func Upsert(ctx context.Context, gh *github.Client, owner, repo string, pr int, key, body string) (url string, created bool, err error) {
	marker := Marker(key)
	body = marker + "\n" + body
	if len(body) > MaxBody {
		const cut = "\n\n… (cut: the whole diff is in the job's summary)"
		body = body[:MaxBody-len(cut)] + cut
	}
	opts := &github.IssueListCommentsOptions{ListOptions: github.ListOptions{PerPage: 100}}
	for {
		comments, resp, err := gh.Issues.ListComments(ctx, owner, repo, pr, opts)
		if err != nil {
			return "", false, fmt.Errorf("reading the comments of pull request #%d: %w", pr, err)
		}
		for _, c := range comments {
			if strings.HasPrefix(c.GetBody(), marker) {
				edited, _, err := gh.Issues.EditComment(ctx, owner, repo, c.GetID(), &github.IssueComment{Body: &body})
				if err != nil {
					return "", false, fmt.Errorf("updating comment %d on pull request #%d: %w", c.GetID(), pr, err)
				}
				return edited.GetHTMLURL(), false, nil
			}
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	c, _, err := gh.Issues.CreateComment(ctx, owner, repo, pr, &github.IssueComment{Body: &body})
	if err != nil {
		return "", false, fmt.Errorf("commenting on pull request #%d: %w", pr, err)
	}
	return c.GetHTMLURL(), true, nil
}
