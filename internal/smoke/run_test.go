package smoke_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/driftless-dev/driftless/internal/configrev"
	"github.com/driftless-dev/driftless/internal/meta"
	"github.com/driftless-dev/driftless/internal/smoke"
	"github.com/driftless-dev/driftless/internal/smoke/smoketest"
)

const (
	version = "v1.4.2"
	gitSHA  = "0123456789abcdef0123456789abcdef01234567"
)

// clock is real time plus whatever the runner slept: latencies are real,
// waits take no time.
type clock struct {
	mu     sync.Mutex
	offset time.Duration
	slept  []time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *clock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
	c.slept = append(c.slept, d)
	return ctx.Err()
}

func runner(c *clock) *smoke.Runner {
	return &smoke.Runner{Now: c.Now, Sleep: c.Sleep}
}

func revision(t *testing.T, dir string) string {
	t.Helper()
	rev, err := configrev.Dir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return rev
}

// suite expands the version check and checks for rel against target.
func suite(t *testing.T, target string, rel meta.Release, timeout time.Duration, checks ...smoke.Check) smoke.Suite {
	t.Helper()
	tg, err := smoke.URLTarget(target)
	if err != nil {
		t.Fatal(err)
	}
	vc, ok := smoke.VersionCheck(rel)
	if !ok {
		t.Fatal("nothing to verify")
	}
	var expanded []smoke.Check
	for _, c := range append([]smoke.Check{vc}, checks...) {
		e, _, err := c.Expand(rel, func(string) string { return "" })
		if err != nil {
			t.Fatal(err)
		}
		expanded = append(expanded, e)
	}
	return smoke.Suite{Environment: "test", Target: tg, Checks: expanded, Timeout: timeout}
}

// summary is each result as "name passed|failed: problems".
func summary(r *smoke.Report) []string {
	var out []string
	for _, res := range r.Results {
		s := res.Name + " passed"
		if !res.Passed {
			s = res.Name + " failed: " + strings.Join(res.Problems, "; ")
		}
		out = append(out, s)
	}
	return out
}

// TestExample runs checks against the real example service.
func TestExample(t *testing.T) {
	t.Parallel()
	live := smoketest.Start(t, smoketest.Options{Version: version, GitSHA: gitSHA})
	rev := revision(t, smoketest.ExampleStatic(t))
	deployed := meta.Release{Version: version, GitSHA: gitSHA, ConfigRevision: rev}
	checks := []smoke.Check{
		{Name: "health", Path: "/healthz", Contains: "ok", MaxLatency: 2 * time.Second},
		{Name: "catalog", Path: "/apis/catalog", JSON: map[string]string{"name": "catalog", "version": "1.0.0", "groups.1": "partners"}},
		{Name: "sha", Path: "/version", JSON: map[string]string{"gitSha": "${gitSha}"}},
		{Name: "missing api", Path: "/apis/nope", Status: 404, JSON: map[string]string{"error": `api "nope" not found`}},
	}
	cases := []struct {
		name     string
		release  meta.Release
		checks   []smoke.Check
		want     []string
		wantBody string
	}{
		{
			name:    "the deployed release passes",
			release: deployed,
			checks:  checks,
			want:    []string{"version passed", "health passed", "catalog passed", "sha passed", "missing api passed"},
		},
		{
			name:    "another version fails",
			release: meta.Release{Version: "v1.5.0", ConfigRevision: rev},
			want:    []string{`version failed: json version: want "v1.5.0", got "v1.4.2"`},
		},
		{
			name:    "another configuration revision fails, in the body and the header",
			release: meta.Release{Version: version, ConfigRevision: "sha256:" + strings.Repeat("0", 64)},
			want: []string{fmt.Sprintf(`version failed: json configRevision: want "sha256:%s", got %q; header X-Config-Revision: want "sha256:%[1]s", got %[2]q`,
				strings.Repeat("0", 64), rev)},
			wantBody: `"version":"v1.4.2"`,
		},
		{
			name:    "JSON fields and status that differ",
			release: deployed,
			checks: []smoke.Check{
				{Name: "catalog", Path: "/apis/catalog", JSON: map[string]string{"name": "billing", "owner": "x", "versions.7": "v9"}},
				{Name: "status", Path: "/apis/nope"},
			},
			want: []string{
				"version passed",
				`catalog failed: json name: want "billing", got "catalog"; json owner: want "x", missing; json versions.7: want "v9", missing`,
				`status failed: status: want 200, got 404`,
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var c clock
			rep := runner(&c).Run(t.Context(), suite(t, live.URL, tc.release, 2*time.Second, tc.checks...))
			if diff := cmp.Diff(tc.want, summary(rep)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if !strings.Contains(rep.Results[0].Body, tc.wantBody) {
				t.Errorf("version body %q lacks %q", rep.Results[0].Body, tc.wantBody)
			}
		})
	}
}

// TestStaleConfiguration: a service started on another static
// configuration (a stale pod, a wrong image) does not pass.
func TestStaleConfiguration(t *testing.T) {
	t.Parallel()
	stale := smoketest.Start(t, smoketest.Options{Version: version, GitSHA: gitSHA, Static: smoketest.CopyStatic(t)})
	want := revision(t, smoketest.ExampleStatic(t))
	var c clock
	rep := runner(&c).Run(t.Context(), suite(t, stale.URL, meta.Release{Version: version, ConfigRevision: want}, 3*time.Second))
	if rep.Failed() != 1 || !strings.Contains(rep.Results[0].Message(), "json configRevision: want "+fmt.Sprintf("%q", want)) {
		t.Errorf("want the version check to fail on the revision, got %q", rep.Results[0].Message())
	}
	// Retried until the deadline: a rollout may still be replacing pods.
	if rep.Results[0].Attempts < 3 {
		t.Errorf("%d attempts; want retries until the deadline", rep.Results[0].Attempts)
	}
}

// TestStalePodBehindService: a Service spreading requests over a new and
// a stale pod. One good answer is not enough.
func TestStalePodBehindService(t *testing.T) {
	t.Parallel()
	fresh := smoketest.Start(t, smoketest.Options{Version: version, GitSHA: gitSHA})
	old := smoketest.Start(t, smoketest.Options{Version: "v1.4.1", GitSHA: gitSHA})
	var n atomic.Int64
	lb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		backend := fresh.URL
		if n.Add(1)%2 == 0 {
			backend = old.URL
		}
		resp, err := http.Get(backend + r.URL.Path)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		buf := make([]byte, 4096)
		k, _ := resp.Body.Read(buf)
		w.Write(buf[:k])
	}))
	t.Cleanup(lb.Close)
	var c clock
	rev := revision(t, smoketest.ExampleStatic(t))
	rep := runner(&c).Run(t.Context(), suite(t, lb.URL, meta.Release{Version: version, ConfigRevision: rev}, 2*time.Second))
	if rep.Passed() != 0 {
		t.Errorf("passed although every other answer came from v1.4.1: %v", summary(rep))
	}
}

