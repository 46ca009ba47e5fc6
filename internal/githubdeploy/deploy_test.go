package githubdeploy

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/driftless-dev/driftless/internal/githubapi"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/driftless-dev/driftless/internal/githubtest"
)

const (
	sha     = "0123456789abcdef0123456789abcdef01234567"
	digest  = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	rebuilt = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	runURL  = "https://github.com/o/r/actions/runs/42"
	envURL  = "https://prod.example.com"
	list    = "GET /repos/o/r/deployments?environment=prod&per_page=100&sha=" + sha + "&task=deploy%3Adriftless"
)

func newClient(t *testing.T, fake *githubtest.Server, token string) *Client {
	t.Helper()
	gh, err := githubapi.New(fake.URL, token, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(gh, "o/r")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func payload(digest string) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"digest":%q,"version":"v1.4.2"}`, digest))
}

func request(digest string) Request {
	return Request{Environment: "prod", SHA: sha, Digest: digest, Version: "v1.4.2", Description: "driftless apply-env v1.4.2"}
}

// requests renders what the fake served, method, path and query, with the
// body of writes.
func requests(fake *githubtest.Server) []string {
	var out []string
	for _, r := range fake.Requests() {
		s := r.String()
		if r.Body != "" {
			s += " " + r.Body
		}
		out = append(out, s)
	}
	return out
}

// TestApplyThenSmoke is the flow on GitHub: apply-env creates the
// deployment and marks it in progress; smoke-test finds it and marks it
// successful.
func TestApplyThenSmoke(t *testing.T) {
	t.Parallel()
	fake := githubtest.New(t, "o", "r", "s3cret")
	// GitHub's own deployment for a job with `environment: prod`.
	fake.AddDeployment(githubtest.Deployment{SHA: sha, Ref: "v1.4.2", Task: "deploy", Environment: "prod"})
	ctx := t.Context()

	apply := newClient(t, fake, "s3cret")
	d, created, err := apply.FindOrCreate(ctx, request(digest))
	if err != nil {
		t.Fatal(err)
	}
	if !created {
		t.Error("apply-env: FindOrCreate found a deployment, want a new one (GitHub's own has another task)")
	}
	if err := apply.SetStatus(ctx, d, Status{State: StateInProgress, EnvironmentURL: envURL, LogURL: runURL, Description: "applying v1.4.2"}); err != nil {
		t.Fatal(err)
	}

	smoke := newClient(t, fake, "s3cret")
	found, created, err := smoke.FindOrCreate(ctx, request(digest))
	if err != nil {
		t.Fatal(err)
	}
	if created || found.ID != d.ID {
		t.Errorf("smoke-test: FindOrCreate = deployment %d (created %t), want apply-env's %d", found.ID, created, d.ID)
	}
	if err := smoke.SetStatus(ctx, found, Status{State: StateSuccess, EnvironmentURL: envURL, LogURL: runURL, Description: "verified v1.4.2"}); err != nil {
		t.Fatal(err)
	}

	wantBody := `{"ref":"` + sha + `","task":"deploy:driftless","auto_merge":false,"required_contexts":[],` +
		`"payload":{"digest":"` + digest + `","version":"v1.4.2"},"environment":"prod","description":"driftless apply-env v1.4.2","transient_environment":false}`
	status := func(state, desc string) string {
		return fmt.Sprintf(`POST /repos/o/r/deployments/%d/statuses {"state":%q,"log_url":%q,"description":%q,"environment_url":%q,"auto_inactive":true}`, d.ID, state, runURL, desc, envURL)
	}
	want := []string{
		list,
		"POST /repos/o/r/deployments " + wantBody,
		status("in_progress", "applying v1.4.2"),
		list,
		status("success", "verified v1.4.2"),
	}
	if diff := cmp.Diff(want, requests(fake)); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
	for _, r := range fake.Requests() {
		if r.Auth != "Bearer s3cret" {
			t.Errorf("%s: Authorization %q, want the token", r, r.Auth)
		}
	}

	if diff := cmp.Diff(githubtest.Deployment{
		ID: d.ID, SHA: sha, Ref: sha, Task: Task, Environment: "prod", Description: "driftless apply-env v1.4.2",
		Payload: payload(digest),
		Statuses: []githubtest.Status{
			{State: "in_progress", Description: "applying v1.4.2", EnvironmentURL: envURL, LogURL: runURL, TargetURL: runURL},
			{State: "success", Description: "verified v1.4.2", EnvironmentURL: envURL, LogURL: runURL, TargetURL: runURL},
		},
	}, fake.Deployments()[1],
		cmpopts.IgnoreFields(githubtest.Deployment{}, "CreatedAt"), cmpopts.IgnoreFields(githubtest.Status{}, "ID", "CreatedAt"),
		cmp.Transformer("json", func(m json.RawMessage) string { return string(m) }),
	); diff != "" {
		t.Errorf("deployment in GitHub (-want +got):\n%s", diff)
	}
}

func TestFind(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		existing []githubtest.Deployment // oldest first
		digest   string
		want     int // index into existing, -1 for none
		requests int
	}{
		{name: "none", want: -1, requests: 1},
		{
			name:     "GitHub's own deployment is not driftless's",
			existing: []githubtest.Deployment{{SHA: sha, Ref: "v1.4.2", Task: "deploy", Environment: "prod"}},
			digest:   digest, want: -1, requests: 1,
		},
		{
			name: "the newest with the digest",
			existing: []githubtest.Deployment{
				{SHA: sha, Ref: sha, Task: Task, Environment: "prod", Payload: payload(digest)},
				{SHA: sha, Ref: sha, Task: Task, Environment: "prod", Payload: payload(digest)},
				{SHA: sha, Ref: sha, Task: Task, Environment: "prod", Payload: payload(rebuilt)},
			},
			digest: digest, want: 1, requests: 1,
		},
		{
			name:     "a rebuilt image at the same commit is another deployment",
			existing: []githubtest.Deployment{{SHA: sha, Ref: sha, Task: Task, Environment: "prod", Payload: payload(rebuilt)}},
			digest:   digest, want: -1, requests: 1,
		},
		{
			name:     "another environment",
			existing: []githubtest.Deployment{{SHA: sha, Ref: sha, Task: Task, Environment: "test", Payload: payload(digest)}},
			digest:   digest, want: -1, requests: 1,
		},
		{
			name:     "a payload that is not driftless's",
			existing: []githubtest.Deployment{{SHA: sha, Ref: sha, Task: Task, Environment: "prod", Payload: json.RawMessage(`"hello"`)}},
			want:     -1, requests: 1,
		},
		{
			name: "on the second page",
			existing: append([]githubtest.Deployment{{SHA: sha, Ref: sha, Task: Task, Environment: "prod", Payload: payload(digest)}},
				repeat(githubtest.Deployment{SHA: sha, Ref: sha, Task: Task, Environment: "prod", Payload: payload(rebuilt)}, 100)...),
			digest: digest, want: 0, requests: 2,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fake := githubtest.New(t, "o", "r", "")
			var ids []int64
			for _, d := range tc.existing {
				ids = append(ids, fake.AddDeployment(d))
			}
			got, err := newClient(t, fake, "").Find(t.Context(), "prod", sha, tc.digest)
			if err != nil {
				t.Fatal(err)
			}
			var gotID, wantID int64
			if got != nil {
				gotID = got.ID
			}
			if tc.want >= 0 {
				wantID = ids[tc.want]
			}
			if gotID != wantID {
				t.Errorf("Find = deployment %d, want %d", gotID, wantID)
			}
			if n := len(fake.Requests()); n != tc.requests {
				t.Errorf("Find made %d requests, want %d: %v", n, tc.requests, requests(fake))
			}
		})
	}
}

func repeat(d githubtest.Deployment, n int) []githubtest.Deployment {
	out := make([]githubtest.Deployment, n)
	for i := range out {
		out[i] = d
	}
	return out
}

// TestAutoInactive: a successful deployment makes the earlier one inactive,
// so GitHub shows one active deployment per environment.
func TestAutoInactive(t *testing.T) {
	t.Parallel()
	fake := githubtest.New(t, "o", "r", "")
	c := newClient(t, fake, "")
	ctx := t.Context()
	for _, dg := range []string{digest, rebuilt} {
		d, err := c.Create(ctx, request(dg))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.SetStatus(ctx, d, Status{State: StateSuccess, LogURL: runURL}); err != nil {
			t.Fatal(err)
		}
	}
	var got [][]string
	for _, d := range fake.Deployments() {
		var states []string
		for _, s := range d.Statuses {
			states = append(states, s.State)
		}
		got = append(got, states)
	}
	if diff := cmp.Diff([][]string{{"success", "inactive"}, {"success"}}, got); diff != "" {
		t.Errorf("statuses per deployment (-want +got):\n%s", diff)
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	fake := githubtest.New(t, "o", "r", "s3cret")
	ctx := t.Context()

	long := request(digest)
	long.Description = strings.Repeat("é", 200)
	if _, err := newClient(t, fake, "s3cret").Create(ctx, long); err != nil {
		t.Fatalf("a long description: %v", err)
	}
	if got := []rune(fake.Deployments()[0].Description); len(got) != 140 || got[139] != '…' {
		t.Errorf("description kept %d characters ending in %q, want 140 ending in an ellipsis", len(got), got[len(got)-1])
	}

	for _, tc := range []struct {
		name, token string
		do          func(c *Client) error
		want        string
	}{
		{
			name: "bad token", token: "wrong",
			do:   func(c *Client) error { _, err := c.Create(ctx, request(digest)); return err },
			want: `creating a GitHub deployment of ` + sha + ` to environment "prod" on o/r: POST ` + fake.URL + `/repos/o/r/deployments: 401 Bad credentials [] (the token was refused: pass the workflow's GITHUB_TOKEN as github-token)`,
		},
		{
			name: "no such deployment", token: "s3cret",
			do: func(c *Client) error {
				return c.SetStatus(ctx, &Deployment{ID: 7, Environment: "prod"}, Status{State: StateSuccess})
			},
			want: `setting GitHub deployment 7 (environment "prod") on o/r to success: POST ` + fake.URL + `/repos/o/r/deployments/7/statuses: 404 Not Found [] (does the workflow's token have ` + "`permissions: deployments: write`?)",
		},
		{
			name: "no commit", token: "s3cret",
			do:   func(c *Client) error { _, err := c.Create(ctx, Request{Environment: "prod"}); return err },
			want: `creating a GitHub deployment on o/r: the environment ("prod") and the commit ("") are both needed`,
		},
	} {
		err := tc.do(newClient(t, fake, tc.token))
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s:\n got %v\nwant %s", tc.name, err, tc.want)
		}
	}

	if _, err := githubapi.New("ftp://example.com", "", nil); err == nil {
		t.Error("NewGitHubClient accepted an ftp URL")
	}
	if _, err := New(nil, "just-a-name"); err == nil || !strings.Contains(err.Error(), `"just-a-name" is not owner/name`) {
		t.Errorf("New with a bad repository: %v", err)
	}
}
