package smoke

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// Defaults of a Runner.
const (
	DefaultRequestTimeout = 10 * time.Second
	DefaultBackoff        = 250 * time.Millisecond
	DefaultMaxBackoff     = 5 * time.Second
	// BodyLimit is how much of a body is shown in a failure.
	BodyLimit = 512
	// maxRead bounds how much of a body is read to evaluate it.
	maxRead = 4 << 20
)

// Runner runs suites of checks.
type Runner struct {
	// Client sends requests that do not go to a target with its own
	// client; DefaultClient when nil.
	Client *http.Client
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Sleep waits d or until ctx ends; a timer when nil.
	Sleep func(ctx context.Context, d time.Duration) error
	// Logf reports retries; silent when nil.
	Logf func(format string, args ...any)
	// RequestTimeout bounds one attempt; DefaultRequestTimeout when zero.
	RequestTimeout time.Duration
	// Backoff is the first wait between attempts, doubled after each up
	// to MaxBackoff; DefaultBackoff and DefaultMaxBackoff when zero.
	Backoff, MaxBackoff time.Duration
}

// Suite is the checks of one environment.
type Suite struct {
	// Environment names the suite in reports.
	Environment string
	Target      *Target
	// Checks run in order; each is retried until it passes or Timeout,
	// measured from the start of the suite, has passed. Every check is
	// tried at least once.
	Checks  []Check
	Timeout time.Duration
}

// Report is what a suite found.
type Report struct {
	Environment string    `json:"environment"`
	Target      string    `json:"target"`
	Started     time.Time `json:"started"`
	// Elapsed is the time the whole suite took.
	Elapsed time.Duration `json:"elapsed"`
	Results []Result      `json:"results"`
}

// Passed counts the checks that passed.
func (r *Report) Passed() int {
	n := 0
	for _, res := range r.Results {
		if res.Passed {
			n++
		}
	}
	return n
}

// Failed counts the checks that failed.
func (r *Report) Failed() int { return len(r.Results) - r.Passed() }

// Result is one check's outcome: its last attempt.
type Result struct {
	Name   string `json:"name"`
	Method string `json:"method"`
	// Path is the check's path as expanded; URL the request's URL.
	Path   string `json:"path"`
	URL    string `json:"url"`
	Passed bool   `json:"passed"`
	// Attempts counts the requests made.
	Attempts int `json:"attempts"`
	// Status is the last answer's status code; 0 when there was none.
	Status int `json:"status,omitempty"`
	// Latency is the last answer's, body included.
	Latency time.Duration `json:"latency"`
	// Elapsed is the time spent on the check, retries included.
	Elapsed time.Duration `json:"elapsed"`
	// Problems say what was expected and what came back, one per
	// expectation that failed.
	Problems []string `json:"problems,omitempty"`
	// Body is the start of the failing answer's body, at most BodyLimit
	// bytes and a note of how much was cut.
	Body string `json:"body,omitempty"`
}

// Message is the failure in one line: the problems, then the body.
func (r Result) Message() string {
	if r.Passed {
		return ""
	}
	msg := strings.Join(r.Problems, "; ")
	if r.Body != "" {
		msg += "; body: " + r.Body
	}
	return msg
}

// Mask returns a copy of the report with f applied to every text that
// came from outside: URLs, problems, bodies. Masking before rendering
// matters: after escaping for XML or Markdown a secret may no longer look
// like itself.
func (r Report) Mask(f func(string) string) Report {
	out := r
	out.Target = f(r.Target)
	out.Results = make([]Result, len(r.Results))
	for i, res := range r.Results {
		res.Path, res.URL, res.Body = f(res.Path), f(res.URL), f(res.Body)
		res.Problems = append([]string(nil), res.Problems...)
		for j := range res.Problems {
			res.Problems[j] = f(res.Problems[j])
		}
		out.Results[i] = res
	}
	return out
}

