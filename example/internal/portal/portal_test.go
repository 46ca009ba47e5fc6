package portal_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/driftless-dev/driftless/example/internal/portal"
	"github.com/driftless-dev/driftless/example/internal/redistest"
	"github.com/driftless-dev/driftless/example/internal/static"
	"github.com/driftless-dev/driftless/example/internal/subscription"
)

var build = portal.Build{Version: "v1.2.3", GitSHA: "0123456789abcdef0123456789abcdef01234567"}

// loadStatic copies the example's static configuration to a temp dir and
// loads it from there, as the service does from its image.
func loadStatic(t *testing.T) *static.Config {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "static")
	if err := os.CopyFS(dir, os.DirFS("../../static")); err != nil {
		t.Fatal(err)
	}
	cfg, err := static.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func newLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), nil))
}

type response struct {
	code int
	// body is JSON, compared as a value, unless it is not valid JSON;
	// then it is compared as text.
	body string
	// bodyRE, when set, replaces body: the raw body must match it.
	bodyRE string
	header map[string]string
}

func do(t *testing.T, h http.Handler, method, path, body string) *httptest.ResponseRecorder {
	t.Helper()
	var r *http.Request
	if body == "" {
		r = httptest.NewRequest(method, path, nil)
	} else {
		r = httptest.NewRequest(method, path, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func check(t *testing.T, cfg *static.Config, w *httptest.ResponseRecorder, want response) {
	t.Helper()
	if w.Code != want.code {
		t.Errorf("status = %d, want %d; body %s", w.Code, want.code, w.Body)
	}
	if got := w.Header().Get(portal.RevisionHeader); got != cfg.Revision {
		t.Errorf("%s = %q, want %q", portal.RevisionHeader, got, cfg.Revision)
	}
	for k, v := range want.header {
		if got := w.Header().Get(k); got != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
	switch {
	case want.bodyRE != "":
		if !regexp.MustCompile(want.bodyRE).MatchString(w.Body.String()) {
			t.Errorf("body = %s\nwant it to match %s", w.Body, want.bodyRE)
		}
	case json.Valid([]byte(want.body)):
		var wantV, gotV any
		if err := json.Unmarshal([]byte(want.body), &wantV); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(w.Body.Bytes(), &gotV); err != nil {
			t.Fatalf("body %q is not JSON: %v", w.Body, err)
		}
		if diff := cmp.Diff(wantV, gotV); diff != "" {
			t.Errorf("body (-want +got):\n%s", diff)
		}
	default:
		if diff := cmp.Diff(want.body, w.Body.String()); diff != "" {
			t.Errorf("body (-want +got):\n%s", diff)
		}
	}
}

func TestStaticEndpoints(t *testing.T) {
	t.Parallel()
	cfg := loadStatic(t)
	h := portal.NewHandler(cfg, build, nil, newLogger(t))

	tests := []struct {
		name, method, path string
		want               response
	}{
		{
			name: "healthz", method: "GET", path: "/healthz",
			want: response{code: 200, body: "ok", header: map[string]string{"Content-Type": "text/plain; charset=utf-8"}},
		},
		{
			name: "version", method: "GET", path: "/version",
			want: response{code: 200, body: `{"version":"v1.2.3","gitSha":"0123456789abcdef0123456789abcdef01234567","configRevision":"` + cfg.Revision + `"}`,
				header: map[string]string{"Content-Type": "application/json"}},
		},
		{
			name: "one api", method: "GET", path: "/apis/orders",
			want: response{code: 200, body: `{
				"name": "orders", "title": "Orders API", "description": "Place, track and cancel orders.",
				"version": "1.4.0", "basePath": "/orders/v1", "backend": "http://orders.pssp-backends.svc:8080",
				"groups": ["partners", "internal"]}`},
		},
		{
			name: "unknown api", method: "GET", path: "/apis/nope",
			want: response{code: 404, body: `{"error": "api \"nope\" not found"}`},
		},
		{
			name: "plans", method: "GET", path: "/plans",
			want: response{code: 200, body: `{"plans": [
				{"name": "free", "title": "Free", "rateLimit": {"requests": 60, "per": "minute"}},
				{"name": "gold", "title": "Gold", "rateLimit": {"requests": 6000, "per": "minute", "burst": 200}}]}`},
		},
		{
			name: "groups", method: "GET", path: "/groups",
			want: response{code: 200, body: `{"groups": [
				{"name": "public", "title": "Anyone with an account", "plans": ["free"]},
				{"name": "partners", "title": "Partner companies under contract", "plans": ["free", "gold"]},
				{"name": "internal", "title": "Teams inside the company", "plans": ["gold"]}]}`},
		},
		{
			name: "wrong method", method: "DELETE", path: "/apis/orders",
			want: response{code: 405, bodyRE: `Method Not Allowed`, header: map[string]string{"Allow": "GET, HEAD"}},
		},
		{
			name: "unknown path", method: "GET", path: "/admin",
			want: response{code: 404, bodyRE: `not found`},
		},
		{
			name: "subscriptions without Redis", method: "POST", path: "/subscriptions",
			want: response{code: 503, bodyRE: `REDIS_ADDR is not set`},
		},
		{
			name: "subscription without Redis", method: "GET", path: "/subscriptions/AAAAAAAAAAAAAAAAAAAAAAAAAA",
			want: response{code: 503, bodyRE: `REDIS_ADDR is not set`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			check(t, cfg, do(t, h, tt.method, tt.path, ""), tt.want)
		})
	}
}

func TestAPIList(t *testing.T) {
	t.Parallel()
	cfg := loadStatic(t)
	w := do(t, portal.NewHandler(cfg, build, nil, newLogger(t)), "GET", "/apis", "")
	var got struct{ APIs []static.API }
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(cfg.APIs, got.APIs); diff != "" {
		t.Errorf("GET /apis (-want +got):\n%s", diff)
	}
	var names []string
	for _, a := range got.APIs {
		names = append(names, a.Name)
	}
	if diff := cmp.Diff([]string{"billing", "catalog", "orders"}, names); diff != "" {
		t.Errorf("GET /apis names (-want +got):\n%s", diff)
	}
}

func TestSubscriptions(t *testing.T) {
	t.Parallel()
	cfg := loadStatic(t)
	rdb := subscription.NewClient(redistest.Start(t))
	t.Cleanup(func() { rdb.Close() })
	h := portal.NewHandler(cfg, build, subscription.New(rdb), newLogger(t))

	refused := []struct {
		name, body string
		want       response
	}{
		{
			name: "unknown api",
			body: `{"user": "ada", "api": "payroll", "plan": "gold"}`,
			want: response{code: 400, body: `{"error": "invalid subscription request: unknown api \"payroll\": want one of \"billing\", \"catalog\", \"orders\""}`},
		},
		{
			name: "unknown plan",
			body: `{"user": "ada", "api": "orders", "plan": "platinum"}`,
			want: response{code: 400, body: `{"error": "invalid subscription request: unknown plan \"platinum\": want one of \"free\", \"gold\""}`},
		},
		{
			name: "plan not offered for the api",
			body: `{"user": "ada", "api": "billing", "plan": "free"}`,
			want: response{code: 400, body: `{"error": "invalid subscription request: plan \"free\" is not offered for api \"billing\": want one of \"gold\""}`},
		},
		{
			name: "everything missing",
			body: `{}`,
			want: response{code: 400, body: `{"error": "invalid subscription request: user: required; api: required: want one of \"billing\", \"catalog\", \"orders\"; plan: required: want one of \"free\", \"gold\""}`},
		},
		{
			name: "user with a space",
			body: `{"user": "ada lovelace", "api": "orders", "plan": "gold"}`,
			want: response{code: 400, bodyRE: `user \\"ada lovelace\\": must not contain spaces`},
		},
		{
			name: "unknown field",
			body: `{"user": "ada", "api": "orders", "plan": "gold", "admin": true}`,
			want: response{code: 400, bodyRE: `decoding subscription request: json: unknown field \\"admin\\"`},
		},
		{
			name: "not JSON",
			body: `user=ada`,
			want: response{code: 400, bodyRE: `decoding subscription request`},
		},
		{
			name: "two values",
			body: `{"user": "ada", "api": "orders", "plan": "gold"} {}`,
			want: response{code: 400, bodyRE: `more than one JSON value`},
		},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			check(t, cfg, do(t, h, "POST", "/subscriptions", tt.body), tt.want)
		})
	}

	t.Run("create and get", func(t *testing.T) {
		t.Parallel()
		w := do(t, h, "POST", "/subscriptions", `{"user": "ada@example.com", "api": "billing", "plan": "gold"}`)
		var created subscription.Subscription
		if err := json.Unmarshal(w.Body.Bytes(), &created); err != nil {
			t.Fatalf("POST /subscriptions: %v; body %s", err, w.Body)
		}
		loc := "/subscriptions/" + created.ID
		check(t, cfg, w, response{
			code:   201,
			bodyRE: `"status":"pending"`,
			header: map[string]string{"Location": loc, "Content-Type": "application/json"},
		})
		want := subscription.Subscription{
			ID: created.ID, User: "ada@example.com", API: "billing", Plan: "gold",
			Status: subscription.Pending, RequestRevision: cfg.Revision, CreatedAt: created.CreatedAt,
		}
		if diff := cmp.Diff(want, created); diff != "" {
			t.Errorf("POST /subscriptions (-want +got):\n%s", diff)
		}

		w = do(t, h, "GET", loc, "")
		check(t, cfg, w, response{code: 200, bodyRE: `"id":"` + created.ID + `"`})
		var got subscription.Subscription
		if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("GET %s (-want +got):\n%s", loc, diff)
		}
	})

	notFound := []struct{ name, path, id string }{
		{name: "unknown id", path: "/subscriptions/AAAAAAAAAAAAAAAAAAAAAAAAAA", id: "AAAAAAAAAAAAAAAAAAAAAAAAAA"},
		{name: "malformed id", path: "/subscriptions/x*y", id: "x*y"},
	}
	for _, tt := range notFound {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			check(t, cfg, do(t, h, "GET", tt.path, ""), response{code: 404, body: `{"error": "subscription \"` + tt.id + `\" not found"}`})
		})
	}
}

func TestStoreDown(t *testing.T) {
	t.Parallel()
	cfg := loadStatic(t)
	// Nothing listens on port 1 of 127.0.0.1.
	rdb := subscription.NewClient("127.0.0.1:1")
	t.Cleanup(func() { rdb.Close() })
	h := portal.NewHandler(cfg, build, subscription.New(rdb), newLogger(t))
	check(t, cfg, do(t, h, "POST", "/subscriptions", `{"user": "ada", "api": "orders", "plan": "gold"}`),
		response{code: 503, body: `{"error": "storing the subscription failed; try again later"}`})
}
