package release

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// isolated keeps the user's and the system's git configuration out of the
// tests.
var isolated = []string{"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1", "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com"}

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), isolated...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// repoWithOrigin makes a repository with two commits and an empty bare
// repository as its origin; it returns the work tree, the origin and the
// two commits.
func repoWithOrigin(t *testing.T) (dir, origin, first, second string) {
	t.Helper()
	root := t.TempDir()
	dir, origin = filepath.Join(root, "work"), filepath.Join(root, "origin.git")
	git(t, root, "init", "--quiet", "--bare", origin)
	git(t, root, "init", "--quiet", "--initial-branch=main", dir)
	git(t, dir, "commit", "--quiet", "--allow-empty", "-m", "one")
	first = git(t, dir, "rev-parse", "HEAD")
	git(t, dir, "commit", "--quiet", "--allow-empty", "-m", "two")
	second = git(t, dir, "rev-parse", "HEAD")
	git(t, dir, "remote", "add", "origin", origin)
	return dir, origin, first, second
}

func TestGitCheckTag(t *testing.T) {
	t.Parallel()
	dir, _, first, second := repoWithOrigin(t)
	git(t, dir, "tag", "v1.0.0", first)
	git(t, dir, "tag", "-a", "-m", "release", "v1.1.0", second)
	g := Git{Dir: dir, Env: isolated}
	ctx := context.Background()
	for _, tc := range []struct {
		tag, sha  string
		found     bool
		refusal   string
		notInRepo bool
	}{
		{tag: "v1.0.0", sha: first, found: true},
		{tag: "v1.1.0", sha: second, found: true}, // annotated: peeled to the commit
		{tag: "v1.0.0", sha: second, found: true, refusal: `git tag "v1.0.0" points at commit ` + first + `, not at the commit being built (` + second + `)`},
		{tag: "v1.1.0", sha: first, found: true, refusal: `git tag "v1.1.0" points at commit ` + second},
		{tag: "v9.9.9", sha: second},
		{tag: "v1.0.0", sha: first, notInRepo: true},
	} {
		t.Run(tc.tag+"@"+tc.sha[:7], func(t *testing.T) {
			t.Parallel()
			g := g
			if tc.notInRepo {
				g.Dir = t.TempDir()
			}
			found, err := g.CheckTag(ctx, tc.tag, tc.sha)
			if tc.refusal != "" {
				var r *Refusal
				if !errors.As(err, &r) || !strings.Contains(err.Error(), tc.refusal) {
					t.Fatalf("got %v, want a refusal containing %q", err, tc.refusal)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if found != tc.found {
				t.Errorf("found = %t, want %t", found, tc.found)
			}
		})
	}
}

func TestLocalTags(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		setup    func(t *testing.T, dir, origin, first, second string)
		exists   bool
		refusal  string
		wantPush bool
	}{
		{name: "absent everywhere: created and pushed", wantPush: true},
		{
			name: "local only: pushed",
			setup: func(t *testing.T, dir, _, _, second string) {
				git(t, dir, "tag", "v1.2.3", second)
			},
			wantPush: true,
		},
		{
			name: "on the remote at the same commit, annotated: created locally, no push",
			setup: func(t *testing.T, dir, _, _, second string) {
				git(t, dir, "tag", "-a", "-m", "r", "v1.2.3", second)
				git(t, dir, "push", "--quiet", "origin", "v1.2.3")
				git(t, dir, "tag", "-d", "v1.2.3")
			},
		},
		{
			name: "everywhere at the same commit: nothing to do",
			setup: func(t *testing.T, dir, _, _, second string) {
				git(t, dir, "tag", "v1.2.3", second)
				git(t, dir, "push", "--quiet", "origin", "v1.2.3")
			},
			exists: true,
		},
		{
			name: "on the remote at another commit: refused",
			setup: func(t *testing.T, dir, _, first, _ string) {
				git(t, dir, "tag", "v1.2.3", first)
				git(t, dir, "push", "--quiet", "origin", "v1.2.3")
				git(t, dir, "tag", "-d", "v1.2.3")
			},
			refusal: `git tag "v1.2.3" already exists on remote origin on commit `,
		},
		{
			name: "locally at another commit: refused",
			setup: func(t *testing.T, dir, _, first, _ string) {
				git(t, dir, "tag", "v1.2.3", first)
			},
			refusal: `git tag "v1.2.3" already exists in the local repository on commit `,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir, origin, first, second := repoWithOrigin(t)
			if tc.setup != nil {
				tc.setup(t, dir, origin, first, second)
			}
			remoteBefore := git(t, origin, "for-each-ref", "refs/tags")
			localBefore := git(t, dir, "for-each-ref", "refs/tags")
			l := LocalTags{Git: Git{Dir: dir, Env: isolated}}
			exists, err := l.CheckTag(ctx, "v1.2.3", second)
			if exists != tc.exists {
				t.Errorf("exists = %t, want %t", exists, tc.exists)
			}
			if tc.refusal != "" {
				var r *Refusal
				if !errors.As(err, &r) || !strings.Contains(err.Error(), tc.refusal) {
					t.Fatalf("CheckTag: got %v, want a refusal containing %q", err, tc.refusal)
				}
				if err := l.CreateTag(ctx, "v1.2.3", second); !errors.As(err, &r) {
					t.Fatalf("CreateTag: got %v, want a refusal", err)
				}
				if git(t, origin, "for-each-ref", "refs/tags") != remoteBefore || git(t, dir, "for-each-ref", "refs/tags") != localBefore {
					t.Error("a refused tag changed tags")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := l.CreateTag(ctx, "v1.2.3", second); err != nil {
				t.Fatal(err)
			}
			for _, repo := range []string{dir, origin} {
				if got := git(t, repo, "rev-parse", "v1.2.3^{commit}"); got != second {
					t.Errorf("%s: v1.2.3 is at %s, want %s", repo, got, second)
				}
			}
			pushed := git(t, origin, "for-each-ref", "refs/tags") != remoteBefore
			if pushed != tc.wantPush {
				t.Errorf("pushed = %t, want %t", pushed, tc.wantPush)
			}
			// Idempotent: a second run finds the tag everywhere.
			if exists, err := l.CheckTag(ctx, "v1.2.3", second); err != nil || !exists {
				t.Errorf("after CreateTag: exists = %t, %v", exists, err)
			}
		})
	}
}

func TestLocalTagsNoRemote(t *testing.T) {
	t.Parallel()
	dir, _, _, second := repoWithOrigin(t)
	l := LocalTags{Git: Git{Dir: dir, Env: isolated}, Remote: "upstream"}
	_, err := l.CheckTag(context.Background(), "v1.2.3", second)
	var r *Refusal
	if err == nil || errors.As(err, &r) || !strings.Contains(err.Error(), `reading tag "v1.2.3" from remote upstream: git ls-remote`) {
		t.Errorf("got %v, want a could-not-run error naming the remote", err)
	}
}

// TestGitReads: the commit time, the origin without credentials and the
// newest tag, as bake-image reads them.
func TestGitReads(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir, _, first, _ := repoWithOrigin(t)
	g := Git{Dir: dir, Env: isolated}
	want := git(t, dir, "log", "-1", "--format=%ct")
	got, err := g.CommitTime(ctx)
	if err != nil || strconv.FormatInt(got.Unix(), 10) != want || got.Location() != time.UTC {
		t.Errorf("CommitTime = %v, %v; want %s UTC", got, err, want)
	}
	if _, err := g.LatestTag(ctx); err == nil {
		t.Error("LatestTag without tags: no error")
	}
	git(t, dir, "tag", "v1.0.0", first)
	if tag, err := g.LatestTag(ctx); err != nil || tag != "v1.0.0" {
		t.Errorf("LatestTag = %q, %v", tag, err)
	}
	git(t, dir, "remote", "set-url", "origin", "https://x-access-token:s3cret@example.com/o/r.git")
	if u := g.OriginURL(ctx); u != "https://example.com/o/r.git" {
		t.Errorf("OriginURL = %q", u)
	}
	if _, err := (Git{Dir: t.TempDir(), Env: isolated}).CommitTime(ctx); err == nil {
		t.Error("CommitTime outside a repository: no error")
	}
}
