package smoke

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/driftless-dev/driftless/internal/meta"
	"github.com/driftless-dev/driftless/internal/spec"
)

var rel = meta.Release{
	Version:        "v1.4.2",
	GitSHA:         "0123456789abcdef0123456789abcdef01234567",
	Image:          "127.0.0.1:5000/pssp/api@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	ConfigRevision: "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
}

func TestExpand(t *testing.T) {
	t.Parallel()
	env := map[string]string{"API_TOKEN": "tok-123456", "version": "from-env"}
	c := Check{
		Name:            "c",
		Path:            "/releases/${version}?sha=${gitSha}",
		Body:            `{"digest":"${digest}"}`,
		Headers:         map[string]string{"Authorization": "Bearer ${API_TOKEN}", "X-Release": "${version}"},
		Contains:        "${configRevision}",
		JSON:            map[string]string{"version": "${version}", "static": "literal $x {y}"},
		HeaderIfPresent: map[string]string{"X-Config-Revision": "${configRevision}"},
	}
	got, secrets, err := c.Expand(rel, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	want := Check{
		Name:            "c",
		Path:            "/releases/v1.4.2?sha=" + rel.GitSHA,
		Body:            `{"digest":"sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}`,
		Headers:         map[string]string{"Authorization": "Bearer tok-123456", "X-Release": "v1.4.2"},
		Contains:        rel.ConfigRevision,
		JSON:            map[string]string{"version": "v1.4.2", "static": "literal $x {y}"},
		HeaderIfPresent: map[string]string{"X-Config-Revision": rel.ConfigRevision},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	// Release variables win over environment variables of the same name,
	// and only environment values are secrets.
	if diff := cmp.Diff([]string{"tok-123456"}, secrets); diff != "" {
		t.Errorf("secrets (-want +got):\n%s", diff)
	}
}

func TestExpandRefuses(t *testing.T) {
	t.Parallel()
	c := Check{
		Name:    "c",
		Path:    "/x/${HOME}",
		Headers: map[string]string{"Authorization": "Bearer ${MISSING}"},
		JSON:    map[string]string{"digest": "${digest}"},
	}
	_, _, err := c.Expand(meta.Release{Version: "v1"}, func(string) string { return "" })
	var u *UnknownVariableError
	if !errors.As(err, &u) {
		t.Fatalf("want *UnknownVariableError, got %v", err)
	}
	for _, want := range []string{
		`check "c": path refers to ${HOME}, which is not a release variable; valid: version, gitSha, digest, configRevision (environment variables are allowed in request headers only)`,
		`check "c": header Authorization refers to the environment variable MISSING, which is not set`,
		`check "c": json digest refers to ${digest}, which is not known for the release being verified`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q\nlacks %q", err, want)
		}
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	ok := []Check{{Name: "a", Path: "/healthz"}, {Name: "b", Path: "https://example.com/x", Method: "POST", Status: 201}}
	if err := Validate(ok); err != nil {
		t.Errorf("valid checks refused: %v", err)
	}
	bad := []Check{
		{Path: "/x"},
		{Name: "version", Path: "/v"},
		{Name: "version", Path: "/v"},
		{Name: "m", Path: "/x", Method: "FETCH"},
		{Name: "s", Path: "/x", Status: 700},
		{Name: "p", Path: "healthz"},
		{Name: "j", Path: "/x", JSON: map[string]string{"a..b": "1"}},
	}
	err := Validate(bad)
	for _, want := range []string{
		"check 1 has no name",
		`check "version" is declared twice; check names must be unique ("version" is the built-in GET /version check)`,
		`method "FETCH" is not valid; valid methods: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS`,
		"status 700 is not an HTTP status code",
		`path "healthz" is neither a path starting with / nor an http(s) URL`,
		`json path "a..b" has an empty segment`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v\nlacks %q", err, want)
		}
	}
}

func TestVersionCheck(t *testing.T) {
	t.Parallel()
	c, ok := VersionCheck(rel)
	if !ok {
		t.Fatal("not ok with a full release")
	}
	want := Check{
		Name: "version", Path: "/version", Method: "GET", Status: 200, Passes: VersionPasses,
		JSON:            map[string]string{"version": "${version}", "configRevision": "${configRevision}"},
		HeaderIfPresent: map[string]string{"X-Config-Revision": "${configRevision}"},
	}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	c, ok = VersionCheck(meta.Release{Version: "v1"})
	if !ok || len(c.JSON) != 1 || c.HeaderIfPresent != nil {
		t.Errorf("version only: %+v", c)
	}
	if _, ok := VersionCheck(meta.Release{GitSHA: "abc"}); ok {
		t.Error("ok without a version or a configuration revision: nothing would be verified")
	}
}

func TestFromSpec(t *testing.T) {
	t.Parallel()
	got := FromSpec([]spec.Check{{Name: "n", Path: "/p", Method: "GET", Status: 200, MaxLatency: spec.Duration{Duration: 500 * time.Millisecond}, JSON: map[string]string{"a": "b"}}})
	want := []Check{{Name: "n", Path: "/p", Method: "GET", Status: 200, MaxLatency: 500 * time.Millisecond, JSON: map[string]string{"a": "b"}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestLookup(t *testing.T) {
	t.Parallel()
	doc, err := decodeJSON([]byte(`{"a":{"b":"x","n":42,"f":1.50,"t":true,"z":null,"o":{"k":"<v>"}},"items":[{"name":"first"},{"name":"second"}],"0":"key"}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path string
		want string
		ok   bool
	}{
		{"a.b", "x", true},
		{"a.n", "42", true},
		{"a.f", "1.50", true},
		{"a.t", "true", true},
		{"a.z", "null", true},
		{"a.o", `{"k":"<v>"}`, true},
		{"items.1.name", "second", true},
		{"0", "key", true},
		{"items.2.name", "", false},
		{"items.x", "", false},
		{"a.b.c", "", false},
		{"missing", "", false},
	} {
		v, ok := lookup(doc, tc.path)
		if ok != tc.ok || (ok && text(v) != tc.want) {
			t.Errorf("lookup(%q) = %q, %v; want %q, %v", tc.path, text(v), ok, tc.want, tc.ok)
		}
	}
}

func TestTruncate(t *testing.T) {
	t.Parallel()
	if got := truncate([]byte("short"), 10); got != "short" {
		t.Errorf("got %q", got)
	}
	// "é" is two bytes; the cut must not split it.
	got := truncate([]byte("aé"+strings.Repeat("x", 10)), 2)
	if got != "a… (13 bytes, 1 shown)" {
		t.Errorf("got %q", got)
	}
}

func TestRoundLatency(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{
		412345 * time.Nanosecond:     "400µs",
		12345678 * time.Nanosecond:   "12ms",
		1500600000 * time.Nanosecond: "1.501s",
	} {
		if got := RoundLatency(d).String(); got != want {
			t.Errorf("RoundLatency(%s) = %s, want %s", d, got, want)
		}
	}
}
