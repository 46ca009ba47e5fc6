package githubdeploy

import (
	"context"

	"github.com/driftless-dev/driftless/internal/githubapi"
)

// Tracker moves the GitHub Deployment of one step run. A Tracker that
// could not be set up (outside GitHub, no token, GitHub refusing) does
// nothing: GitHub's page is a view of what happened, never a reason for a
// deployment to fail, so failures are logged as warnings.
type Tracker struct {
	c    *Client
	d    *Deployment
	base Status
	logf func(format string, args ...any)
	step string
}

// TrackOptions say which Deployment to track and how to reach GitHub.
type TrackOptions struct {
	// Step names the step in warnings ("apply-env").
	Step string
	// APIURL is GITHUB_API_URL (empty: api.github.com); Token the token;
	// Repository owner/name. Without a token or repository nothing is
	// tracked.
	APIURL, Token, Repository string
	// Request finds or creates the Deployment.
	Request Request
	// Status is what every status of the run carries (environment and log
	// URLs).
	Status Status
	// Start is set to mark the Deployment in progress at once.
	Start bool
	Logf  func(format string, args ...any)
}

// Track finds the Deployment opts.Request names, or creates it, and marks
// it in progress when asked. It never fails; see Tracker.
func Track(ctx context.Context, opts TrackOptions) *Tracker {
	t := &Tracker{base: opts.Status, logf: opts.Logf, step: opts.Step}
	if t.logf == nil {
		t.logf = func(string, ...any) {}
	}
	if opts.Token == "" || opts.Repository == "" {
		t.logf("%s: GitHub deployment status not set: no github-token (or GITHUB_TOKEN) and GITHUB_REPOSITORY", opts.Step)
		return t
	}
	gh, err := githubapi.New(opts.APIURL, opts.Token, nil)
	if err == nil {
		t.c, err = New(gh, opts.Repository)
	}
	var created bool
	if err == nil {
		t.d, created, err = t.c.FindOrCreate(ctx, opts.Request)
	}
	if err == nil {
		how := "found"
		switch {
		case t.d.Actions:
			how = "the one GitHub Actions made for this job's environment"
		case created:
			how = "created"
		}
		t.logf("%s: GitHub deployment %d of %s: %s", opts.Step, t.d.ID, opts.Request.Environment, how)
	}
	if err == nil && opts.Start {
		st := t.base
		st.State = StateInProgress
		err = t.c.SetStatus(ctx, t.d, st)
	}
	if err != nil {
		t.logf("%s: warning: GitHub deployment for %s: %v", opts.Step, opts.Request.Environment, err)
		t.d = nil
	}
	return t
}

// Finish sets the Deployment's final status.
func (t *Tracker) Finish(ctx context.Context, state, description string) {
	if t == nil || t.d == nil {
		return
	}
	st := t.base
	st.State, st.Description = state, description
	if err := t.c.SetStatus(ctx, t.d, st); err != nil {
		t.logf("%s: warning: GitHub deployment status: %v", t.step, err)
	}
}