// Run runs the suite. It stops early only when ctx ends; the caller tells
// that case apart with ctx.Err().
func (r *Runner) Run(ctx context.Context, s Suite) *Report {
	now := r.now()
	rep := &Report{Environment: s.Environment, Target: s.Target.Description, Started: now}
	deadline := now.Add(s.Timeout)
	for _, c := range s.Checks {
		rep.Results = append(rep.Results, r.runCheck(ctx, s.Target, c, deadline))
	}
	rep.Elapsed = r.now().Sub(rep.Started)
	return rep
}

// runCheck tries c until it passes c.passes() times in a row or the
// deadline is past.
func (r *Runner) runCheck(ctx context.Context, t *Target, c Check, deadline time.Time) Result {
	start := r.now()
	res := Result{Name: c.Name, Method: c.method(), Path: c.Path}
	wait := r.backoff()
	streak := 0
	for {
		a := r.attempt(ctx, t, c, deadline)
		res.Attempts++
		res.URL, res.Status, res.Latency = a.url, a.status, a.latency
		problems := evaluate(c, a)
		if len(problems) == 0 {
			streak++
			if streak >= c.passes() {
				res.Passed, res.Problems, res.Body = true, nil, ""
				res.Elapsed = r.now().Sub(start)
				return res
			}
			continue
		}
		streak = 0
		res.Problems, res.Body = problems, truncate(bytes.TrimRight(a.body, " \t\r\n"), BodyLimit)
		if ctx.Err() != nil || a.unusable || !r.now().Add(wait).Before(deadline) {
			res.Elapsed = r.now().Sub(start)
			return res
		}
		r.logf("%s: attempt %d failed (%s); retrying in %s", c.Name, res.Attempts, strings.Join(problems, "; "), wait)
		if err := r.sleep(ctx, wait); err != nil {
			res.Elapsed = r.now().Sub(start)
			return res
		}
		wait = min(wait*2, r.maxBackoff())
	}
}

// attempt is one request and its answer.
type attempt struct {
	url     string
	err     error
	status  int
	header  http.Header
	body    []byte
	latency time.Duration
	// unusable marks a request that could not even be built; retrying
	// cannot help.
	unusable bool
}

