package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/driftless-dev/driftless/example/internal/portal"
	"github.com/driftless-dev/driftless/example/internal/redistest"
	"github.com/driftless-dev/driftless/example/internal/subscription"
	"github.com/driftless-dev/driftless/internal/configrev"
)

const exampleStatic = "../../static"

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// brokenStatic returns a copy of the example's static configuration in
// which a plan has an invalid rate period.
func brokenStatic(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "static")
	if err := os.CopyFS(dir, os.DirFS(exampleStatic)); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "plans.yaml")
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, bytes.Replace(data, []byte("per: minute"), []byte("per: month"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestRunRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		args      []string
		env       map[string]string
		wantErr   []string
		wantUsage bool
	}{
		{
			name:      "unknown role",
			args:      []string{"migrate"},
			wantErr:   []string{`unknown role "migrate": want one of serve, worker, version`},
			wantUsage: true,
		},
		{
			name:      "extra argument",
			args:      []string{"serve", "now"},
			wantErr:   []string{`unexpected arguments ["now"]`},
			wantUsage: true,
		},
		{
			name:      "unknown flag",
			args:      []string{"--port=1"},
			wantErr:   []string{"flag provided but not defined: -port"},
			wantUsage: true,
		},
		{
			name:    "broken static configuration",
			env:     map[string]string{"PSSP_STATIC_DIR": "BROKEN", "PSSP_ADDR": "127.0.0.1:0"},
			wantErr: []string{"refusing to start: loading static configuration from", `plans.yaml: plans[0].rateLimit.per "month": want one of second, minute, hour, day`},
		},
		{
			name:    "broken static configuration, worker",
			args:    []string{"worker"},
			env:     map[string]string{"PSSP_STATIC_DIR": "BROKEN", "REDIS_ADDR": "127.0.0.1:1"},
			wantErr: []string{"refusing to start", `plans.yaml`},
		},
		{
			name:    "missing static directory",
			env:     map[string]string{"PSSP_STATIC_DIR": "/nonexistent/static"},
			wantErr: []string{`refusing to start: loading static configuration from "/nonexistent/static"`, "no such file or directory"},
		},
		{
			name:    "worker without Redis",
			args:    []string{"worker"},
			env:     map[string]string{"PSSP_STATIC_DIR": exampleStatic},
			wantErr: []string{"the worker needs Redis: set REDIS_ADDR"},
		},
		{
			name:    "bad log level",
			env:     map[string]string{"PSSP_STATIC_DIR": exampleStatic, "LOG_LEVEL": "loud"},
			wantErr: []string{`reading LOG_LEVEL "loud": want debug, info, warn or error`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.env["PSSP_STATIC_DIR"] == "BROKEN" {
				tt.env["PSSP_STATIC_DIR"] = brokenStatic(t)
			}
			var stdout, stderr bytes.Buffer
			err := run(t.Context(), tt.args, env(tt.env), &stdout, &stderr)
			if err == nil {
				t.Fatalf("run() = nil, want an error; stderr:\n%s", stderr.String())
			}
			for _, s := range tt.wantErr {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("run() error = %q\nwant it to contain %q", err, s)
				}
			}
			var u usageError
			if got := errors.As(err, &u); got != tt.wantUsage {
				t.Errorf("run() error is a usage error (exit 2): %v, want %v", got, tt.wantUsage)
			}
			if stdout.Len() > 0 {
				t.Errorf("stdout = %q, want nothing", stdout.String())
			}
		})
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{name: "role", args: []string{"version"}, env: map[string]string{"PSSP_VERSION": "v1.4.2", "PSSP_GIT_SHA": "abc123"}, want: "pssp-api v1.4.2 (commit abc123)\n"},
		{name: "flag", args: []string{"--version"}, env: map[string]string{"PSSP_VERSION": "v1.4.2", "PSSP_GIT_SHA": "abc123"}, want: "pssp-api v1.4.2 (commit abc123)\n"},
		{name: "flag after role", args: []string{"worker", "-version"}, env: map[string]string{"PSSP_VERSION": "v2.0.0", "PSSP_GIT_SHA": "def"}, want: "pssp-api v2.0.0 (commit def)\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			if err := run(t.Context(), tt.args, env(tt.env), &stdout, &stderr); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, stdout.String()); diff != "" {
				t.Errorf("stdout (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBuildInfo(t *testing.T) {
	t.Parallel()
	recorded := func() (*debug.BuildInfo, bool) {
		return &debug.BuildInfo{
			Main: debug.Module{Version: "v0.9.0"},
			Settings: []debug.BuildSetting{
				{Key: "vcs.revision", Value: "feedface"},
				{Key: "vcs.modified", Value: "true"},
			},
		}, true
	}
	devel := func() (*debug.BuildInfo, bool) {
		return &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, true
	}
	none := func() (*debug.BuildInfo, bool) { return nil, false }

	tests := []struct {
		name         string
		env          map[string]string
		ldVer, ldSHA string
		read         func() (*debug.BuildInfo, bool)
		want         portal.Build
	}{
		{
			name:  "environment wins",
			env:   map[string]string{"PSSP_VERSION": "v1.4.2", "PSSP_GIT_SHA": "abc"},
			ldVer: "v1.0.0", ldSHA: "def", read: recorded,
			want: portal.Build{Version: "v1.4.2", GitSHA: "abc"},
		},
		{
			name:  "ldflags over build info",
			ldVer: "v1.0.0", ldSHA: "def", read: recorded,
			want: portal.Build{Version: "v1.0.0", GitSHA: "def"},
		},
		{
			name: "mixed",
			env:  map[string]string{"PSSP_GIT_SHA": "abc"},
			read: recorded,
			want: portal.Build{Version: "v0.9.0", GitSHA: "abc"},
		},
		{
			name: "build info",
			read: recorded,
			want: portal.Build{Version: "v0.9.0", GitSHA: "feedface-dirty"},
		},
		{
			name: "development build",
			read: devel,
			want: portal.Build{Version: "devel", GitSHA: "unknown"},
		},
		{
			name: "nothing recorded",
			read: none,
			want: portal.Build{Version: "devel", GitSHA: "unknown"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := buildInfo(env(tt.env), tt.ldVer, tt.ldSHA, tt.read)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("buildInfo() (-want +got):\n%s", diff)
			}
		})
	}
}

// syncBuffer is stderr for a run that is still going while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type running struct {
	stderr *syncBuffer
	done   chan error
	stop   context.CancelFunc
}

