package releasetest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// GitHub is a fake GitHub API for one repository's tags.
type GitHub struct {
	// URL is the API root, as GITHUB_API_URL gives it.
	URL string
	// Owner and Repo name the one repository it serves.
	Owner, Repo string
	// Token is the one token it accepts, as "Bearer" or "token".
	Token string

	mu   sync.Mutex
	refs map[string]object // "refs/tags/v1.2.3" → what it names
	tags map[string]object // tag object sha → what it names
	// raceSHA, when set, makes the next create answer 422 "Reference
	// already exists" after another writer created the ref at raceSHA.
	raceSHA  string
	requests []Request
}

// Request is one request the fake served.
type Request struct {
	Method, Path string
	// Auth is the Authorization header.
	Auth string
	// Body is the JSON body, if any.
	Body string
}

type object struct{ Type, SHA string }

// NewGitHub starts a fake serving owner/repo for the test's duration.
func NewGitHub(t testing.TB, owner, repo, token string) *GitHub {
	t.Helper()
	g := &GitHub{Owner: owner, Repo: repo, Token: token, refs: map[string]object{}, tags: map[string]object{}}
	mux := http.NewServeMux()
	base := "/repos/" + owner + "/" + repo
	mux.HandleFunc("GET "+base+"/git/ref/{ref...}", g.getRef)
	mux.HandleFunc("POST "+base+"/git/refs", g.createRef)
	mux.HandleFunc("GET "+base+"/git/tags/{sha}", g.getTag)
	srv := httptest.NewServer(g.record(mux))
	t.Cleanup(srv.Close)
	g.URL = srv.URL
	return g
}

// SetTag makes tag a lightweight tag of commit.
func (g *GitHub) SetTag(tag, commit string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.refs["refs/tags/"+tag] = object{"commit", commit}
}

// SetAnnotatedTag makes tag an annotated tag: its ref names the tag object
// tagSHA, which names commit.
func (g *GitHub) SetAnnotatedTag(tag, tagSHA, commit string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.refs["refs/tags/"+tag] = object{"tag", tagSHA}
	g.tags[tagSHA] = object{"commit", commit}
}

// RaceNextCreate makes the next create fail as if another writer had just
// created the ref at sha.
func (g *GitHub) RaceNextCreate(sha string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.raceSHA = sha
}

// Ref returns the object type and sha refs/tags/<tag> names; empty when
// there is no such tag.
func (g *GitHub) Ref(tag string) (typ, sha string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	o := g.refs["refs/tags/"+tag]
	return o.Type, o.SHA
}

// Requests returns the requests served so far.
func (g *GitHub) Requests() []Request {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]Request(nil), g.requests...)
}

func (g *GitHub) record(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		g.mu.Lock()
		g.requests = append(g.requests, Request{Method: r.Method, Path: r.URL.Path, Auth: r.Header.Get("Authorization"), Body: strings.TrimSpace(string(body))})
		g.mu.Unlock()
		if a := r.Header.Get("Authorization"); g.Token != "" && a != "Bearer "+g.Token && a != "token "+g.Token {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest", "status": "401"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (g *GitHub) api(path string) string {
	return fmt.Sprintf("https://api.github.com/repos/%s/%s/%s", g.Owner, g.Repo, path)
}

// refJSON is a Git reference as GitHub returns it.
func (g *GitHub) refJSON(ref string, o object) map[string]any {
	kind := "commits"
	if o.Type == "tag" {
		kind = "tags"
	}
	return map[string]any{
		"ref":     ref,
		"node_id": "REF_" + o.SHA[:7],
		"url":     g.api("git/" + ref),
		"object":  map[string]string{"type": o.Type, "sha": o.SHA, "url": g.api("git/" + kind + "/" + o.SHA)},
	}
}

func (g *GitHub) getRef(w http.ResponseWriter, r *http.Request) {
	ref := "refs/" + r.PathValue("ref")
	g.mu.Lock()
	o, ok := g.refs[ref]
	g.mu.Unlock()
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "Not Found", "documentation_url": "https://docs.github.com/rest/git/refs#get-a-reference", "status": "404"})
		return
	}
	writeJSON(w, http.StatusOK, g.refJSON(ref, o))
}

func (g *GitHub) createRef(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Ref string `json:"ref"`
		SHA string `json:"sha"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.SHA == "" || !strings.HasPrefix(req.Ref, "refs/") || strings.Count(req.Ref, "/") < 2 {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"message": "Invalid request.", "documentation_url": "https://docs.github.com/rest/git/refs#create-a-reference", "status": "422"})
		return
	}
	g.mu.Lock()
	if g.raceSHA != "" {
		g.refs[req.Ref], g.raceSHA = object{"commit", g.raceSHA}, ""
	}
	_, exists := g.refs[req.Ref]
	if !exists {
		g.refs[req.Ref] = object{"commit", req.SHA}
	}
	g.mu.Unlock()
	if exists {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"message": "Reference already exists", "documentation_url": "https://docs.github.com/rest/git/refs#create-a-reference", "status": "422"})
		return
	}
	writeJSON(w, http.StatusCreated, g.refJSON(req.Ref, object{"commit", req.SHA}))
}

func (g *GitHub) getTag(w http.ResponseWriter, r *http.Request) {
	sha := r.PathValue("sha")
	g.mu.Lock()
	o, ok := g.tags[sha]
	var name string
	for ref, ro := range g.refs {
		if ro.Type == "tag" && ro.SHA == sha {
			name = strings.TrimPrefix(ref, "refs/tags/")
		}
	}
	g.mu.Unlock()
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "Not Found", "documentation_url": "https://docs.github.com/rest/git/tags#get-a-tag", "status": "404"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"node_id": "TAG_" + sha[:7],
		"tag":     name,
		"sha":     sha,
		"url":     g.api("git/tags/" + sha),
		"message": "release " + name + "\n",
		"tagger":  map[string]string{"name": "Release Bot", "email": "release@example.com", "date": "2026-01-02T03:04:05Z"},
		"object":  map[string]string{"type": o.Type, "sha": o.SHA, "url": g.api("git/commits/" + o.SHA)},
		"verification": map[string]any{
			"verified": false, "reason": "unsigned", "signature": nil, "payload": nil,
		},
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
