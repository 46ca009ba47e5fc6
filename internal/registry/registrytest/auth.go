package registrytest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
)

// Auth is what a registry demands before it serves anything, in the two
// ways registries ask (the distribution spec's token authentication and
// plain Basic authentication).
type Auth struct {
	// Users are the user names and passwords it accepts.
	Users map[string]string
	// RefreshTokens are the refresh tokens its token service accepts in
	// an OAuth2 refresh_token grant (what ACR's exchange hands out and a
	// Docker config's identitytoken holds).
	RefreshTokens []string
	// Bearer sends clients to a token service at /token on the same host,
	// as ghcr.io, Docker Hub, Artifact Registry and ACR do; otherwise every
	// request carries Basic credentials, as ECR's do.
	Bearer bool
	// ReadOnly users may pull but are answered 403 DENIED on a push.
	ReadOnly []string
}

// NewWithAuth starts, for the duration of the test, an in-process registry
// on 127.0.0.1 that serves only clients with the credentials auth names,
// and returns its host:port.
func NewWithAuth(t testing.TB, auth Auth) string {
	t.Helper()
	srv := httptest.NewServer(auth.Handler())
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// Handler is an in-process registry behind auth, for tests that serve it
// themselves (over TLS under another host name, for instance).
func (a Auth) Handler() http.Handler {
	return &authHandler{auth: a, next: registry.New(registry.Logger(log.New(io.Discard, "", 0))), tokens: map[string]string{}}
}

type authHandler struct {
	auth   Auth
	next   http.Handler
	mu     sync.Mutex
	tokens map[string]string // bearer token → user
}

func (h *authHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/token" && h.auth.Bearer {
		h.token(w, r)
		return
	}
	user, ok := h.user(r)
	if !ok {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		if h.auth.Bearer {
			w.Header().Set("WWW-Authenticate", `Bearer realm="`+scheme+"://"+r.Host+`/token",service="registrytest"`)
		} else {
			w.Header().Set("WWW-Authenticate", `Basic realm="registrytest"`)
		}
		writeError(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required")
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead && slices.Contains(h.auth.ReadOnly, user) {
		writeError(w, http.StatusForbidden, "DENIED", "requested access to the resource is denied")
		return
	}
	h.next.ServeHTTP(w, r)
}

// user returns who the request authenticates as.
func (h *authHandler) user(r *http.Request) (string, bool) {
	if h.auth.Bearer {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			return "", false
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		user, ok := h.tokens[tok]
		return user, ok
	}
	u, p, ok := r.BasicAuth()
	if !ok || h.auth.Users[u] != p || p == "" {
		return "", false
	}
	return u, true
}

// token is the token service: GET with Basic credentials (the
// distribution spec), or POST with a password or refresh_token grant (its
// OAuth2 flavour).
func (h *authHandler) token(w http.ResponseWriter, r *http.Request) {
	var user string
	ok := false
	switch r.Method {
	case http.MethodGet:
		u, p, basic := r.BasicAuth()
		user, ok = u, basic && p != "" && h.auth.Users[u] == p
	case http.MethodPost:
		if err := r.ParseForm(); err != nil {
			writeError(w, http.StatusBadRequest, "UNSUPPORTED", err.Error())
			return
		}
		switch r.PostForm.Get("grant_type") {
		case "password":
			user = r.PostForm.Get("username")
			ok = r.PostForm.Get("password") != "" && h.auth.Users[user] == r.PostForm.Get("password")
		case "refresh_token":
			user = "<token>"
			ok = slices.Contains(h.auth.RefreshTokens, r.PostForm.Get("refresh_token"))
		}
	}
	if !ok {
		writeError(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required")
		return
	}
	b := make([]byte, 16)
	rand.Read(b)
	tok := hex.EncodeToString(b)
	h.mu.Lock()
	h.tokens[tok] = user
	h.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"token": tok, "access_token": tok, "expires_in": 300})
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]string{{"code": code, "message": msg}}})
}
