package release

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// TestCheckGitTag: every state a release's Git tag can be in, on real
// repositories, and that only TagToCreate writes anything.
func TestCheckGitTag(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		tag     string
		atFirst bool // the tag exists locally at the first commit, not the one built
		local   bool // the tag exists locally at the commit built
		create  bool
		build   Build
		state   TagState
		where   string
		refusal string
	}{
		{name: "exists locally", tag: "v1.0.0", local: true, state: TagExists, where: "exists in the local repository"},
		{name: "trusted from the CI", tag: "v1.0.0", build: Build{Tag: "v1.0.0", TagSource: "GITHUB_REF"}, state: TagTrusted, where: "not in the local repository; trusted from GITHUB_REF"},
		{name: "missing, by hand", tag: "v1.0.0", build: Build{Tag: "v1.0.0", Ref: "refs/tags/v1.0.0"}, refusal: `git tag "v1.0.0" does not exist in the local repository, and it is not the tag being built (refs/tags/v1.0.0)`},
		{name: "missing, another tag built", tag: "v1.0.1", build: Build{Tag: "v1.0.0", TagSource: "GITHUB_REF", Ref: "refs/tags/v1.0.0"}, refusal: `git tag "v1.0.1" does not exist in the local repository`},
		{name: "on another commit", tag: "v1.0.0", atFirst: true, build: Build{Tag: "v1.0.0", TagSource: "GITHUB_REF"}, refusal: `git tag "v1.0.0" points at commit`},
		{name: "on another commit, create", tag: "v1.0.0", atFirst: true, create: true, refusal: `git tag "v1.0.0" points at commit`},
		{name: "to create", tag: "v1.0.0", create: true, state: TagCreated, where: "created on remote origin"},
		{name: "create, exists already", tag: "v1.0.0", local: true, create: true, state: TagExists, where: "exists on remote origin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir, origin, first, second := repoWithOrigin(t)
			if tc.atFirst {
				git(t, dir, "tag", tc.tag, first)
			}
			if tc.local {
				git(t, dir, "tag", tc.tag, second)
				git(t, dir, "push", "--quiet", "origin", tc.tag)
			}
			local := Git{Dir: dir, Env: isolated}
			var tagger GitTagger
			if tc.create {
				tagger = LocalTags{Git: local}
			}
			b := tc.build
			b.SHA = second
			gt, err := CheckGitTag(ctx, local, tagger, tc.tag, b)
			if tc.refusal != "" {
				var r *Refusal
				if !errors.As(err, &r) || !strings.Contains(err.Error(), tc.refusal) {
					t.Fatalf("err = %v, want a refusal containing %q", err, tc.refusal)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := gt.Create(ctx); err != nil {
				t.Fatal(err)
			}
			if gt.State != tc.state || gt.Describe() != tc.where {
				t.Errorf("state %v, %q; want %v, %q", gt.State, gt.Describe(), tc.state, tc.where)
			}
			_, remote := Git{Dir: origin, Env: isolated}.TagCommit(ctx, tc.tag)
			if want := tc.create || tc.local; remote != want {
				t.Errorf("tag in origin: %v, want %v", remote, want)
			}
		})
	}
}
