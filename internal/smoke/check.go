package smoke

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/driftless-dev/driftless/internal/meta"
	"github.com/driftless-dev/driftless/internal/spec"
)

// Check is one HTTP request and what its answer must be.
type Check struct {
	// Name is shown in reports; unique within a suite.
	Name string `json:"name"`
	// Path is relative to the target's base (/healthz, /apis?limit=1), or
	// an absolute URL, which is requested without the target's credentials.
	Path string `json:"path"`
	// Method is the HTTP method; GET when empty.
	Method string `json:"method,omitempty"`
	// Headers are sent with the request.
	Headers map[string]string `json:"headers,omitempty"`
	// Body is sent with the request.
	Body string `json:"body,omitempty"`
	// Status is the expected status code; 200 when zero.
	Status int `json:"status,omitempty"`
	// Contains is text the body must contain.
	Contains string `json:"contains,omitempty"`
	// JSON maps dot paths (a.b, items.0.name) to the values the JSON body
	// must have there: strings as they are, other values as JSON text
	// (42, true, null).
	JSON map[string]string `json:"json,omitempty"`
	// HeaderIfPresent maps response headers to the values they must have
	// when the response carries them.
	HeaderIfPresent map[string]string `json:"headerIfPresent,omitempty"`
	// MaxLatency is the slowest acceptable answer, body included; zero
	// means no budget.
	MaxLatency time.Duration `json:"maxLatency,omitempty"`
	// Passes is how many answers in a row must pass; 1 when zero.
	Passes int `json:"passes,omitempty"`
}

// VersionCheckName names the check VersionCheck returns.
const VersionCheckName = "version"

// VersionPasses is how many consecutive answers of GET /version must report
// the release. A Service spreads requests over its pods; one good answer
// could come from a new pod while a stale one still serves.
const VersionPasses = 3

// RevisionHeader is the response header the example service, and services
// built like it, report the configuration revision in.
const RevisionHeader = "X-Config-Revision"

// VersionCheck is the check every suite starts with: GET /version must
// answer {"version": ${version}, "configRevision": ${configRevision}} and
// carry X-Config-Revision: ${configRevision} if it carries the header at
// all. A field whose value the release does not know is not checked; ok is
// false when neither is known, as there is nothing to verify then.
func VersionCheck(rel meta.Release) (c Check, ok bool) {
	c = Check{Name: VersionCheckName, Path: "/version", Method: http.MethodGet, Status: http.StatusOK, JSON: map[string]string{}, Passes: VersionPasses}
	if rel.Version != "" {
		c.JSON["version"] = "${version}"
	}
	if rel.ConfigRevision != "" {
		c.JSON["configRevision"] = "${configRevision}"
		c.HeaderIfPresent = map[string]string{RevisionHeader: "${configRevision}"}
	}
	return c, len(c.JSON) > 0
}

// FromSpec converts the spec's checks.
func FromSpec(checks []spec.Check) []Check {
	out := make([]Check, 0, len(checks))
	for _, c := range checks {
		out = append(out, Check{
			Name: c.Name, Path: c.Path, Method: c.Method, Headers: c.Headers, Body: c.Body,
			Status: c.Status, Contains: c.Contains, JSON: c.JSON, MaxLatency: c.MaxLatency.Duration,
		})
	}
	return out
}

// Methods are the HTTP methods a check may use.
var Methods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

