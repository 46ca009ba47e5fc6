package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Options configure registry access.
type Options struct {
	// Insecure allows plain HTTP to registries other than loopback ones.
	Insecure bool
	// GitHubToken authenticates to ghcr.io (the CI's GITHUB_TOKEN).
	GitHubToken string
	// GitHubActor is the user name sent with GitHubToken.
	GitHubActor string
	// Keychain overrides the default (Docker config) keychain.
	Keychain authn.Keychain
	// Transport is the base transport; http.DefaultTransport when nil.
	Transport http.RoundTripper
	// Backoff between retries; DefaultBackoff when zero.
	Backoff remote.Backoff
	// Jobs is how many blobs are uploaded in parallel; 4 when zero.
	Jobs int
	// UserAgent names the step in registry logs.
	UserAgent string
}

// DefaultBackoff retries five times over about 15 seconds.
var DefaultBackoff = remote.Backoff{Duration: 500 * time.Millisecond, Factor: 2, Jitter: 0.1, Steps: 5}

// retryStatusCodes are the answers worth trying again.
var retryStatusCodes = []int{
	http.StatusRequestTimeout, http.StatusTooManyRequests,
	http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout,
}

// Remote returns the go-containerregistry options for these settings.
func (o Options) Remote(ctx context.Context) []remote.Option {
	backoff := o.Backoff
	if backoff.Steps == 0 {
		backoff = DefaultBackoff
	}
	jobs := o.Jobs
	if jobs == 0 {
		jobs = 4
	}
	base := o.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	opts := []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(o.keychain()),
		remote.WithTransport(&httpGuard{base: base, insecure: o.Insecure}),
		remote.WithRetryBackoff(backoff),
		remote.WithRetryStatusCodes(retryStatusCodes...),
		remote.WithRetryPredicate(Retryable),
		remote.WithJobs(jobs),
	}
	if o.UserAgent != "" {
		opts = append(opts, remote.WithUserAgent(o.UserAgent))
	}
	return opts
}

// Retryable says whether a failed registry call is worth trying again: an
// answer with one of the retried status codes (go-containerregistry's
// default predicate misses a 429 or 503 to the request that starts a blob
// upload), or a connection that timed out, was reset or dropped mid-body.
func Retryable(err error) bool {
	if err == nil {
		return false
	}
	var te *transport.Error
	if errors.As(err, &te) {
		return slices.Contains(retryStatusCodes, te.StatusCode)
	}
	var tmp interface{ Temporary() bool }
	if errors.As(err, &tmp) && tmp.Temporary() {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, net.ErrClosed)
}

// NameOptions are the options to parse references with.
func (o Options) NameOptions() []name.Option {
	if o.Insecure {
		return []name.Option{name.Insecure}
	}
	return nil
}

func (o Options) keychain() authn.Keychain {
	kc := o.Keychain
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	if o.GitHubToken == "" {
		return kc
	}
	return authn.NewMultiKeychain(ghcr{user: o.GitHubActor, token: o.GitHubToken}, kc)
}

// ghcr authenticates to GitHub's registry with the CI token.
type ghcr struct{ user, token string }

func (g ghcr) Resolve(r authn.Resource) (authn.Authenticator, error) {
	if r.RegistryStr() != "ghcr.io" {
		return authn.Anonymous, nil
	}
	user := g.user
	if user == "" {
		user = "token" // ghcr.io checks only the token
	}
	return &authn.Basic{Username: user, Password: g.token}, nil
}

// httpGuard refuses plain HTTP except to loopback registries: go-containerregistry
// would otherwise also speak HTTP to private-range and .local hosts.
type httpGuard struct {
	base     http.RoundTripper
	insecure bool
}

func (g *httpGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "http" && !g.insecure && !IsLoopback(req.URL.Hostname()) {
		return nil, fmt.Errorf("refusing plain HTTP to registry %s: only loopback registries are reached without TLS unless insecure-registry is set", req.URL.Host)
	}
	return g.base.RoundTrip(req)
}

// IsLoopback reports whether host is localhost or a loopback address.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
