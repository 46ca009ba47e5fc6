package smoke

import (
	"fmt"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"strings"

	"k8s.io/client-go/rest"
)

// Target is where a suite's relative paths go.
type Target struct {
	// Base is the URL relative paths are appended to.
	Base *url.URL
	// Client sends requests to Base; nil means the Runner's client. It
	// carries the target's credentials and is never used for other hosts.
	Client *http.Client
	// Description names the target in reports.
	Description string
}

// URLTarget is a service reached at base, an http(s) URL.
func URLTarget(base string) (*Target, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("base URL %q is not an http(s) URL", base)
	}
	return &Target{Base: u, Description: u.String()}, nil
}

var servicePort = regexp.MustCompile(`^(?:(https?):)?([a-z0-9]([-a-z0-9]*[a-z0-9])?):([a-z0-9]([-a-z0-9]*[a-z0-9])?)$`)

// ServiceName returns the Service's name in service, [scheme:]name:port,
// or an error saying what the form is.
func ServiceName(service string) (string, error) {
	m := servicePort.FindStringSubmatch(service)
	if m == nil {
		return "", fmt.Errorf("service %q is not name:port (pssp-api:80 or pssp-api:http)", service)
	}
	return m[2], nil
}

// ServiceTarget is a Service reached through the Kubernetes API server's
// service proxy, /api/v1/namespaces/NS/services/NAME:PORT/proxy/, with the
// credentials of cfg. service is name:port, where port is the Service
// port's number or name; https:name:port speaks TLS to the pods.
func ServiceTarget(cfg *rest.Config, namespace, service string) (*Target, error) {
	if _, err := ServiceName(service); err != nil {
		return nil, err
	}
	base, _, err := rest.DefaultServerUrlFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("the Kubernetes API server's address %q: %w", cfg.Host, err)
	}
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("making a client for the Kubernetes API server %s: %w", cfg.Host, err)
	}
	// A copy: rest may share the client's transport with other users.
	client := *hc
	client.CheckRedirect = noRedirects
	u := *base
	u.Path = path.Join("/", base.Path, "api/v1/namespaces", namespace, "services", service, "proxy")
	u.RawPath = ""
	name := strings.TrimPrefix(strings.TrimPrefix(service, "https:"), "http:")
	return &Target{Base: &u, Client: &client, Description: fmt.Sprintf("Service/%s/%s through the Kubernetes API at %s", namespace, name, base.Host)}, nil
}

// resolve returns the URL of a check's path and whether it is the
// target's (and goes with the target's client).
func (t *Target) resolve(p string) (*url.URL, bool, error) {
	if !strings.HasPrefix(p, "/") {
		u, err := url.Parse(p)
		if err != nil || u.Host == "" {
			return nil, false, fmt.Errorf("path %q is neither a path starting with / nor an absolute URL", p)
		}
		return u, false, nil
	}
	rel, err := url.Parse(p)
	if err != nil {
		return nil, false, fmt.Errorf("path %q: %w", p, err)
	}
	u := *t.Base
	u.Path = strings.TrimSuffix(t.Base.Path, "/") + rel.Path
	u.RawPath = ""
	u.RawQuery = rel.RawQuery
	u.Fragment = ""
	return &u, true, nil
}

// noRedirects makes a client return redirects as they are, so a check can
// expect a 301 and a redirect elsewhere is not followed silently.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// DefaultClient is the client a Runner uses when none is given: no
// redirects followed, no cookies, proxies from the environment.
func DefaultClient() *http.Client {
	return &http.Client{Transport: http.DefaultTransport, CheckRedirect: noRedirects}
}
