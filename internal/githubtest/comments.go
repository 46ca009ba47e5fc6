package githubtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
)

// Comment is a comment on an issue or pull request.
type Comment struct {
	ID    int64
	Issue int
	Body  string
	// Author is the login that wrote it (github-actions[bot] for the
	// workflow's token).
	Author string
}

// AddComment stores a comment as if someone had written it, and returns
// its ID.
func (s *Server) AddComment(c Comment) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	c.ID = s.id()
	s.comments = append(s.comments, c)
	return c.ID
}

// Comments returns the comments on issue or pull request n, oldest first.
func (s *Server) Comments(n int) []Comment {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Comment
	for _, c := range s.comments {
		if c.Issue == n {
			out = append(out, c)
		}
	}
	return out
}

func (s *Server) commentJSON(c Comment) map[string]any {
	user := bot
	if c.Author != "" && c.Author != "github-actions[bot]" {
		user = map[string]any{"login": c.Author, "id": 1, "type": "User"}
	}
	return map[string]any{
		"id": c.ID, "node_id": fmt.Sprintf("IC_%d", c.ID), "body": c.Body, "user": user,
		"url":        s.api(fmt.Sprintf("issues/comments/%d", c.ID)),
		"html_url":   s.html(fmt.Sprintf("pull/%d#issuecomment-%d", c.Issue, c.ID)),
		"issue_url":  s.api(fmt.Sprintf("issues/%d", c.Issue)),
		"created_at": ts(start), "updated_at": ts(start), "author_association": "NONE",
	}
}

// listComments serves GET /repos/{o}/{r}/issues/{n}/comments, paginated
// with per_page and page as GitHub does (a Link header names the next
// page).
func (s *Server) listComments(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.Atoi(r.PathValue("n"))
	if err != nil {
		notFound(w, "https://docs.github.com/rest/issues/comments#list-issue-comments")
		return
	}
	per, _ := strconv.Atoi(r.URL.Query().Get("per_page"))
	if per <= 0 || per > 100 {
		per = 30
	}
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	if page <= 0 {
		page = 1
	}
	all := s.Comments(n)
	out := []map[string]any{}
	for i := (page - 1) * per; i < len(all) && i < page*per; i++ {
		out = append(out, s.commentJSON(all[i]))
	}
	if page*per < len(all) {
		next := fmt.Sprintf("http://%s%s?per_page=%d&page=%d", r.Host, r.URL.Path, per, page+1)
		w.Header().Set("Link", fmt.Sprintf(`<%s>; rel="next"`, next))
	}
	writeJSON(w, http.StatusOK, out)
}

// createComment serves POST /repos/{o}/{r}/issues/{n}/comments.
func (s *Server) createComment(w http.ResponseWriter, r *http.Request) {
	const doc = "https://docs.github.com/rest/issues/comments#create-an-issue-comment"
	n, err := strconv.Atoi(r.PathValue("n"))
	var req struct {
		Body string `json:"body"`
	}
	if err != nil || json.NewDecoder(r.Body).Decode(&req) != nil || req.Body == "" {
		validationFailed(w, doc, "IssueComment", "missing_field", "body")
		return
	}
	c := Comment{Issue: n, Body: req.Body}
	c.ID = s.AddComment(c)
	writeJSON(w, http.StatusCreated, s.commentJSON(c))
}

// updateComment serves PATCH /repos/{o}/{r}/issues/comments/{id}.
func (s *Server) updateComment(w http.ResponseWriter, r *http.Request) {
	const doc = "https://docs.github.com/rest/issues/comments#update-an-issue-comment"
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	var req struct {
		Body string `json:"body"`
	}
	if err != nil || json.NewDecoder(r.Body).Decode(&req) != nil || req.Body == "" {
		validationFailed(w, doc, "IssueComment", "missing_field", "body")
		return
	}
	s.mu.Lock()
	i := -1
	for j, c := range s.comments {
		if c.ID == id {
			i = j
		}
	}
	if i < 0 {
		s.mu.Unlock()
		notFound(w, doc)
		return
	}
	s.comments[i].Body = req.Body
	c := s.comments[i]
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, s.commentJSON(c))
}