func (r *Runner) attempt(ctx context.Context, t *Target, c Check, deadline time.Time) attempt {
	u, own, err := t.resolve(c.Path)
	if err != nil {
		return attempt{err: err, unusable: true}
	}
	a := attempt{url: u.String()}
	// Each attempt gets the request timeout, cut to what is left before
	// the deadline, but never less than two seconds: the last attempt of a
	// late check must still have a chance to answer.
	timeout := min(r.requestTimeout(), max(deadline.Sub(r.now()), 2*time.Second))
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var body io.Reader
	if c.Body != "" {
		body = strings.NewReader(c.Body)
	}
	req, err := http.NewRequestWithContext(actx, c.method(), a.url, body)
	if err != nil {
		a.err, a.unusable = err, true
		return a
	}
	for k, v := range c.Headers {
		if strings.EqualFold(k, "Host") {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	client := r.client()
	if own && t.Client != nil {
		client = t.Client
	}
	start := r.now()
	resp, err := client.Do(req)
	if err != nil {
		a.err, a.latency = err, r.now().Sub(start)
		return a
	}
	defer resp.Body.Close()
	a.body, err = io.ReadAll(io.LimitReader(resp.Body, maxRead))
	a.latency = r.now().Sub(start)
	a.status, a.header = resp.StatusCode, resp.Header
	if err != nil {
		a.err = fmt.Errorf("reading the body: %w", err)
	}
	return a
}

// evaluate lists what is wrong with an answer, in a stable order: the
// request, the status, the body, JSON fields, headers, the latency.
func evaluate(c Check, a attempt) []string {
	if a.err != nil && a.status == 0 {
		return []string{fmt.Sprintf("request failed: %v", a.err)}
	}
	var p []string
	if a.err != nil {
		p = append(p, a.err.Error())
	}
	if a.status != c.status() {
		p = append(p, fmt.Sprintf("status: want %d, got %d", c.status(), a.status))
	}
	if c.Contains != "" && !strings.Contains(string(a.body), c.Contains) {
		p = append(p, fmt.Sprintf("body: want it to contain %q", c.Contains))
	}
	if len(c.JSON) > 0 {
		doc, err := decodeJSON(a.body)
		if err != nil {
			p = append(p, fmt.Sprintf("body: want JSON, got %s", describeNonJSON(a, err)))
		} else {
			for _, k := range sortedKeys(c.JSON) {
				want := c.JSON[k]
				got, ok := lookup(doc, k)
				switch {
				case !ok:
					p = append(p, fmt.Sprintf("json %s: want %q, missing", k, want))
				case text(got) != want:
					p = append(p, fmt.Sprintf("json %s: want %q, got %s", k, want, quoteJSON(got)))
				}
			}
		}
	}
	for _, k := range sortedKeys(c.HeaderIfPresent) {
		if got := a.header.Values(k); len(got) > 0 && (len(got) > 1 || got[0] != c.HeaderIfPresent[k]) {
			p = append(p, fmt.Sprintf("header %s: want %q, got %q", k, c.HeaderIfPresent[k], strings.Join(got, ", ")))
		}
	}
	if c.MaxLatency > 0 && a.latency > c.MaxLatency {
		p = append(p, fmt.Sprintf("latency: want at most %s, took %s", c.MaxLatency, RoundLatency(a.latency)))
	}
	if c.Name == VersionCheckName && lacksVersionEndpoint(c, a) {
		p = append(p, ContractHint)
	}
	return p
}

// ContractHint says what every service driftless deploys must answer.
const ContractHint = `the service does not implement driftless's contract: GET /version must answer 200 with JSON {"version": "<the release, e.g. v1.4.2>", "configRevision": "sha256:<the revision of its static configuration>"} (see docs/service-contract.md)`

// lacksVersionEndpoint reports an answer to GET /version that shows the
// endpoint is not there at all (as opposed to reporting another release):
// not found, not allowed, not JSON, or JSON without the fields.
func lacksVersionEndpoint(c Check, a attempt) bool {
	switch a.status {
	case http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusNotImplemented:
		return true
	}
	if a.status != http.StatusOK {
		return false
	}
	doc, err := decodeJSON(a.body)
	if err != nil {
		return true
	}
	for k := range c.JSON {
		if _, ok := lookup(doc, k); !ok {
			return true
		}
	}
	return false
}

func describeNonJSON(a attempt, err error) string {
	ct := a.header.Get("Content-Type")
	if ct == "" {
		ct = "no Content-Type"
	}
	return fmt.Sprintf("%s (%v)", ct, err)
}

// quoteJSON shows a JSON value in a problem: strings quoted, the rest as
// JSON text.
func quoteJSON(v any) string {
	if s, ok := v.(string); ok {
		return fmt.Sprintf("%q", s)
	}
	return text(v)
}

// truncate keeps the first n bytes of b, cut at a character boundary, and
// says how much was left out.
func truncate(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(b[cut]) {
		cut--
	}
	return fmt.Sprintf("%s… (%d bytes, %d shown)", b[:cut], len(b), cut)
}

// RoundLatency rounds a latency for people: to the millisecond, or to
// 100µs below one.
func RoundLatency(d time.Duration) time.Duration {
	if d < time.Millisecond {
		return d.Round(100 * time.Microsecond)
	}
	return d.Round(time.Millisecond)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (r *Runner) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Runner) sleep(ctx context.Context, d time.Duration) error {
	if r.Sleep != nil {
		return r.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (r *Runner) logf(format string, args ...any) {
	if r.Logf != nil {
		r.Logf(format, args...)
	}
}

func (r *Runner) client() *http.Client {
	if r.Client != nil {
		return r.Client
	}
	return DefaultClient()
}

func (r *Runner) requestTimeout() time.Duration {
	if r.RequestTimeout > 0 {
		return r.RequestTimeout
	}
	return DefaultRequestTimeout
}

func (r *Runner) backoff() time.Duration {
	if r.Backoff > 0 {
		return r.Backoff
	}
	return DefaultBackoff
}

func (r *Runner) maxBackoff() time.Duration {
	if r.MaxBackoff > 0 {
		return r.MaxBackoff
	}
	return DefaultMaxBackoff
}