func TestLatencyBudget(t *testing.T) {
	t.Parallel()
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(150 * time.Millisecond)
		fmt.Fprint(w, `{"version":"v1.4.2"}`)
	}))
	t.Cleanup(slow.Close)
	var c clock
	s := suite(t, slow.URL, meta.Release{Version: version}, time.Second,
		smoke.Check{Name: "fast enough", Path: "/x", MaxLatency: 50 * time.Millisecond},
		smoke.Check{Name: "generous", Path: "/x", MaxLatency: 5 * time.Second})
	rep := runner(&c).Run(t.Context(), s)
	got := summary(rep)
	if got[0] != "version passed" || got[2] != "generous passed" || !strings.HasPrefix(got[1], "fast enough failed: latency: want at most 50ms, took 1") {
		t.Errorf("got %q", got)
	}
	if l := rep.Results[1].Latency; l < 150*time.Millisecond {
		t.Errorf("latency %s, want the handler's 150ms at least", l)
	}
}

// TestWarmUp: a service that answers 503 until it has warmed up passes
// once it answers, and the waits between attempts grow.
func TestWarmUp(t *testing.T) {
	t.Parallel()
	live := smoketest.Start(t, smoketest.Options{Version: version, GitSHA: gitSHA})
	target, err := url.Parse(live.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	var n atomic.Int64
	warming := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) <= 4 {
			http.Error(w, "warming up", http.StatusServiceUnavailable)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(warming.Close)
	var c clock
	rev := revision(t, smoketest.ExampleStatic(t))
	rep := runner(&c).Run(t.Context(), suite(t, warming.URL, meta.Release{Version: version, ConfigRevision: rev}, time.Minute))
	if rep.Failed() != 0 || rep.Results[0].Attempts != 4+smoke.VersionPasses {
		t.Errorf("got %v after %d attempts; want a pass after 4 failures and %d passes", summary(rep), rep.Results[0].Attempts, smoke.VersionPasses)
	}
	want := []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second}
	if diff := cmp.Diff(want, c.slept); diff != "" {
		t.Errorf("waits (-want +got):\n%s", diff)
	}
}

