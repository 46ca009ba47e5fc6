package step

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"sync"
)

// CI providers.
const (
	ProviderGitHub = "github"
	ProviderGitLab = "gitlab"
	ProviderLocal  = "local"
)

// CI is what a step knows about the run that invoked it.
type CI struct {
	// Provider is "github", "gitlab" or "local".
	Provider string `json:"provider"`
	// Ref is the full Git ref: refs/tags/v1.2.3 or refs/heads/main. Empty
	// when unknown (a detached local checkout that no tag points at).
	Ref string `json:"ref,omitempty"`
	// Tag is the tag being built, when the build is for a tag.
	Tag string `json:"tag,omitempty"`
	// Branch is the branch being built, when the build is for a branch.
	Branch string `json:"branch,omitempty"`
	// SHA is the commit being built.
	SHA string `json:"sha,omitempty"`
	// Repository is owner/name (GitHub) or the project path (GitLab).
	Repository string `json:"repository,omitempty"`
	// ServerURL is https://github.com, or the GitLab instance.
	ServerURL string `json:"serverUrl,omitempty"`
	// RunURL links to the CI run (GitHub) or job (GitLab).
	RunURL string `json:"runUrl,omitempty"`
	// Actor is who triggered the run.
	Actor string `json:"actor,omitempty"`
	// Environment is the CI's deployment environment of the job, where the
	// provider tells it (GitLab's CI_ENVIRONMENT_NAME).
	Environment string `json:"environment,omitempty"`
	// EventName is GitHub's event (push, pull_request, schedule, ...) or
	// GitLab's pipeline source.
	EventName string `json:"eventName,omitempty"`
}

// DetectCI reads the CI context from GitHub's GITHUB_* or GitLab's CI_*
// variables, or else from the Git repository in dir (which may be empty: a
// step run by hand outside a repository has an empty context, not an error).
func DetectCI(ctx context.Context, getenv func(string) string, dir string) CI {
	switch {
	case getenv("GITHUB_ACTIONS") == "true":
		ci := CI{
			Provider:   ProviderGitHub,
			Ref:        getenv("GITHUB_REF"),
			SHA:        getenv("GITHUB_SHA"),
			Repository: getenv("GITHUB_REPOSITORY"),
			ServerURL:  getenv("GITHUB_SERVER_URL"),
			Actor:      getenv("GITHUB_ACTOR"),
			EventName:  getenv("GITHUB_EVENT_NAME"),
		}
		if ci.ServerURL == "" {
			ci.ServerURL = "https://github.com"
		}
		if id := getenv("GITHUB_RUN_ID"); id != "" && ci.Repository != "" {
			ci.RunURL = fmt.Sprintf("%s/%s/actions/runs/%s", ci.ServerURL, ci.Repository, id)
			if a := getenv("GITHUB_RUN_ATTEMPT"); a != "" && a != "1" {
				ci.RunURL += "/attempts/" + a
			}
		}
		ci.Tag, ci.Branch = splitRef(ci.Ref)
		return ci
	case getenv("GITLAB_CI") == "true":
		ci := CI{
			Provider:    ProviderGitLab,
			SHA:         getenv("CI_COMMIT_SHA"),
			Tag:         getenv("CI_COMMIT_TAG"),
			Branch:      getenv("CI_COMMIT_BRANCH"),
			Repository:  getenv("CI_PROJECT_PATH"),
			ServerURL:   getenv("CI_SERVER_URL"),
			RunURL:      getenv("CI_JOB_URL"),
			Actor:       getenv("GITLAB_USER_LOGIN"),
			Environment: getenv("CI_ENVIRONMENT_NAME"),
			EventName:   getenv("CI_PIPELINE_SOURCE"),
		}
		switch {
		case ci.Tag != "":
			ci.Ref = "refs/tags/" + ci.Tag
		case ci.Branch != "":
			ci.Ref = "refs/heads/" + ci.Branch
		}
		return ci
	}
	ci := CI{Provider: ProviderLocal, Actor: getenv("USER")}
	git := func(args ...string) string {
		cmd := exec.CommandContext(ctx, "git", args...)
		cmd.Dir = dir
		var out bytes.Buffer
		cmd.Stdout = &out
		if cmd.Run() != nil {
			return ""
		}
		return strings.TrimSpace(out.String())
	}
	// Four independent questions, asked at once: each git process costs a
	// few milliseconds to start, which a render of a few objects notices.
	var sha, tag, branch, email string
	var wg sync.WaitGroup
	wg.Go(func() { sha = git("rev-parse", "--verify", "--quiet", "HEAD^{commit}") })
	wg.Go(func() { tag = git("describe", "--tags", "--exact-match", "HEAD") })
	wg.Go(func() { branch = git("symbolic-ref", "--quiet", "--short", "HEAD") })
	wg.Go(func() { email = git("config", "user.email") })
	wg.Wait()
	if sha == "" {
		return ci
	}
	ci.SHA = sha
	// A tag at HEAD wins over the branch, as in a CI run for a tag push.
	if tag != "" {
		ci.Tag, ci.Ref = tag, "refs/tags/"+tag
	} else if branch != "" {
		ci.Branch, ci.Ref = branch, "refs/heads/"+branch
	}
	if email != "" {
		ci.Actor = email
	}
	return ci
}

func splitRef(ref string) (tag, branch string) {
	if t, ok := strings.CutPrefix(ref, "refs/tags/"); ok {
		return t, ""
	}
	if b, ok := strings.CutPrefix(ref, "refs/heads/"); ok {
		return "", b
	}
	return "", ""
}

// CommitURL links to a commit of the repository being built, on GitHub or
// GitLab; "" when the provider or the repository is unknown.
func (c CI) CommitURL(sha string) string {
	if sha == "" || c.ServerURL == "" || c.Repository == "" {
		return ""
	}
	switch c.Provider {
	case ProviderGitHub:
		return strings.TrimSuffix(c.ServerURL, "/") + "/" + c.Repository + "/commit/" + sha
	case ProviderGitLab:
		return strings.TrimSuffix(c.ServerURL, "/") + "/" + c.Repository + "/-/commit/" + sha
	}
	return ""
}
