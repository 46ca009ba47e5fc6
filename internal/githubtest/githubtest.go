package githubtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Server is a fake GitHub API for one repository.
type Server struct {
	// URL is the API root, as GITHUB_API_URL gives it.
	URL string
	// Owner and Repo name the one repository it serves.
	Owner, Repo string
	// Token is the one token it accepts, as "Bearer" or "token"; empty
	// accepts any request.
	Token string

	mu      sync.Mutex
	envs    []*env
	refs    map[string]string // branch or tag name → commit
	gitRefs map[string]object // "refs/tags/v1.2.3" → what it names
	gitTags map[string]object // tag object sha → what it names
	// raceSHA, when set, makes the next reference create answer 422
	// "Reference already exists" after another writer created it there.
	raceSHA     string
	deployments []*Deployment // by ID, ascending
	nextID      int64
	clock       time.Time
	requests    []Request
	// comments on issues and pull requests, oldest first.
	comments []Comment
}

// Request is one request the fake served.
type Request struct {
	Method, Path string
	// Query is the raw query string.
	Query string
	// Auth is the Authorization header.
	Auth string
	// Body is the request body, trimmed.
	Body string
}

func (r Request) String() string {
	s := r.Method + " " + r.Path
	if r.Query != "" {
		s += "?" + r.Query
	}
	return s
}

// Environment is a GitHub deployment environment and its protection rules.
type Environment struct {
	Name string
	// Reviewers make the required_reviewers protection rule; none, no rule.
	Reviewers []Reviewer
	// PreventSelfReview stops whoever started a run from approving it.
	PreventSelfReview bool
	// WaitTimer, in minutes, makes the wait_timer rule when positive.
	WaitTimer int
	// AdminsCannotBypass clears can_admins_bypass (GitHub's default is
	// that administrators can bypass the rules).
	AdminsCannotBypass bool
	// BranchPolicy is deployment_branch_policy; nil lets every branch and
	// tag deploy.
	BranchPolicy *BranchPolicy
	// Policies are the custom deployment branch and tag policies.
	Policies []Policy
}

// Reviewer is a required reviewer: a user or a team.
type Reviewer struct {
	// Type is "User" or "Team".
	Type string
	// Name is the user's login or the team's slug.
	Name string
}

// BranchPolicy is an environment's deployment_branch_policy.
type BranchPolicy struct {
	ProtectedBranches    bool
	CustomBranchPolicies bool
}

// Policy is a custom deployment branch or tag policy.
type Policy struct {
	// Name is a pattern in GitHub's fnmatch syntax: v*, release/*.
	Name string
	// Type is "branch" or "tag".
	Type string
}

type env struct {
	Environment
	id        int64
	createdAt time.Time
	policyIDs []int64
}

// Deployment is a deployment the fake holds, with its statuses.
type Deployment struct {
	ID                    int64
	SHA, Ref, Task        string
	Environment           string
	Description           string
	Payload               json.RawMessage
	ProductionEnvironment bool
	TransientEnvironment  bool
	CreatedAt             time.Time
	// ViaApp is the slug of the GitHub App the deployment was performed
	// via ("github-actions" for a job's environment); empty for none.
	ViaApp string
	// Statuses, oldest first.
	Statuses []Status
}

// Status is a deployment status.
type Status struct {
	ID             int64
	State          string
	Description    string
	EnvironmentURL string
	LogURL         string
	TargetURL      string
	CreatedAt      time.Time
}

// start is the fake's clock: each object it creates is a second younger
// than the one before.
var start = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// New starts a fake serving owner/repo for the test's duration.
func New(t testing.TB, owner, repo, token string) *Server {
	t.Helper()
	s := &Server{Owner: owner, Repo: repo, Token: token, refs: map[string]string{}, gitRefs: map[string]object{}, gitTags: map[string]object{}, nextID: 1000, clock: start}
	mux := http.NewServeMux()
	base := "/repos/" + owner + "/" + repo
	mux.HandleFunc("GET "+base+"/environments/{name}", s.getEnvironment)
	mux.HandleFunc("GET "+base+"/environments/{name}/deployment-branch-policies", s.listPolicies)
	mux.HandleFunc("GET "+base+"/deployments", s.listDeployments)
	mux.HandleFunc("POST "+base+"/deployments", s.createDeployment)
	mux.HandleFunc("GET "+base+"/deployments/{id}", s.getDeployment)
	mux.HandleFunc("GET "+base+"/deployments/{id}/statuses", s.listStatuses)
	mux.HandleFunc("POST "+base+"/deployments/{id}/statuses", s.createStatus)
	mux.HandleFunc("GET "+base+"/issues/{n}/comments", s.listComments)
	mux.HandleFunc("POST "+base+"/issues/{n}/comments", s.createComment)
	mux.HandleFunc("PATCH "+base+"/issues/comments/{id}", s.updateComment)
	mux.HandleFunc("GET "+base+"/git/ref/{ref...}", s.getRef)
	mux.HandleFunc("POST "+base+"/git/refs", s.createRef)
	mux.HandleFunc("GET "+base+"/git/tags/{sha}", s.getTag)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { notFound(w, "https://docs.github.com/rest") })
	srv := httptest.NewServer(s.record(mux))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// SetEnvironment creates or replaces an environment.
