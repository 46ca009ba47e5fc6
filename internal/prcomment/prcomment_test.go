package prcomment

import (
	"strings"
	"testing"

	"github.com/driftless-dev/driftless/internal/githubapi"
	"github.com/driftless-dev/driftless/internal/githubtest"
)

// TestUpsert: the first run comments, later runs edit that comment, other
// comments (a reviewer's, another environment's) are left alone, and the
// marker is found past the first page.
func TestUpsert(t *testing.T) {
	t.Parallel()
	fake := githubtest.New(t, "o", "r", "s3cret")
	for i := range 120 {
		fake.AddComment(githubtest.Comment{Issue: 7, Body: "review " + strings.Repeat("x", i%3), Author: "reviewer"})
	}
	gh, err := githubapi.New(fake.URL, "s3cret", nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if _, created, err := Upsert(ctx, gh, "o", "r", 7, "shop/prod", "prod: 1 object would change"); err != nil || !created {
		t.Fatalf("first: created %v, %v", created, err)
	}
	if _, created, err := Upsert(ctx, gh, "o", "r", 7, "shop/test", "test: nothing would change"); err != nil || !created {
		t.Fatalf("another environment: created %v, %v", created, err)
	}
	url, created, err := Upsert(ctx, gh, "o", "r", 7, "shop/prod", "prod: 2 objects would change")
	if err != nil || created || !strings.Contains(url, "/pull/7#issuecomment-") {
		t.Fatalf("second: %q created %v, %v", url, created, err)
	}
	var ours []string
	for _, c := range fake.Comments(7) {
		if strings.HasPrefix(c.Body, "<!-- driftless: ") {
			ours = append(ours, c.Body)
		}
	}
	want := []string{Marker("shop/prod") + "\nprod: 2 objects would change", Marker("shop/test") + "\ntest: nothing would change"}
	if strings.Join(ours, "|") != strings.Join(want, "|") {
		t.Errorf("driftless's comments: %q, want %q", ours, want)
	}
	if n := len(fake.Comments(7)); n != 122 {
		t.Errorf("%d comments, want the reviewers' 120 and driftless's 2", n)
	}
}

func TestPullRequest(t *testing.T) {
	t.Parallel()
	for ref, want := range map[string]int{"refs/pull/42/merge": 42, "refs/pull/7/head": 7, "refs/heads/main": 0, "refs/tags/v1.0.0": 0, "refs/pull/x/merge": 0} {
		if got := PullRequest(ref); got != want {
			t.Errorf("PullRequest(%q) = %d, want %d", ref, got, want)
		}
	}
}
