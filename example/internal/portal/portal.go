package portal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"unicode"

	"github.com/driftless-dev/driftless/example/internal/static"
	"github.com/driftless-dev/driftless/example/internal/subscription"
)

// RevisionHeader carries the configuration revision on every response.
const RevisionHeader = "X-Config-Revision"

// maxBody bounds request bodies; a subscription request is a few dozen bytes.
const maxBody = 64 << 10

// maxUser bounds the length of a user name.
const maxUser = 256

// Build identifies the running binary.
type Build struct {
	Version string
	GitSHA  string
}

// Version is the body of GET /version.
type Version struct {
	Version        string `json:"version"`
	GitSHA         string `json:"gitSha"`
	ConfigRevision string `json:"configRevision"`
}

// Subscriptions stores subscriptions; subscription.Store is the real one.
type Subscriptions interface {
	Create(ctx context.Context, r subscription.Request, revision string) (subscription.Subscription, error)
	Get(ctx context.Context, id string) (subscription.Subscription, error)
}

// Error is the body of every error response that is not the router's own.
type Error struct {
	Error string `json:"error"`
}

// NewHandler returns the HTTP API over cfg. subs may be nil when no store is
// configured; the subscription endpoints then answer 503.
func NewHandler(cfg *static.Config, build Build, subs Subscriptions, log *slog.Logger) http.Handler {
	s := &server{cfg: cfg, build: build, subs: subs, log: log}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /version", s.version)
	mux.HandleFunc("GET /apis", s.apis)
	mux.HandleFunc("GET /apis/{name}", s.api)
	mux.HandleFunc("GET /plans", s.plans)
	mux.HandleFunc("GET /groups", s.groups)
	mux.HandleFunc("POST /subscriptions", s.createSubscription)
	mux.HandleFunc("GET /subscriptions/{id}", s.getSubscription)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Set before routing so the router's own 404 and 405 carry it too.
		w.Header().Set(RevisionHeader, cfg.Revision)
		mux.ServeHTTP(w, r)
	})
}

type server struct {
	cfg   *static.Config
	build Build
	subs  Subscriptions
	log   *slog.Logger
}

func (s *server) healthz(w http.ResponseWriter, r *http.Request) {
	// Liveness and readiness only say the process serves: the static
	// configuration was checked at start and cannot change, and Redis
	// being away must not take the read-only endpoints out of service.
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, "ok")
}

func (s *server) version(w http.ResponseWriter, r *http.Request) {
	s.json(w, http.StatusOK, Version{
		Version:        s.build.Version,
		GitSHA:         s.build.GitSHA,
		ConfigRevision: s.cfg.Revision,
	})
}

func (s *server) apis(w http.ResponseWriter, r *http.Request) {
	s.json(w, http.StatusOK, struct {
		APIs []static.API `json:"apis"`
	}{s.cfg.APIs})
}

func (s *server) api(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	a, ok := s.cfg.API(name)
	if !ok {
		s.error(w, http.StatusNotFound, fmt.Sprintf("api %q not found", name))
		return
	}
	s.json(w, http.StatusOK, a)
}

func (s *server) plans(w http.ResponseWriter, r *http.Request) {
	s.json(w, http.StatusOK, struct {
		Plans []static.Plan `json:"plans"`
	}{s.cfg.Plans})
}

func (s *server) groups(w http.ResponseWriter, r *http.Request) {
	s.json(w, http.StatusOK, struct {
		Groups []static.Group `json:"groups"`
	}{s.cfg.Groups})
}

func (s *server) unavailable(w http.ResponseWriter) {
	s.error(w, http.StatusServiceUnavailable, "subscriptions are not available: this instance runs without Redis (REDIS_ADDR is not set)")
}

func (s *server) createSubscription(w http.ResponseWriter, r *http.Request) {
	if s.subs == nil {
		s.unavailable(w)
		return
	}
	var req subscription.Request
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		s.error(w, http.StatusBadRequest, fmt.Sprintf("decoding subscription request: %v; want a JSON object {\"user\": ..., \"api\": ..., \"plan\": ...}", err))
		return
	}
	if dec.More() {
		s.error(w, http.StatusBadRequest, "decoding subscription request: more than one JSON value")
		return
	}
	if err := s.check(req); err != nil {
		// One line: errors.Join separates with newlines.
		s.error(w, http.StatusBadRequest, "invalid subscription request: "+strings.ReplaceAll(err.Error(), "\n", "; "))
		return
	}
	sub, err := s.subs.Create(r.Context(), req, s.cfg.Revision)
	if err != nil {
		s.log.Error("storing subscription failed", "user", req.User, "api", req.API, "plan", req.Plan, "err", err)
		s.error(w, http.StatusServiceUnavailable, "storing the subscription failed; try again later")
		return
	}
	s.log.Info("subscription requested", "id", sub.ID, "user", sub.User, "api", sub.API, "plan", sub.Plan)
	w.Header().Set("Location", "/subscriptions/"+sub.ID)
	s.json(w, http.StatusCreated, sub)
}

// check refuses a request the static configuration cannot satisfy; every
// problem is reported at once.
func (s *server) check(req subscription.Request) error {
	var errs []error
	switch {
	case req.User == "":
		errs = append(errs, errors.New("user: required"))
	case len(req.User) > maxUser:
		errs = append(errs, fmt.Errorf("user: longer than %d bytes", maxUser))
	default:
		for _, c := range req.User {
			if unicode.IsControl(c) || unicode.IsSpace(c) {
				errs = append(errs, fmt.Errorf("user %q: must not contain spaces or control characters", req.User))
				break
			}
		}
	}
	if err := s.cfg.CheckRequest(req.API, req.Plan); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (s *server) getSubscription(w http.ResponseWriter, r *http.Request) {
	if s.subs == nil {
		s.unavailable(w)
		return
	}
	id := r.PathValue("id")
	if !subscription.ValidID(id) {
		s.error(w, http.StatusNotFound, fmt.Sprintf("subscription %q not found", id))
		return
	}
	sub, err := s.subs.Get(r.Context(), id)
	switch {
	case errors.Is(err, subscription.ErrNotFound):
		s.error(w, http.StatusNotFound, fmt.Sprintf("subscription %q not found", id))
		return
	case err != nil:
		s.log.Error("reading subscription failed", "id", id, "err", err)
		s.error(w, http.StatusServiceUnavailable, "reading the subscription failed; try again later")
		return
	}
	s.json(w, http.StatusOK, sub)
}

func (s *server) error(w http.ResponseWriter, code int, msg string) {
	s.json(w, code, Error{Error: msg})
}

func (s *server) json(w http.ResponseWriter, code int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		// Only values of this package's own types get here; failing to
		// encode one is a bug.
		s.log.Error("encoding response failed", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(append(body, '\n'))
}