func (s *Server) SetEnvironment(e Environment) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.putEnv(e)
}

func (s *Server) putEnv(e Environment) *env {
	ne := &env{Environment: e, id: s.id(), createdAt: s.tick()}
	for range e.Policies {
		ne.policyIDs = append(ne.policyIDs, s.id())
	}
	if i := s.envIndex(e.Name); i >= 0 {
		ne.id, ne.createdAt = s.envs[i].id, s.envs[i].createdAt
		s.envs[i] = ne
	} else {
		s.envs = append(s.envs, ne)
	}
	return ne
}

// Environment returns the environment called name, which a test or a
// deployment created.
func (s *Server) Environment(name string) (Environment, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i := s.envIndex(name); i >= 0 {
		return s.envs[i].Environment, true
	}
	return Environment{}, false
}

// SetRef makes a branch or tag name resolve to commit when a deployment
// names it as its ref; a 40-hex-digit ref is a commit by itself.
func (s *Server) SetRef(ref, commit string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refs[ref] = commit
}

// AddDeployment stores a deployment as if it had been created, and returns
// its ID.
func (s *Server) AddDeployment(d Deployment) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	d.ID, d.CreatedAt = s.id(), s.tick()
	for i := range d.Statuses {
		d.Statuses[i].ID, d.Statuses[i].CreatedAt = s.id(), s.tick()
	}
	if d.Payload == nil {
		d.Payload = json.RawMessage("{}")
	}
	if s.envIndex(d.Environment) < 0 {
		s.putEnv(Environment{Name: d.Environment})
	}
	s.deployments = append(s.deployments, &d)
	return d.ID
}

// Deployments returns the deployments, oldest first.
func (s *Server) Deployments() []Deployment {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Deployment, len(s.deployments))
	for i, d := range s.deployments {
		out[i] = *d
		out[i].Statuses = slices.Clone(d.Statuses)
	}
	return out
}

// Requests returns the requests served so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// ResetRequests forgets the requests served so far.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = nil
}

func (s *Server) id() int64 {
	s.nextID++
	return s.nextID
}

func (s *Server) tick() time.Time {
	s.clock = s.clock.Add(time.Second)
	return s.clock
}

// envIndex finds an environment; GitHub's names are case-insensitive.
func (s *Server) envIndex(name string) int {
	return slices.IndexFunc(s.envs, func(e *env) bool { return strings.EqualFold(e.Name, name) })
}

func (s *Server) record(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		s.mu.Lock()
		s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Auth: r.Header.Get("Authorization"), Body: strings.TrimSpace(string(body))})
		s.mu.Unlock()
		if a := r.Header.Get("Authorization"); s.Token != "" && a != "Bearer "+s.Token && a != "token "+s.Token {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest", "status": "401"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) api(path string) string {
	return fmt.Sprintf("https://api.github.com/repos/%s/%s/%s", s.Owner, s.Repo, path)
}

func (s *Server) repoAPI() string {
	return fmt.Sprintf("https://api.github.com/repos/%s/%s", s.Owner, s.Repo)
}

func (s *Server) html(path string) string {
	return fmt.Sprintf("https://github.com/%s/%s/%s", s.Owner, s.Repo, path)
}

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// bot is the creator GitHub reports for objects made with a workflow's
// GITHUB_TOKEN.
var bot = map[string]any{
	"login": "github-actions[bot]", "id": 41898282, "node_id": "MDM6Qm90NDE4OTgyODI=",
	"avatar_url": "https://avatars.githubusercontent.com/in/15368?v=4",
	"url":        "https://api.github.com/users/github-actions%5Bbot%5D", "html_url": "https://github.com/apps/github-actions",
	"type": "Bot", "site_admin": false,
}

