package githubtest

import (
	"encoding/json"
	"fmt"
)

// ActionsJob is a workflow job that declares a GitHub environment, as
// GitHub Actions records it in the Deployments API: a Deployment of the
// run's commit (task "deploy", payload {}, ref the branch or tag the run
// is for, performed via the GitHub Actions app) whose statuses link the
// job in log_url and target_url (…/actions/runs/<run>/job/<job>). A job
// whose environment sets deployment: false has none.
type ActionsJob struct {
	Environment string
	SHA, Ref    string
	RunID       int64
	JobID       int64
	// EnvironmentURL is the job's environment.url, which GitHub writes on
	// each status it adds.
	EnvironmentURL string
}

func (j ActionsJob) status(s *Server, state string) Status {
	u := s.html(fmt.Sprintf("actions/runs/%d/job/%d", j.RunID, j.JobID))
	return Status{State: state, LogURL: u, TargetURL: u, EnvironmentURL: j.EnvironmentURL}
}

// StartJob records what GitHub does when such a job is sent to a runner:
// the Deployment, queued then in_progress. It returns the Deployment's ID.
func (s *Server) StartJob(j ActionsJob) int64 {
	return s.AddDeployment(Deployment{
		SHA: j.SHA, Ref: j.Ref, Task: "deploy", Environment: j.Environment, Payload: json.RawMessage("{}"),
		ProductionEnvironment: j.Environment == "production", ViaApp: "github-actions",
		Statuses: []Status{j.status(s, "queued"), j.status(s, "in_progress")},
	})
}

// FinishJob adds the status GitHub writes on the job's Deployment when the
// job ends: success, or failure when a step failed.
func (s *Server) FinishJob(id int64, j ActionsJob, state string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.deployments {
		if d.ID == id {
			st := j.status(s, state)
			st.ID, st.CreatedAt = s.id(), s.tick()
			d.Statuses = append(d.Statuses, st)
		}
	}
}

// apps are the GitHub Apps deployments can be performed via.
var apps = map[string]map[string]any{
	"github-actions": {"id": 15368, "slug": "github-actions", "node_id": "MDM6QXBwMTUzNjg=", "name": "GitHub Actions",
		"owner": map[string]any{"login": "github", "id": 9919, "type": "Organization"}, "html_url": "https://github.com/apps/github-actions"},
}
