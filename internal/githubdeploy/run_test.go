package githubdeploy

import (
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/driftless-dev/driftless/internal/githubtest"
)

// TestOneDeploymentPerEnvironmentAndRun: apply-env and smoke-test add
// their statuses to the Deployment GitHub Actions made for the job's
// environment, in this run and no other; they create one only when the run
// has none, and then share it.
func TestOneDeploymentPerEnvironmentAndRun(t *testing.T) {
	t.Parallel()
	job := githubtest.ActionsJob{Environment: "prod", SHA: sha, Ref: "v1.4.2", RunID: 4242, JobID: 9, EnvironmentURL: envURL}
	// The same commit and environment in run 424 (its prefix) and in an
	// earlier run.
	other := job
	other.RunID, other.JobID = 424, 3
	earlier := job
	earlier.RunID, earlier.JobID = 4000, 1
	for _, tc := range []struct {
		name string
		// jobs are the Actions jobs that declare prod: the first is this
		// run's (when it is run 4242), the one apply-env runs in.
		jobs []githubtest.ActionsJob
		want map[string][]string // deployment (by task and run) → statuses
	}{
		{
			name: "the job declares the environment",
			jobs: []githubtest.ActionsJob{job, other, earlier},
			want: map[string][]string{
				"deploy 4242": {"queued", "in_progress", "in_progress", "success deployed", "success verified", "success (job ended)"},
				"deploy 424":  {"queued", "in_progress"},
				"deploy 4000": {"queued", "in_progress"},
			},
		},
		{
			// A run by hand, on GitLab's side of a mirror, or with
			// environment: {deployment: false}.
			name: "no job declares it",
			want: map[string][]string{"deploy:driftless": {"in_progress", "success deployed", "success verified"}},
		},
		{
			name: "only other runs declared it",
			jobs: []githubtest.ActionsJob{other, earlier},
			want: map[string][]string{
				"deploy:driftless": {"in_progress", "success deployed", "success verified"},
				"deploy 424":       {"queued", "in_progress"},
				"deploy 4000":      {"queued", "in_progress"},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fake := githubtest.New(t, "o", "r", "s3cret")
			ctx := t.Context()
			ids := map[int64]int64{}
			for _, j := range tc.jobs {
				ids[j.RunID] = fake.StartJob(j)
			}
			r := request(digest)
			r.RunID = "4242"
			var logged []string
			logf := func(f string, a ...any) { logged = append(logged, f) }
			opts := TrackOptions{Step: "apply-env", APIURL: fake.URL, Token: "s3cret", Repository: "o/r", Request: r,
				Status: Status{EnvironmentURL: envURL, LogURL: runURL}, Start: true, Logf: logf}
			Track(ctx, opts).Finish(ctx, StateSuccess, "deployed")
			opts.Step, opts.Start = "smoke-test", false
			opts.Request.Description = "driftless smoke-test v1.4.2"
			Track(ctx, opts).Finish(ctx, StateSuccess, "verified")
			if id, ok := ids[4242]; ok {
				fake.FinishJob(id, job, "success")
			}

			got := map[string][]string{}
			for _, d := range fake.Deployments() {
				key := d.Task
				for _, j := range tc.jobs {
					if ids[j.RunID] == d.ID {
						key += " " + strconv.FormatInt(j.RunID, 10)
					}
				}
				var sts []string
				for i, s := range d.Statuses {
					st := s.State
					if s.Description != "" {
						st += " " + s.Description
					}
					if d.Task == "deploy" && i == len(d.Statuses)-1 && i > 1 && s.LogURL != runURL {
						st += " (job ended)"
					}
					sts = append(sts, st)
				}
				got[key] = sts
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("deployments and their statuses (-want +got):\n%s\nlog: %q", diff, logged)
			}
		})
	}
}

func TestOfRun(t *testing.T) {
	t.Parallel()
	for u, want := range map[string]bool{
		"https://github.com/o/r/actions/runs/4242/job/9":      true,
		"https://github.com/o/r/actions/runs/4242":            true,
		"https://github.com/o/r/actions/runs/4242/attempts/2": true,
		"https://github.com/o/r/actions/runs/4242?pr=3":       true,
		"https://github.com/o/r/actions/runs/42420/job/9":     false,
		"https://github.com/o/r/actions/runs/424/job/9":       false,
		"":                                       false,
		"https://ci.example.com/o/r/-/jobs/4242": false,
	} {
		if got := ofRun(u, "4242"); got != want {
			t.Errorf("ofRun(%q, 4242) = %v, want %v", u, got, want)
		}
	}
}
