package githubdeploy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/driftless-dev/driftless/internal/githubapi"

	"github.com/google/go-github/v60/github"
)

// Task is the deployment task of deployments driftless creates.
const Task = "deploy:driftless"

// Deployment status states.
const (
	StateQueued     = "queued"
	StatePending    = "pending"
	StateInProgress = "in_progress"
	StateSuccess    = "success"
	StateFailure    = "failure"
	StateError      = "error"
	StateInactive   = "inactive"
)

// maxDescription is GitHub's limit on deployment and status descriptions.
const maxDescription = 140

// Client creates and updates deployments of one repository.
type Client struct {
	GitHub      *github.Client
	Owner, Repo string
}

// New returns a Client for repository (owner/name).
func New(gh *github.Client, repository string) (*Client, error) {
	owner, repo, err := githubapi.SplitRepository(repository)
	if err != nil {
		return nil, err
	}
	return &Client{GitHub: gh, Owner: owner, Repo: repo}, nil
}

// Request describes a deployment to create.
type Request struct {
	// Environment is the GitHub environment: prod.
	Environment string
	// SHA is the commit deployed; it is the deployment's ref.
	SHA string
	// Digest is the image digest deployed (sha256:…), recorded in the payload.
	Digest string
	// Version is the release deployed (v1.4.2), recorded in the payload.
	Version string
	// Description is shown in GitHub; at most 140 characters are kept.
	Description string
	// Production marks an environment end users reach (GitHub's
	// production_environment); GitHub's default is true only for an
	// environment called "production".
	Production *bool
	// RunID is the Actions run (GITHUB_RUN_ID). A job of that run that
	// declares Environment already has a Deployment GitHub made for it;
	// that one is used instead of creating another.
	RunID string
}

// Payload is what driftless stores in a deployment's payload.
type Payload struct {
	Digest  string `json:"digest"`
	Version string `json:"version,omitempty"`
}

// Deployment is a GitHub deployment driftless created.
type Deployment struct {
	ID          int64
	Environment string
	SHA         string
	Payload     Payload
	// URL is the deployment's API URL.
	URL string
	// Actions is true for a Deployment GitHub Actions made for a job that
	// declares the environment (task "deploy", empty payload), which
	// driftless adds its statuses to.
	Actions bool
}

// Status is a deployment status to set.
type Status struct {
	// State is one of the State constants.
	State string
	// EnvironmentURL is where the environment is reached (the spec's url).
	EnvironmentURL string
	// LogURL links to the CI run.
	LogURL string
	// Description is shown in GitHub; at most 140 characters are kept.
	Description string
}

func (c *Client) where() string { return c.Owner + "/" + c.Repo }

// Create creates a deployment of r.SHA to r.Environment. GitHub creates the
// environment if it does not exist, without protection rules: evaluate the
// promotion gates first.
func (c *Client) Create(ctx context.Context, r Request) (*Deployment, error) {
	if r.Environment == "" || r.SHA == "" {
		return nil, fmt.Errorf("creating a GitHub deployment on %s: the environment (%q) and the commit (%q) are both needed", c.where(), r.Environment, r.SHA)
	}
	p := Payload{Digest: r.Digest, Version: r.Version}
	d, _, err := c.GitHub.Repositories.CreateDeployment(ctx, c.Owner, c.Repo, &github.DeploymentRequest{
		Ref:                   github.String(r.SHA),
		Task:                  github.String(Task),
		AutoMerge:             github.Bool(false),
		RequiredContexts:      &[]string{},
		Payload:               p,
		Environment:           github.String(r.Environment),
		Description:           github.String(truncate(r.Description)),
		TransientEnvironment:  github.Bool(false),
		ProductionEnvironment: r.Production,
	})
	if err != nil {
		return nil, fmt.Errorf("creating a GitHub deployment of %s to environment %q on %s: %w%s", r.SHA, r.Environment, c.where(), err, hint(err))
	}
	return &Deployment{ID: d.GetID(), Environment: d.GetEnvironment(), SHA: d.GetSHA(), Payload: p, URL: d.GetURL()}, nil
}

// Find returns the newest deployment driftless created of sha to
// environment, for digest when digest is not empty (a rebuilt image at the
// same commit is another deployment); nil when there is none.
func (c *Client) Find(ctx context.Context, environment, sha, digest string) (*Deployment, error) {
	opts := &github.DeploymentsListOptions{SHA: sha, Environment: environment, Task: Task, ListOptions: github.ListOptions{PerPage: 100}}
	for {
		ds, resp, err := c.GitHub.Repositories.ListDeployments(ctx, c.Owner, c.Repo, opts)
		if err != nil {
			return nil, fmt.Errorf("looking up the GitHub deployment of %s to environment %q on %s: %w%s", sha, environment, c.where(), err, hint(err))
		}
		// GitHub lists the newest first.
		for _, d := range ds {
			var p Payload
			if len(d.Payload) > 0 {
				// A payload someone else wrote may be a string or
				// anything; it is then not driftless's.
				if json.Unmarshal(d.Payload, &p) != nil {
					continue
				}
			}
			if digest != "" && p.Digest != digest {
				continue
			}
			return &Deployment{ID: d.GetID(), Environment: d.GetEnvironment(), SHA: d.GetSHA(), Payload: p, URL: d.GetURL()}, nil
		}
		if resp.NextPage == 0 {
			return nil, nil
		}
		opts.Page = resp.NextPage
	}
}