// start runs pssp-api with args and env until the test ends or stop is
// called.
func start(t *testing.T, args []string, e map[string]string) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	r := &running{stderr: &syncBuffer{}, done: make(chan error, 1), stop: cancel}
	go func() { r.done <- run(ctx, args, env(e), io.Discard, r.stderr) }()
	t.Cleanup(func() {
		cancel()
		<-r.done
	})
	return r
}

// wait waits until stderr matches re and returns the first submatch.
func (r *running) wait(t *testing.T, re string) string {
	t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if m := rx.FindStringSubmatch(r.stderr.String()); m != nil {
			return m[len(m)-1]
		}
		select {
		case err := <-r.done:
			r.done <- err
			t.Fatalf("run() returned %v before logging %s; stderr:\n%s", err, re, r.stderr)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s in stderr after 10s:\n%s", re, r.stderr)
		}
	}
}

// shutdown stops the run as SIGTERM would and checks it returns nil.
func (r *running) shutdown(t *testing.T) {
	t.Helper()
	r.stop()
	select {
	case err := <-r.done:
		r.done <- err
		if err != nil {
			t.Errorf("run() after shutdown = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("run() did not return within 10s of shutdown; stderr:\n%s", r.stderr)
	}
}

func getJSON(t *testing.T, url string, v any) *http.Response {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: decoding: %v", url, err)
	}
	return resp
}

func TestServe(t *testing.T) {
	t.Parallel()
	rev, err := configrev.Dir(exampleStatic)
	if err != nil {
		t.Fatal(err)
	}
	r := start(t, nil, map[string]string{
		"PSSP_STATIC_DIR": exampleStatic,
		"PSSP_ADDR":       "127.0.0.1:0",
		"PSSP_VERSION":    "v1.4.2",
		"PSSP_GIT_SHA":    "0123abcd",
	})
	base := "http://" + r.wait(t, `msg=listening .*addr=(\S+)`)

	resp, err := http.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "ok" {
		t.Errorf("GET /healthz = %d %q, want 200 \"ok\"", resp.StatusCode, body)
	}

	var got portal.Version
	resp = getJSON(t, base+"/version", &got)
	want := portal.Version{Version: "v1.4.2", GitSHA: "0123abcd", ConfigRevision: rev}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GET /version (-want +got):\n%s", diff)
	}
	if h := resp.Header.Get(portal.RevisionHeader); h != rev {
		t.Errorf("%s = %q, want %q", portal.RevisionHeader, h, rev)
	}

	r.shutdown(t)
	if s := r.stderr.String(); !strings.Contains(s, "msg=stopped") {
		t.Errorf("stderr does not report a clean stop:\n%s", s)
	}
}

// TestServeAndWorker runs both roles against one Redis, as the cluster does.
func TestServeAndWorker(t *testing.T) {
	t.Parallel()
	redis := redistest.Start(t)
	e := map[string]string{
		"PSSP_STATIC_DIR": exampleStatic,
		"PSSP_ADDR":       "127.0.0.1:0",
		"REDIS_ADDR":      redis,
		"LOG_LEVEL":       "debug",
	}
	api := start(t, []string{"serve"}, e)
	wrk := start(t, []string{"worker"}, e)
	base := "http://" + api.wait(t, `msg=listening .*addr=(\S+)`)
	wrk.wait(t, `msg="worker started"`)

	resp, err := http.Post(base+"/subscriptions", "application/json",
		strings.NewReader(`{"user": "ada@example.com", "api": "orders", "plan": "gold"}`))
	if err != nil {
		t.Fatal(err)
	}
	var created subscription.Subscription
	if err := json.NewDecoder(resp.Body).Decode(&created); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /subscriptions = %d, want 201", resp.StatusCode)
	}

	loc := base + resp.Header.Get("Location")
	deadline := time.Now().Add(10 * time.Second)
	var got subscription.Subscription
	for {
		getJSON(t, loc, &got)
		if got.Status != subscription.Pending || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got.Status != subscription.Active || got.ConfigRevision != created.RequestRevision {
		t.Errorf("GET %s = status %q revision %q, want %q %q; worker stderr:\n%s",
			loc, got.Status, got.ConfigRevision, subscription.Active, created.RequestRevision, wrk.stderr)
	}
	wrk.wait(t, `msg="subscription activated" .*id=`+created.ID)

	api.shutdown(t)
	wrk.shutdown(t)
}
