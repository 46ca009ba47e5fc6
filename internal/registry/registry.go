package registry

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Options configure registry access.
type Options struct {
	// Insecure allows plain HTTP to registries other than loopback ones.
	Insecure bool
	// GitHubToken authenticates to ghcr.io (the CI's GITHUB_TOKEN).
	GitHubToken string
	// GitHubActor is the user name sent with GitHubToken.
	GitHubActor string
	// Keychain replaces the default credential sources: the Docker config
	// (and the credential helpers it names), GitHubToken for ghcr.io, then
	// Google's, Amazon ECR's and Azure's keychains for their registries.
	Keychain authn.Keychain
	// CloudTimeout bounds how long a cloud source may take to answer for
	// one registry; DefaultCloudTimeout when zero.
	CloudTimeout time.Duration
	// Log records which credential sources answered for which registry,
	// for Explain; NewAuthLog gives one. Nothing is recorded when nil.
	Log *AuthLog
	// Transport is the base transport; http.DefaultTransport when nil.
	Transport http.RoundTripper
	// Backoff is the retry budget (DefaultBackoff says what it covers);
	// DefaultBackoff when Steps is zero. Cap is ignored.
	Backoff remote.Backoff
	// Jobs is how many blobs go-containerregistry uploads in parallel; 4
	// when zero. (bake.Push uploads its blobs itself, 4 at a time.)
	Jobs int
	// UserAgent names the step in registry logs.
	UserAgent string
}

// Remote returns the go-containerregistry options for these settings.
// Retries end when ctx does: the request in flight and a wait of ours at
// once; go-containerregistry's wait between two tries of an upload does not
// watch ctx, so the next try fails as soon as that wait is over, at most
// one wait (5.7 s plus jitter by default) after ctx ended.
func (o Options) Remote(ctx context.Context) []remote.Option {
	backoff := o.Backoff
	if backoff.Steps == 0 {
		backoff = DefaultBackoff
	}
	backoff.Cap = 0
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
		remote.WithTransport(&retryTransport{base: &realmTransport{base: &httpGuard{base: base, insecure: o.Insecure}, log: o.Log}, backoff: backoff}),
		remote.WithRetryBackoff(backoff),
		// Statuses are ours to retry, request by request; go-containerregistry
		// retries only what Retryable says, so the two never multiply.
		remote.WithRetryStatusCodes(),
		remote.WithRetryPredicate(func(err error) bool { return ctx.Err() == nil && Retryable(err) }),
		remote.WithJobs(jobs),
	}
	if o.UserAgent != "" {
		opts = append(opts, remote.WithUserAgent(o.UserAgent))
	}
	return opts
}

// NameOptions are the options to parse references with.
func (o Options) NameOptions() []name.Option {
	if o.Insecure {
		return []name.Option{name.Insecure}
	}
	return nil
}

func (o Options) keychain() authn.Keychain {
	log := o.Log
	if log == nil {
		log = NewAuthLog()
	}
	return o.keychainWith(log)
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
