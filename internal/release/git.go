package release

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// Git runs the git CLI in a repository.
type Git struct {
	// Dir is a directory inside the repository; empty means the working
	// directory.
	Dir string
	// Env is added to the process environment of every git command (tests
	// isolate git from the user's configuration with it).
	Env []string
}

func (g Git) run(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = g.Dir
	if len(g.Env) > 0 {
		cmd.Env = append(os.Environ(), g.Env...)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			return "", fmt.Errorf("git %s: %w", strings.Join(args, " "), err)
		}
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, msg)
	}
	return strings.TrimSpace(stdout.String()), nil
}

// TagCommit returns the commit the tag points at, annotated tags peeled.
// ok is false when the repository has no such tag, or there is no
// repository.
func (g Git) TagCommit(ctx context.Context, tag string) (commit string, ok bool) {
	out, err := g.run(ctx, "rev-parse", "--verify", "--quiet", "refs/tags/"+tag+"^{commit}")
	if err != nil || out == "" {
		return "", false
	}
	return out, true
}

// CheckTag verifies that tag, if the local repository has it, points at
// sha. found is false when it does not have it; a tag on another commit is
// a *Refusal.
func (g Git) CheckTag(ctx context.Context, tag, sha string) (found bool, err error) {
	commit, ok := g.TagCommit(ctx, tag)
	if !ok {
		return false, nil
	}
	if commit != sha {
		return true, refusef("git tag %q points at commit %s, not at the commit being built (%s): a release is built from its tag's commit; build that commit, or release this one under a new version", tag, commit, sha)
	}
	return true, nil
}

// GitTagger creates release tags in a Git repository and refuses to move
// them. Its implementations are the GitHub API (GitHubTags) and git itself
// (LocalTags).
type GitTagger interface {
	// CheckTag reports whether tag already exists at sha everywhere it
	// should; a tag on another commit is a *Refusal. It changes nothing.
	CheckTag(ctx context.Context, tag, sha string) (exists bool, err error)
	// CreateTag creates tag at sha where it is missing. It is idempotent
	// and refuses, like CheckTag, a tag that appeared on another commit.
	CreateTag(ctx context.Context, tag, sha string) error
	// Where names the repository in messages: "origin", "GitHub o/r".
	Where() string
}

// LocalTags creates tags with git tag and pushes them to a remote.
type LocalTags struct {
	Git Git
	// Remote is the remote the tag is pushed to; "origin" when empty.
	Remote string
}

var _ GitTagger = LocalTags{}

func (l LocalTags) remote() string {
	if l.Remote == "" {
		return "origin"
	}
	return l.Remote
}

// Where names the remote.
func (l LocalTags) Where() string { return "remote " + l.remote() }

// remoteTagCommit reads the tag's commit from the remote, annotated tags
// peeled; "" when the remote does not have it.
func (l LocalTags) remoteTagCommit(ctx context.Context, tag string) (string, error) {
	ref := "refs/tags/" + tag
	out, err := l.Git.run(ctx, "ls-remote", "--tags", l.remote(), ref, ref+"^{}")
	if err != nil {
		return "", fmt.Errorf("reading tag %q from %s: %w", tag, l.Where(), err)
	}
	var direct, peeled string
	for _, line := range strings.Split(out, "\n") {
		sha, r, ok := strings.Cut(line, "\t")
		switch {
		case !ok:
		case r == ref:
			direct = sha
		case r == ref+"^{}":
			peeled = sha
		}
	}
	if peeled != "" {
		return peeled, nil
	}
	return direct, nil
}

type localState struct{ local, remote string }

func (l LocalTags) state(ctx context.Context, tag, sha string) (localState, error) {
	var st localState
	st.local, _ = l.Git.TagCommit(ctx, tag)
	r, err := l.remoteTagCommit(ctx, tag)
	if err != nil {
		return st, err
	}
	st.remote = r
	var errs []error
	if st.local != "" && st.local != sha {
		errs = append(errs, refusef("git tag %q already exists in the local repository on commit %s, not on the commit being built (%s): release tags never move; build that commit, or release this one under a new version", tag, st.local, sha))
	}
	if st.remote != "" && st.remote != sha {
		errs = append(errs, refusef("git tag %q already exists on %s on commit %s, not on the commit being built (%s): release tags never move; build that commit, or release this one under a new version", tag, l.Where(), st.remote, sha))
	}
	return st, errors.Join(errs...)
}

// CheckTag looks the tag up locally and on the remote.
func (l LocalTags) CheckTag(ctx context.Context, tag, sha string) (bool, error) {
	st, err := l.state(ctx, tag, sha)
	return st.local != "" && st.remote != "", err
}

// CreateTag creates a lightweight tag where it is missing and pushes it.
func (l LocalTags) CreateTag(ctx context.Context, tag, sha string) error {
	st, err := l.state(ctx, tag, sha)
	if err != nil {
		return err
	}
	ref := "refs/tags/" + tag
	if st.local == "" {
		if _, err := l.Git.run(ctx, "tag", "--no-sign", tag, sha); err != nil {
			return fmt.Errorf("creating git tag %q at %s: %w", tag, sha, err)
		}
	}
	if st.remote == "" {
		if _, err := l.Git.run(ctx, "push", "--quiet", l.remote(), ref+":"+ref); err != nil {
			return fmt.Errorf("pushing git tag %q to %s: %w", tag, l.Where(), err)
		}
	}
	return nil
}

// CommitTime is the committer time of HEAD: a reproducible creation time
// for what is built from it.
func (g Git) CommitTime(ctx context.Context) (time.Time, error) {
	out, err := g.run(ctx, "log", "-1", "--format=%ct")
	if err != nil {
		return time.Time{}, err
	}
	sec, err := strconv.ParseInt(out, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("git log: commit time %q: %w", out, err)
	}
	return time.Unix(sec, 0).UTC(), nil
}

// OriginURL is the URL of the remote origin without credentials, or empty
// when there is none.
func (g Git) OriginURL(ctx context.Context) string {
	raw, err := g.run(ctx, "remote", "get-url", "origin")
	if err != nil {
		return ""
	}
	if u, err := url.Parse(raw); err == nil && u.User != nil {
		u.User = nil
		return u.String()
	}
	return raw
}

// LatestTag is the newest tag reachable from HEAD (git describe --tags).
func (g Git) LatestTag(ctx context.Context) (string, error) {
	return g.run(ctx, "describe", "--tags", "--abbrev=0")
}
