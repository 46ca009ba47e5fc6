package release

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/driftless-dev/driftless/internal/githubtest"
)

func TestGitHubTags(t *testing.T) {
	t.Parallel()
	const (
		built = "1111111111111111111111111111111111111111"
		other = "2222222222222222222222222222222222222222"
		tagob = "3333333333333333333333333333333333333333"
		get   = "GET /repos/o/r/git/ref/tags/v1.2.3"
	)
	create := githubtest.Request{Method: "POST", Path: "/repos/o/r/git/refs", Auth: "Bearer s3cret", Body: `{"ref":"refs/tags/v1.2.3","sha":"` + built + `"}`}
	for _, tc := range []struct {
		name     string
		setup    func(g *githubtest.Server)
		exists   bool
		refusal  string
		requests []string // method and path, besides the create
		create   bool
	}{
		{name: "absent: created", requests: []string{get, get}, create: true},
		{name: "same commit: nothing to do", setup: func(g *githubtest.Server) { g.SetTag("v1.2.3", built) }, exists: true, requests: []string{get, get}},
		{
			name:  "annotated, same commit: peeled, nothing to do",
			setup: func(g *githubtest.Server) { g.SetAnnotatedTag("v1.2.3", tagob, built) }, exists: true,
			requests: []string{get, "GET /repos/o/r/git/tags/" + tagob, get, "GET /repos/o/r/git/tags/" + tagob},
		},
		{
			name: "other commit: refused", setup: func(g *githubtest.Server) { g.SetTag("v1.2.3", other) }, exists: true,
			refusal:  `git tag "v1.2.3" already exists on GitHub o/r on commit ` + other + `, not on the commit being built (` + built + `): release tags never move`,
			requests: []string{get, get},
		},
		{
			name: "annotated, other commit: refused", setup: func(g *githubtest.Server) { g.SetAnnotatedTag("v1.2.3", tagob, other) }, exists: true,
			refusal:  "on commit " + other,
			requests: []string{get, "GET /repos/o/r/git/tags/" + tagob, get, "GET /repos/o/r/git/tags/" + tagob},
		},
		{
			name: "created meanwhile at the same commit: fine", setup: func(g *githubtest.Server) { g.RaceNextCreate(built) },
			requests: []string{get, get, get}, create: true,
		},
		{
			name: "created meanwhile at another commit: refused", setup: func(g *githubtest.Server) { g.RaceNextCreate(other) },
			refusal: "on commit " + other, requests: []string{get, get, get}, create: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fake := githubtest.New(t, "o", "r", "s3cret")
			if tc.setup != nil {
				tc.setup(fake)
			}
			g, err := NewGitHubTags(fake.URL, "s3cret", "o/r", nil)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			exists, err := g.CheckTag(ctx, "v1.2.3", built)
			if exists != tc.exists {
				t.Errorf("exists = %t, want %t", exists, tc.exists)
			}
			if tc.refusal != "" && !tc.create {
				if !isRefusal(err, tc.refusal) {
					t.Fatalf("CheckTag: got %v, want a refusal containing %q", err, tc.refusal)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			err = g.CreateTag(ctx, "v1.2.3", built)
			if tc.refusal != "" {
				if !isRefusal(err, tc.refusal) {
					t.Fatalf("CreateTag: got %v, want a refusal containing %q", err, tc.refusal)
				}
			} else if err != nil {
				t.Fatal(err)
			}

			var got, want []string
			var creates []githubtest.Request
			for _, r := range fake.Requests() {
				if r.Method == "POST" {
					creates = append(creates, r)
					continue
				}
				if r.Auth != "Bearer s3cret" {
					t.Errorf("%s %s: Authorization %q", r.Method, r.Path, r.Auth)
				}
				got = append(got, r.Method+" "+r.Path)
			}
			want = tc.requests
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("requests (-want +got)\n%s", diff)
			}
			var wantCreates []githubtest.Request
			if tc.create {
				wantCreates = []githubtest.Request{create}
			}
			if diff := cmp.Diff(wantCreates, creates); diff != "" {
				t.Errorf("creates (-want +got)\n%s", diff)
			}
			if tc.refusal == "" {
				if typ, sha := fake.Tag("v1.2.3"); (typ == "commit" && sha != built) || typ == "" {
					t.Errorf("afterwards refs/tags/v1.2.3 names %s %s", typ, sha)
				}
			}
		})
	}
}

func TestGitHubTagsErrors(t *testing.T) {
	t.Parallel()
	fake := githubtest.New(t, "o", "r", "s3cret")
	g, err := NewGitHubTags(fake.URL+"/", "wrong", "o/r", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = g.CheckTag(context.Background(), "v1.2.3", "1111111111111111111111111111111111111111")
	var r *Refusal
	if err == nil || errors.As(err, &r) || !strings.Contains(err.Error(), `reading git tag "v1.2.3" from GitHub o/r: GET `+fake.URL+"/repos/o/r/git/ref/tags/v1.2.3: 401 Bad credentials") {
		t.Errorf("got %v, want a could-not-run error", err)
	}
	for _, repo := range []string{"", "o", "o/r/x", "/r"} {
		if _, err := NewGitHubTags(fake.URL, "t", repo, nil); err == nil || !strings.Contains(err.Error(), "is not owner/name") {
			t.Errorf("repository %q: %v", repo, err)
		}
	}
}

func isRefusal(err error, contains string) bool {
	var r *Refusal
	return errors.As(err, &r) && strings.Contains(err.Error(), contains)
}
