package registry

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// AuthError is a registry's 401 or 403, with the credential sources that
// were asked for that registry and what would let the request through.
type AuthError struct {
	// Registry is the registry host (for a refused token request, the
	// registry whose token service refused).
	Registry string
	// Status is 401 or 403.
	Status int
	// Push is true when the refused request wrote (a push or a tag).
	Push bool
	// Tried is what each source asked said, in order.
	Tried []Attempt
	// Err is the error as the operation returned it.
	Err error
}

func (e *AuthError) Error() string {
	var answered *Attempt
	for i := range e.Tried {
		if e.Tried[i].Answered {
			answered = &e.Tried[i]
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%v; registry %s answered %d %s", e.Err, e.Registry, e.Status, http.StatusText(e.Status))
	switch {
	case len(e.Tried) == 0:
		b.WriteString("; no credentials were asked for it")
	case answered == nil:
		tried := make([]string, len(e.Tried))
		for i, a := range e.Tried {
			tried[i] = a.String()
		}
		b.WriteString("; no credential source had any, so the request went anonymous; tried: " + strings.Join(tried, "; "))
	default:
		b.WriteString("; credentials from " + answered.String())
	}
	b.WriteString(" — " + e.remedy(answered))
	return b.String()
}

func (e *AuthError) Unwrap() error { return e.Err }

func (e *AuthError) remedy(answered *Attempt) string {
	reg := e.Registry
	verb := "pull from"
	if e.Push {
		verb = "push to"
	}
	if answered == nil {
		switch {
		case isGHCR(reg):
			return "set github-token (the actions pass the job's token by default; the binary reads GITHUB_TOKEN)"
		case IsECR(reg):
			return "give the job AWS credentials: aws-actions/configure-aws-credentials with role-to-assume (and permissions: id-token: write), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
		case IsGoogle(reg):
			return "give the job Google credentials: google-github-actions/auth with workload_identity_provider (and permissions: id-token: write) sets GOOGLE_APPLICATION_CREDENTIALS; or GOOGLE_APPLICATION_CREDENTIALS naming a credentials file"
		case IsACR(reg):
			return "set AZURE_CLIENT_ID and AZURE_TENANT_ID with AZURE_FEDERATED_TOKEN_FILE (workload identity) or AZURE_CLIENT_SECRET; or run az acr login --name " + strings.SplitN(hostname(reg), ".", 2)[0] + " first, which writes the Docker config"
		}
		return "log in first: docker login " + reg + " (docker/login-action in a workflow) writes the Docker config, or name a credential helper for " + reg + " under credHelpers in it"
	}
	if e.Status == http.StatusUnauthorized {
		switch answered.Source {
		case SourceGitHubToken:
			return "ghcr.io refused github-token: pass a token that is valid for ghcr.io (the job's token, or a personal access token with read:packages, and write:packages to push)"
		case SourceDockerConfig:
			return "the credentials are wrong or expired: log in again (docker login " + reg + ")"
		}
		return "the registry refused the token " + answered.Source + " gave: check that the identity it comes from has access to " + reg
	}
	switch {
	case isGHCR(reg):
		return "the token may not " + verb + " this package: give the job permissions: packages: write to push (packages: read to pull), and for a package another repository made, give this repository access in the package's settings"
	case IsECR(reg):
		return "the AWS identity may not " + verb + " this repository: it needs ecr:GetAuthorizationToken, ecr:BatchGetImage and ecr:GetDownloadUrlForLayer to pull, and ecr:BatchCheckLayerAvailability, ecr:InitiateLayerUpload, ecr:UploadLayerPart, ecr:CompleteLayerUpload and ecr:PutImage to push"
	case IsGoogle(reg):
		return "the Google principal may not " + verb + " this repository: grant roles/artifactregistry.reader to pull, roles/artifactregistry.writer to push"
	case IsACR(reg):
		return "the Azure identity may not " + verb + " this registry: assign it AcrPull to pull, AcrPush to push"
	}
	return "the user may not " + verb + " this repository: ask the registry's owner for access"
}

// Explain returns err with the registry, the credential sources tried and
// what to set when a registry refused it with 401 or 403 (an *AuthError);
// any other error as it is. The steps call it on every error that may come
// from a registry.
func (o Options) Explain(err error) error {
	var te *transport.Error
	if err == nil || !errors.As(err, &te) || (te.StatusCode != http.StatusUnauthorized && te.StatusCode != http.StatusForbidden) {
		return err
	}
	var ae *AuthError
	if errors.As(err, &ae) {
		return err
	}
	host, push := "", false
	if te.Request != nil {
		host = te.Request.URL.Host
		push = isWrite(te.Request)
	}
	reg := o.Log.registryFor(host)
	return &AuthError{Registry: reg, Status: te.StatusCode, Push: push, Tried: o.Log.Attempts(reg), Err: err}
}

// isWrite tells a write from a read: by its method, or for a token request
// by the scope it asks for (repository:x:push,pull).
func isWrite(req *http.Request) bool {
	switch req.Method {
	case http.MethodPut, http.MethodPatch, http.MethodDelete:
		return true
	case http.MethodPost:
		if !strings.Contains(req.URL.Path, "/token") {
			return true
		}
	}
	for _, s := range req.URL.Query()["scope"] {
		if strings.Contains(s, "push") {
			return true
		}
	}
	return false
}

// realmTransport notes which token service a registry sends clients to, so
// that a token service's refusal is reported as its registry's.
type realmTransport struct {
	base http.RoundTripper
	log  *AuthLog
}

func (t *realmTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil || t.log == nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	for _, c := range resp.Header.Values("WWW-Authenticate") {
		_, params, ok := strings.Cut(c, " ")
		if !ok {
			continue
		}
		for _, p := range strings.Split(params, ",") {
			k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
			if strings.EqualFold(k, "realm") {
				if u, err := url.Parse(strings.Trim(v, `"`)); err == nil && u.Host != "" {
					t.log.addRealm(u.Host, req.URL.Host)
				}
			}
		}
	}
	return resp, err
}
