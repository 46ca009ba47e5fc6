package githubtest

import (
	"encoding/json"
	"net/http"
	"strings"
)

// Git references and tag objects, as tag-sync reads and creates release
// tags through the API (GET /git/ref/tags/…, POST /git/refs, GET
// /git/tags/…).

type object struct{ Type, SHA string }

// SetTag makes tag a lightweight tag of commit (a deployment may name it
// as its ref too).
func (s *Server) SetTag(tag, commit string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gitRefs["refs/tags/"+tag] = object{"commit", commit}
	s.refs[tag] = commit
}

// SetAnnotatedTag makes tag an annotated tag: its ref names the tag object
// tagSHA, which names commit.
func (s *Server) SetAnnotatedTag(tag, tagSHA, commit string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gitRefs["refs/tags/"+tag] = object{"tag", tagSHA}
	s.gitTags[tagSHA] = object{"commit", commit}
	s.refs[tag] = commit
}

// RaceNextCreate makes the next reference create fail as if another
// writer had just created the ref at sha.
func (s *Server) RaceNextCreate(sha string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.raceSHA = sha
}

// Tag returns the object type and sha refs/tags/<tag> names; empty when
// there is no such tag.
func (s *Server) Tag(tag string) (typ, sha string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.gitRefs["refs/tags/"+tag]
	return o.Type, o.SHA
}

// refJSON is a Git reference as GitHub returns it.
func (s *Server) refJSON(ref string, o object) map[string]any {
	kind := "commits"
	if o.Type == "tag" {
		kind = "tags"
	}
	return map[string]any{
		"ref":     ref,
		"node_id": "REF_" + o.SHA[:7],
		"url":     s.api("git/" + ref),
		"object":  map[string]string{"type": o.Type, "sha": o.SHA, "url": s.api("git/" + kind + "/" + o.SHA)},
	}
}

func (s *Server) getRef(w http.ResponseWriter, r *http.Request) {
	ref := "refs/" + r.PathValue("ref")
	s.mu.Lock()
	o, ok := s.gitRefs[ref]
	s.mu.Unlock()
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "Not Found", "documentation_url": "https://docs.github.com/rest/git/refs#get-a-reference", "status": "404"})
		return
	}
	writeJSON(w, http.StatusOK, s.refJSON(ref, o))
}

func (s *Server) createRef(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Ref string `json:"ref"`
		SHA string `json:"sha"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.SHA == "" || !strings.HasPrefix(req.Ref, "refs/") || strings.Count(req.Ref, "/") < 2 {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"message": "Invalid request.", "documentation_url": "https://docs.github.com/rest/git/refs#create-a-reference", "status": "422"})
		return
	}
	s.mu.Lock()
	if s.raceSHA != "" {
		s.gitRefs[req.Ref], s.raceSHA = object{"commit", s.raceSHA}, ""
	}
	_, exists := s.gitRefs[req.Ref]
	if !exists {
		s.gitRefs[req.Ref] = object{"commit", req.SHA}
	}
	s.mu.Unlock()
	if exists {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"message": "Reference already exists", "documentation_url": "https://docs.github.com/rest/git/refs#create-a-reference", "status": "422"})
		return
	}
	writeJSON(w, http.StatusCreated, s.refJSON(req.Ref, object{"commit", req.SHA}))
}

func (s *Server) getTag(w http.ResponseWriter, r *http.Request) {
	sha := r.PathValue("sha")
	s.mu.Lock()
	o, ok := s.gitTags[sha]
	var name string
	for ref, ro := range s.gitRefs {
		if ro.Type == "tag" && ro.SHA == sha {
			name = strings.TrimPrefix(ref, "refs/tags/")
		}
	}
	s.mu.Unlock()
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "Not Found", "documentation_url": "https://docs.github.com/rest/git/tags#get-a-tag", "status": "404"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"node_id": "TAG_" + sha[:7],
		"tag":     name,
		"sha":     sha,
		"url":     s.api("git/tags/" + sha),
		"message": "release " + name + "\n",
		"tagger":  map[string]string{"name": "Release Bot", "email": "release@example.com", "date": "2026-01-02T03:04:05Z"},
		"object":  map[string]string{"type": o.Type, "sha": o.SHA, "url": s.api("git/commits/" + o.SHA)},
		"verification": map[string]any{
			"verified": false, "reason": "unsigned", "signature": nil, "payload": nil,
		},
	})
}
