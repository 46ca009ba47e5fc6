package githubdeploy

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/driftless-dev/driftless/internal/githubtest"
)

// TestTrackerApplyThenSmoke: apply-env's tracker creates the deployment
// and marks it in progress; smoke-test's finds that one and finishes it.
func TestTrackerApplyThenSmoke(t *testing.T) {
	t.Parallel()
	fake := githubtest.New(t, "o", "r", "s3cret")
	ctx := t.Context()
	opts := TrackOptions{Step: "apply-env", APIURL: fake.URL, Token: "s3cret", Repository: "o/r", Request: request(digest),
		Status: Status{EnvironmentURL: envURL, LogURL: runURL}, Start: true}
	Track(ctx, opts).Finish(ctx, StateSuccess, "deployed")
	opts.Step, opts.Start = "smoke-test", false
	Track(ctx, opts).Finish(ctx, StateSuccess, "verified")
	ds := fake.Deployments()
	if len(ds) != 1 {
		t.Fatalf("%d deployments, want the one apply-env created", len(ds))
	}
	var got []string
	for _, s := range ds[0].Statuses {
		got = append(got, s.State+" "+s.Description)
	}
	if diff := cmp.Diff([]string{"in_progress ", "success deployed", "success verified"}, got); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
}

// TestTrackerNeverFails: without a token nothing is sent; a GitHub that
// refuses the token only costs a warning, and Finish does nothing.
func TestTrackerNeverFails(t *testing.T) {
	t.Parallel()
	fake := githubtest.New(t, "o", "r", "s3cret")
	var mu sync.Mutex
	var logged []string
	logf := func(f string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		logged = append(logged, fmt.Sprintf(f, args...))
	}
	ctx := t.Context()
	Track(ctx, TrackOptions{Step: "apply-env", APIURL: fake.URL, Repository: "o/r", Request: request(digest), Logf: logf}).Finish(ctx, StateSuccess, "x")
	Track(ctx, TrackOptions{Step: "apply-env", APIURL: fake.URL, Token: "wrong", Repository: "o/r", Request: request(digest), Start: true, Logf: logf}).Finish(ctx, StateSuccess, "x")
	if n := len(fake.Deployments()); n != 0 {
		t.Errorf("%d deployments created", n)
	}
	all := strings.Join(logged, "\n")
	if !strings.Contains(all, "no github-token") || !strings.Contains(all, "apply-env: warning: GitHub deployment for prod") {
		t.Errorf("log:\n%s", all)
	}
}