// Validate reports every malformed check at once: names missing or used
// twice, unknown methods, status codes out of range, paths that are
// neither /relative nor absolute URLs, empty JSON paths.
func Validate(checks []Check) error {
	var errs []error
	seen := map[string]bool{}
	for i, c := range checks {
		where := fmt.Sprintf("check %q", c.Name)
		if c.Name == "" {
			where = fmt.Sprintf("check %d", i+1)
			errs = append(errs, fmt.Errorf("%s has no name", where))
		} else if seen[c.Name] {
			errs = append(errs, fmt.Errorf("%s is declared twice; check names must be unique (%q is the built-in GET /version check)", where, VersionCheckName))
		}
		seen[c.Name] = true
		if c.Method != "" && !slices.Contains(Methods, c.Method) {
			errs = append(errs, fmt.Errorf("%s: method %q is not valid; valid methods: %s", where, c.Method, strings.Join(Methods, ", ")))
		}
		if c.Status != 0 && (c.Status < 100 || c.Status > 599) {
			errs = append(errs, fmt.Errorf("%s: status %d is not an HTTP status code (100-599)", where, c.Status))
		}
		if !strings.HasPrefix(c.Path, "/") {
			if u, err := url.Parse(c.Path); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				errs = append(errs, fmt.Errorf("%s: path %q is neither a path starting with / nor an http(s) URL", where, c.Path))
			}
		}
		for p := range c.JSON {
			if p == "" || slices.Contains(strings.Split(p, "."), "") {
				errs = append(errs, fmt.Errorf("%s: json path %q has an empty segment; write fields as a.b.c and array elements as items.0", where, p))
			}
		}
		if c.MaxLatency < 0 {
			errs = append(errs, fmt.Errorf("%s: maximum latency %s is negative", where, c.MaxLatency))
		}
	}
	return errors.Join(errs...)
}

// UnknownVariableError is a ${name} that cannot be filled in: a release
// variable the release does not know, an environment variable that is not
// set, or a name that is neither.
type UnknownVariableError struct {
	Check    string
	Variable string
	// Where is the field: path, body, header Authorization, json version.
	Where string
	// Release is true for a release variable (version, gitSha, digest,
	// configRevision) whose value is not known.
	Release bool
	// Env is true where environment variables are allowed (request
	// headers) and the variable is not set.
	Env bool
}

func (e *UnknownVariableError) Error() string {
	switch {
	case e.Release:
		return fmt.Sprintf("check %q: %s refers to ${%s}, which is not known for the release being verified", e.Check, e.Where, e.Variable)
	case e.Env:
		return fmt.Sprintf("check %q: %s refers to the environment variable %s, which is not set", e.Check, e.Where, e.Variable)
	}
	return fmt.Sprintf("check %q: %s refers to ${%s}, which is not a release variable; valid: %s (environment variables are allowed in request headers only)", e.Check, e.Where, e.Variable, strings.Join(Variables, ", "))
}

var variableRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// Expand returns c with its ${...} references filled in. In the path, the
// body and the expectations only release variables are allowed; in request
// header values a name that is not a release variable is read from the
// environment with getenv. secrets are the environment values used: the
// caller masks them in everything it prints. Every unknown reference is
// reported, as *UnknownVariableError values joined.
func (c Check) Expand(rel meta.Release, getenv func(string) string) (_ Check, secrets []string, err error) {
	var errs []error
	expand := func(where, s string, env bool) string {
		return variableRef.ReplaceAllStringFunc(s, func(m string) string {
			name := m[2 : len(m)-1]
			if v, ok := variable(rel, name); ok {
				if v == "" {
					errs = append(errs, &UnknownVariableError{Check: c.Name, Variable: name, Release: true, Where: where})
				}
				return v
			}
			if env {
				if v := getenv(name); v != "" {
					secrets = append(secrets, v)
					return v
				}
			}
			errs = append(errs, &UnknownVariableError{Check: c.Name, Variable: name, Where: where, Env: env})
			return m
		})
	}
	out := c
	out.Path = expand("path", c.Path, false)
	out.Body = expand("body", c.Body, false)
	out.Contains = expand("contains", c.Contains, false)
	out.Headers = expandMap(c.Headers, func(k, v string) string { return expand("header "+k, v, true) })
	out.JSON = expandMap(c.JSON, func(k, v string) string { return expand("json "+k, v, false) })
	out.HeaderIfPresent = expandMap(c.HeaderIfPresent, func(k, v string) string { return expand("response header "+k, v, false) })
	return out, secrets, errors.Join(errs...)
}

// expandMap applies f to every value, in key order so errors come out in a
// stable order.
func expandMap(m map[string]string, f func(k, v string) string) map[string]string {
	if m == nil {
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make(map[string]string, len(m))
	for _, k := range keys {
		out[k] = f(k, m[k])
	}
	return out
}

func (c Check) method() string {
	if c.Method == "" {
		return http.MethodGet
	}
	return c.Method
}

func (c Check) status() int {
	if c.Status == 0 {
		return http.StatusOK
	}
	return c.Status
}

func (c Check) passes() int { return max(c.Passes, 1) }