// TestRedirectsNotFollowed: a check sees what the service answers.
func TestRedirectsNotFollowed(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/version" {
			fmt.Fprintf(w, `{"version":%q}`, version)
			return
		}
		http.Redirect(w, r, "/elsewhere", http.StatusMovedPermanently)
	}))
	t.Cleanup(srv.Close)
	var c clock
	rep := runner(&c).Run(t.Context(), suite(t, srv.URL, meta.Release{Version: version}, time.Second,
		smoke.Check{Name: "moved", Path: "/old", Status: http.StatusMovedPermanently},
		smoke.Check{Name: "followed", Path: "/old"}))
	if diff := cmp.Diff([]string{"version passed", "moved passed", "followed failed: status: want 200, got 301"}, summary(rep)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestDeadline: checks that never pass are retried until the deadline
// and no further; a check that starts after it is still tried once.
func TestDeadline(t *testing.T) {
	t.Parallel()
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, strings.Repeat("x", 2000), http.StatusBadGateway)
	}))
	t.Cleanup(down.Close)
	var c clock
	rep := runner(&c).Run(t.Context(), suite(t, down.URL, meta.Release{Version: version}, 30*time.Second,
		smoke.Check{Name: "second", Path: "/healthz"}))
	var total time.Duration
	for _, d := range c.slept {
		total += d
	}
	if total > 30*time.Second || total < 25*time.Second {
		t.Errorf("slept %s in all, want close to the 30s deadline and not beyond", total)
	}
	if rep.Failed() != 2 || rep.Results[1].Attempts < 2 {
		t.Errorf("%v; the second check was tried %d times, want it retried in the time left", summary(rep), rep.Results[1].Attempts)
	}
	c.offset += time.Minute
	s := suite(t, down.URL, meta.Release{Version: version}, 0)
	if rep := runner(&c).Run(t.Context(), s); rep.Results[0].Attempts != 1 {
		t.Errorf("a check past the deadline was tried %d times, want once", rep.Results[0].Attempts)
	}
	body := rep.Results[0].Body
	if len(body) > smoke.BodyLimit+40 || !strings.HasSuffix(body, "… (2000 bytes, 512 shown)") {
		t.Errorf("body not truncated to %d bytes: %q", smoke.BodyLimit, body)
	}
}

// TestCredentialsStayWithTarget: an absolute URL in a check is requested
// without the target's client, which carries the cluster credentials.
func TestCredentialsStayWithTarget(t *testing.T) {
	t.Parallel()
	var seen sync.Map
	record := func(name string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			seen.Store(name, r.Header.Get("Authorization"))
			fmt.Fprintf(w, `{"version":%q}`, version)
		})
	}
	api := httptest.NewServer(record("target"))
	other := httptest.NewServer(record("other"))
	t.Cleanup(api.Close)
	t.Cleanup(other.Close)
	s := suite(t, api.URL, meta.Release{Version: version}, time.Second, smoke.Check{Name: "elsewhere", Path: other.URL + "/x"})
	s.Target.Client = &http.Client{Transport: bearer{"cluster-token"}}
	var c clock
	if rep := runner(&c).Run(t.Context(), s); rep.Failed() != 0 {
		t.Fatal(summary(rep))
	}
	if v, _ := seen.Load("target"); v != "Bearer cluster-token" {
		t.Errorf("target saw Authorization %q", v)
	}
	if v, _ := seen.Load("other"); v != "" {
		t.Errorf("another host saw the target's credentials: %q", v)
	}
}

type bearer struct{ token string }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return http.DefaultTransport.RoundTrip(r)
}

func TestCancelled(t *testing.T) {
	t.Parallel()
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	t.Cleanup(down.Close)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	rep := (&smoke.Runner{}).Run(ctx, suite(t, down.URL, meta.Release{Version: version}, time.Hour))
	if ctx.Err() == nil || rep.Failed() != 1 || rep.Results[0].Attempts != 1 {
		t.Errorf("cancelled run: %v", summary(rep))
	}
}

// TestServiceWithoutVersionEndpoint: a service that does not answer GET
// /version the way driftless needs is told what the contract is, not only
// that a status or a field was wrong; a service reporting another release
// is not (it implements the contract, it is just stale).
func TestServiceWithoutVersionEndpoint(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		handler http.HandlerFunc
		hint    bool
	}{
		"no endpoint":    {func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }, true},
		"not JSON":       {func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "v1.4.2\n") }, true},
		"fields missing": {func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{"build":"v1.4.2"}`) }, true},
		"stale release":  {func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{"version":"v1.4.1"}`) }, false},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(tc.handler)
			t.Cleanup(srv.Close)
			var c clock
			rep := runner(&c).Run(t.Context(), suite(t, srv.URL, meta.Release{Version: version}, time.Second))
			if rep.Failed() != 1 {
				t.Fatalf("%v", summary(rep))
			}
			got := strings.Join(rep.Results[0].Problems, "; ")
			if strings.Contains(got, smoke.ContractHint) != tc.hint {
				t.Errorf("hint shown %v, want %v: %s", !tc.hint, tc.hint, got)
			}
		})
	}
}