func (s *Server) envJSON(e *env) map[string]any {
	var rules []any
	rid := e.id * 10
	if e.WaitTimer > 0 {
		rules = append(rules, map[string]any{"id": rid + 1, "node_id": fmt.Sprintf("GA_%d", rid+1), "type": "wait_timer", "wait_timer": e.WaitTimer})
	}
	if len(e.Reviewers) > 0 {
		var rs []any
		for i, r := range e.Reviewers {
			id := 9000 + i
			var who map[string]any
			if r.Type == "Team" {
				who = map[string]any{
					"id": id, "node_id": fmt.Sprintf("T_%d", id), "name": r.Name, "slug": r.Name,
					"url":      "https://api.github.com/orgs/" + s.Owner + "/teams/" + r.Name,
					"html_url": "https://github.com/orgs/" + s.Owner + "/teams/" + r.Name,
					"privacy":  "closed", "permission": "pull", "parent": nil,
				}
			} else {
				who = map[string]any{
					"login": r.Name, "id": id, "node_id": fmt.Sprintf("U_%d", id),
					"url": "https://api.github.com/users/" + r.Name, "html_url": "https://github.com/" + r.Name,
					"type": "User", "site_admin": false,
				}
			}
			rs = append(rs, map[string]any{"type": r.Type, "reviewer": who})
		}
		rules = append(rules, map[string]any{
			"id": rid + 2, "node_id": fmt.Sprintf("GA_%d", rid+2), "prevent_self_review": e.PreventSelfReview,
			"type": "required_reviewers", "reviewers": rs,
		})
	}
	var policy any
	if e.BranchPolicy != nil {
		rules = append(rules, map[string]any{"id": rid + 3, "node_id": fmt.Sprintf("GA_%d", rid+3), "type": "branch_policy"})
		policy = map[string]bool{"protected_branches": e.BranchPolicy.ProtectedBranches, "custom_branch_policies": e.BranchPolicy.CustomBranchPolicies}
	}
	if rules == nil {
		rules = []any{}
	}
	return map[string]any{
		"id": e.id, "node_id": fmt.Sprintf("EN_%d", e.id), "name": e.Name,
		"url":        s.api("environments/" + url.PathEscape(e.Name)),
		"html_url":   s.html("deployments/activity_log?environments_filter=" + url.QueryEscape(e.Name)),
		"created_at": ts(e.createdAt), "updated_at": ts(e.createdAt),
		"can_admins_bypass": !e.AdminsCannotBypass,
		"protection_rules":  rules, "deployment_branch_policy": policy,
	}
}

func (s *Server) getEnvironment(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.envIndex(r.PathValue("name"))
	if i < 0 {
		notFound(w, "https://docs.github.com/rest/deployments/environments#get-an-environment")
		return
	}
	writeJSON(w, http.StatusOK, s.envJSON(s.envs[i]))
}

func (s *Server) listPolicies(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.envIndex(r.PathValue("name"))
	if i < 0 {
		notFound(w, "https://docs.github.com/rest/deployments/branch-policies#list-deployment-branch-policies")
		return
	}
	e := s.envs[i]
	all := make([]any, len(e.Policies))
	for j, p := range e.Policies {
		typ := p.Type
		if typ == "" {
			typ = "branch"
		}
		all[j] = map[string]any{"id": e.policyIDs[j], "node_id": fmt.Sprintf("GBP_%d", e.policyIDs[j]), "name": p.Name, "type": typ}
	}
	page, ok := paginate(w, r, all)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"total_count": len(all), "branch_policies": page})
}

func (s *Server) deploymentJSON(d *Deployment) map[string]any {
	u := s.api("deployments/" + strconv.FormatInt(d.ID, 10))
	var app any
	if d.ViaApp != "" {
		app = apps[d.ViaApp]
	}
	return map[string]any{
		"url": u, "id": d.ID, "node_id": fmt.Sprintf("DE_%d", d.ID),
		"sha": d.SHA, "ref": d.Ref, "task": d.Task, "payload": d.Payload,
		"original_environment": d.Environment, "environment": d.Environment,
		"description": nilIfEmpty(d.Description), "creator": bot,
		"created_at": ts(d.CreatedAt), "updated_at": ts(d.CreatedAt),
		"statuses_url": u + "/statuses", "repository_url": s.repoAPI(),
		"transient_environment": d.TransientEnvironment, "production_environment": d.ProductionEnvironment,
		"performed_via_github_app": app,
	}
}