// maxRunCandidates bounds how many of GitHub's deployments of a commit to
// an environment FindRun reads the statuses of.
const maxRunCandidates = 10

// FindRun returns the Deployment GitHub Actions made of sha to environment
// for a job of run runID, nil when there is none: no job of the run
// declares the environment, it sets deployment: false, or the run is not
// on GitHub Actions. GitHub's deployment names the run only in its
// statuses, whose log_url and target_url link the job
// (…/actions/runs/<run>/job/<job>).
func (c *Client) FindRun(ctx context.Context, environment, sha, runID string) (*Deployment, error) {
	if runID == "" {
		return nil, nil
	}
	ds, _, err := c.GitHub.Repositories.ListDeployments(ctx, c.Owner, c.Repo, &github.DeploymentsListOptions{SHA: sha, Environment: environment, ListOptions: github.ListOptions{PerPage: 30}})
	if err != nil {
		return nil, fmt.Errorf("looking up the GitHub deployment of run %s to environment %q on %s: %w%s", runID, environment, c.where(), err, hint(err))
	}
	n := 0
	// GitHub lists the newest first: a re-run's deployment before the
	// first attempt's.
	for _, d := range ds {
		if d.GetTask() == Task || n == maxRunCandidates {
			continue
		}
		n++
		sts, _, err := c.GitHub.Repositories.ListDeploymentStatuses(ctx, c.Owner, c.Repo, d.GetID(), &github.ListOptions{PerPage: 100})
		if err != nil {
			return nil, fmt.Errorf("reading the statuses of GitHub deployment %d on %s: %w%s", d.GetID(), c.where(), err, hint(err))
		}
		for _, st := range sts {
			if ofRun(st.GetLogURL(), runID) || ofRun(st.GetTargetURL(), runID) {
				return &Deployment{ID: d.GetID(), Environment: d.GetEnvironment(), SHA: d.GetSHA(), URL: d.GetURL(), Actions: true}, nil
			}
		}
	}
	return nil, nil
}

// ofRun reports whether u links run runID: …/actions/runs/<runID>, then
// the end, or /job/…, /attempts/…, a query or a fragment.
func ofRun(u, runID string) bool {
	_, rest, ok := strings.Cut(u, "/actions/runs/"+runID)
	return ok && (rest == "" || strings.ContainsAny(rest[:1], "/?#"))
}

// FindOrCreate returns the Deployment of r: the one GitHub Actions made for
// a job of r.RunID that declares r.Environment, else the one Find finds
// (apply-env's, for smoke-test in another job), else a new one. created
// says whether it was created.
func (c *Client) FindOrCreate(ctx context.Context, r Request) (d *Deployment, created bool, err error) {
	if d, err = c.FindRun(ctx, r.Environment, r.SHA, r.RunID); err != nil || d != nil {
		return d, false, err
	}
	if d, err = c.Find(ctx, r.Environment, r.SHA, r.Digest); err != nil || d != nil {
		return d, false, err
	}
	d, err = c.Create(ctx, r)
	return d, err == nil, err
}

// SetStatus adds a status to deployment d. Earlier deployments to the
// environment become inactive when it succeeds (auto_inactive).
func (c *Client) SetStatus(ctx context.Context, d *Deployment, s Status) error {
	req := &github.DeploymentStatusRequest{
		State:        github.String(s.State),
		Description:  github.String(truncate(s.Description)),
		AutoInactive: github.Bool(true),
	}
	if s.EnvironmentURL != "" {
		req.EnvironmentURL = github.String(s.EnvironmentURL)
	}
	if s.LogURL != "" {
		req.LogURL = github.String(s.LogURL)
	}
	if _, _, err := c.GitHub.Repositories.CreateDeploymentStatus(ctx, c.Owner, c.Repo, d.ID, req); err != nil {
		return fmt.Errorf("setting GitHub deployment %d (environment %q) on %s to %s: %w%s", d.ID, d.Environment, c.where(), s.State, err, hint(err))
	}
	return nil
}

// truncate keeps what GitHub accepts of a description.
func truncate(s string) string {
	r := []rune(s)
	if len(r) <= maxDescription {
		return s
	}
	return string(r[:maxDescription-1]) + "…"
}

// hint says what to do about answers that mean the token may not write
// deployments.
func hint(err error) string {
	var er *github.ErrorResponse
	if !errors.As(err, &er) || er.Response == nil {
		return ""
	}
	switch er.Response.StatusCode {
	case http.StatusUnauthorized:
		return " (the token was refused: pass the workflow's GITHUB_TOKEN as github-token)"
	case http.StatusForbidden, http.StatusNotFound:
		return " (does the workflow's token have `permissions: deployments: write`?)"
	}
	return ""
}