func (s *Server) statusJSON(d *Deployment, st Status) map[string]any {
	du := s.api("deployments/" + strconv.FormatInt(d.ID, 10))
	return map[string]any{
		"url": du + "/statuses/" + strconv.FormatInt(st.ID, 10), "id": st.ID, "node_id": fmt.Sprintf("DES_%d", st.ID),
		"state": st.State, "creator": bot, "description": st.Description, "environment": d.Environment,
		"target_url": st.TargetURL, "log_url": st.LogURL, "environment_url": st.EnvironmentURL,
		"created_at": ts(st.CreatedAt), "updated_at": ts(st.CreatedAt),
		"deployment_url": du, "repository_url": s.repoAPI(),
	}
}

var commitSHA = regexp.MustCompile(`^[0-9a-f]{40}$`)

func (s *Server) createDeployment(w http.ResponseWriter, r *http.Request) {
	const doc = "https://docs.github.com/rest/deployments/deployments#create-a-deployment"
	var req struct {
		Ref                   string          `json:"ref"`
		Task                  *string         `json:"task"`
		AutoMerge             *bool           `json:"auto_merge"`
		RequiredContexts      *[]string       `json:"required_contexts"`
		Payload               json.RawMessage `json:"payload"`
		Environment           *string         `json:"environment"`
		Description           *string         `json:"description"`
		TransientEnvironment  bool            `json:"transient_environment"`
		ProductionEnvironment *bool           `json:"production_environment"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"message": "Problems parsing JSON", "documentation_url": doc, "status": "400"})
		return
	}
	if req.Ref == "" {
		validationFailed(w, doc, "Deployment", "missing_field", "ref")
		return
	}
	if req.Description != nil && len([]rune(*req.Description)) > 140 {
		validationFailed(w, doc, "Deployment", "custom", "description")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sha := req.Ref
	if !commitSHA.MatchString(sha) {
		if sha = s.refs[req.Ref]; sha == "" {
			writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"message": "No ref found for: " + req.Ref, "documentation_url": doc, "status": "422"})
			return
		}
	}
	d := &Deployment{ID: s.id(), SHA: sha, Ref: req.Ref, Task: "deploy", Environment: "production", Payload: json.RawMessage("{}"), CreatedAt: s.tick()}
	if req.Task != nil {
		d.Task = *req.Task
	}
	if req.Environment != nil {
		d.Environment = *req.Environment
	}
	if req.Description != nil {
		d.Description = *req.Description
	}
	if len(req.Payload) > 0 && string(req.Payload) != "null" {
		d.Payload = req.Payload
	}
	d.TransientEnvironment = req.TransientEnvironment
	d.ProductionEnvironment = d.Environment == "production"
	if req.ProductionEnvironment != nil {
		d.ProductionEnvironment = *req.ProductionEnvironment
	}
	// A deployment to an environment nobody configured creates it, with
	// no protection rules.
	if i := s.envIndex(d.Environment); i < 0 {
		s.putEnv(Environment{Name: d.Environment})
	} else {
		d.Environment = s.envs[i].Name
	}
	s.deployments = append(s.deployments, d)
	writeJSON(w, http.StatusCreated, s.deploymentJSON(d))
}

func (s *Server) listDeployments(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	var all []any
	for _, d := range slices.Backward(s.deployments) {
		if (q.Get("sha") == "" || q.Get("sha") == d.SHA) && (q.Get("ref") == "" || q.Get("ref") == d.Ref) &&
			(q.Get("task") == "" || q.Get("task") == d.Task) && (q.Get("environment") == "" || q.Get("environment") == d.Environment) {
			all = append(all, s.deploymentJSON(d))
		}
	}
	page, ok := paginate(w, r, all)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, page)
}

func (s *Server) deployment(w http.ResponseWriter, r *http.Request, doc string) *Deployment {
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	i := slices.IndexFunc(s.deployments, func(d *Deployment) bool { return d.ID == id })
	if i < 0 {
		notFound(w, doc)
		return nil
	}
	return s.deployments[i]
}

func (s *Server) getDeployment(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d := s.deployment(w, r, "https://docs.github.com/rest/deployments/deployments#get-a-deployment"); d != nil {
		writeJSON(w, http.StatusOK, s.deploymentJSON(d))
	}
}

func (s *Server) listStatuses(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.deployment(w, r, "https://docs.github.com/rest/deployments/statuses#list-deployment-statuses")
	if d == nil {
		return
	}
	var all []any
	for _, st := range slices.Backward(d.Statuses) {
		all = append(all, s.statusJSON(d, st))
	}
	page, ok := paginate(w, r, all)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, page)
}

// states are the deployment status states GitHub accepts.
var states = []string{"error", "failure", "inactive", "in_progress", "queued", "pending", "success"}

func (s *Server) createStatus(w http.ResponseWriter, r *http.Request) {
	const doc = "https://docs.github.com/rest/deployments/statuses#create-a-deployment-status"
	var req struct {
		State          string  `json:"state"`
		TargetURL      string  `json:"target_url"`
		LogURL         string  `json:"log_url"`
		Description    string  `json:"description"`
		Environment    *string `json:"environment"`
		EnvironmentURL string  `json:"environment_url"`
		AutoInactive   *bool   `json:"auto_inactive"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"message": "Problems parsing JSON", "documentation_url": doc, "status": "400"})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.deployment(w, r, doc)
	if d == nil {
		return
	}
	if !slices.Contains(states, req.State) {
		validationFailed(w, doc, "DeploymentStatus", "invalid", "state")
		return
	}
	if len([]rune(req.Description)) > 140 {
		validationFailed(w, doc, "DeploymentStatus", "custom", "description")
		return
	}
	if req.Environment != nil {
		d.Environment = *req.Environment
	}
	st := Status{ID: s.id(), State: req.State, Description: req.Description, EnvironmentURL: req.EnvironmentURL, LogURL: req.LogURL, TargetURL: req.TargetURL, CreatedAt: s.tick()}
	// log_url replaces target_url; GitHub sets the one from the other.
	if st.TargetURL == "" {
		st.TargetURL = st.LogURL
	}
	if st.LogURL == "" {
		st.LogURL = st.TargetURL
	}
	d.Statuses = append(d.Statuses, st)
	// auto_inactive (default true): earlier successful deployments to the
	// same non-production, non-transient environment become inactive.
	if req.State == "success" && (req.AutoInactive == nil || *req.AutoInactive) {
		for _, o := range s.deployments {
			if o.ID < d.ID && strings.EqualFold(o.Environment, d.Environment) && !o.ProductionEnvironment && !o.TransientEnvironment &&
				len(o.Statuses) > 0 && o.Statuses[len(o.Statuses)-1].State == "success" {
				o.Statuses = append(o.Statuses, Status{ID: s.id(), State: "inactive", Description: "", CreatedAt: s.tick()})
			}
		}
	}
	writeJSON(w, http.StatusCreated, s.statusJSON(d, st))
}

// paginate answers GitHub's per_page (default 30, at most 100) and page,
// with a Link header for the next and last pages.
func paginate(w http.ResponseWriter, r *http.Request, all []any) ([]any, bool) {
	q := r.URL.Query()
	per, page := 30, 1
	if v := q.Get("per_page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			validationFailed(w, "https://docs.github.com/rest/using-the-rest-api/using-pagination-in-the-rest-api", "", "invalid", "per_page")
			return nil, false
		}
		per = min(n, 100)
	}
	if v := q.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			validationFailed(w, "https://docs.github.com/rest/using-the-rest-api/using-pagination-in-the-rest-api", "", "invalid", "page")
			return nil, false
		}
		page = n
	}
	last := max(1, (len(all)+per-1)/per)
	link := func(p int) string {
		u := *r.URL
		u.Scheme, u.Host = "http", r.Host
		v := u.Query()
		v.Set("page", strconv.Itoa(p))
		v.Set("per_page", strconv.Itoa(per))
		u.RawQuery = v.Encode()
		return u.String()
	}
	if page < last {
		w.Header().Set("Link", fmt.Sprintf(`<%s>; rel="next", <%s>; rel="last"`, link(page+1), link(last)))
	}
	lo, hi := min((page-1)*per, len(all)), min(page*per, len(all))
	out := all[lo:hi]
	if out == nil {
		out = []any{}
	}
	return out, true
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func notFound(w http.ResponseWriter, doc string) {
	writeJSON(w, http.StatusNotFound, map[string]string{"message": "Not Found", "documentation_url": doc, "status": "404"})
}

func validationFailed(w http.ResponseWriter, doc, resource, code, field string) {
	writeJSON(w, http.StatusUnprocessableEntity, map[string]any{
		"message":           "Validation Failed",
		"errors":            []map[string]string{{"resource": resource, "code": code, "field": field}},
		"documentation_url": doc, "status": "422",
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
