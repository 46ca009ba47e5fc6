package registry

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/driftless-dev/driftless/internal/registry/registrytest"
)

// TestRefusalsSayWhatToSet: a 401 or 403 names the registry, the
// credential sources tried (and which answered) and what to set, and
// never the secret that was sent.
func TestRefusalsSayWhatToSet(t *testing.T) {
	users := map[string]string{"bob": "s3cret", "reader": "r3ad"}
	basic := registrytest.NewWithAuth(t, registrytest.Auth{Users: users, ReadOnly: []string{"reader"}})
	cert, pool, _ := certs(t, "ghcr.io")
	ghcrAddr := hosts(t, cert, map[string]http.Handler{"ghcr.io": registrytest.Auth{Users: map[string]string{"octocat": "ghs_rightjobtoken"}, Bearer: true}.Handler()})
	// Something to pull for the pull cases.
	img, _ := random.Image(64, 1)
	ref, _ := name.ParseReference(basic + "/team/app:v1")
	if err := remote.Write(ref, img, remote.WithAuth(&authn.Basic{Username: "bob", Password: "s3cret"})); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name    string
		config  string
		ref     string
		pull    bool
		opts    Options
		status  int
		want    []string
		secrets []string
	}{
		{
			name:   "anonymous push",
			ref:    basic + "/team/app:v2",
			status: 401,
			want: []string{
				"registry " + basic + " answered 401 Unauthorized",
				"no credential source had any, so the request went anonymous; tried: Docker config (no CONFIG): nothing for this registry",
				"— log in first: docker login " + basic,
			},
		},
		{
			name:   "anonymous pull",
			ref:    basic + "/team/app:v1",
			pull:   true,
			status: 401,
			want:   []string{"registry " + basic + " answered 401 Unauthorized", "docker login " + basic},
		},
		{
			name:    "wrong Docker config credentials",
			config:  `{"auths":{"` + basic + `":{"auth":"` + basicAuth("bob", "wr0ng-pass") + `"}}}`,
			ref:     basic + "/team/app:v2",
			status:  401,
			want:    []string{"registry " + basic + " answered 401 Unauthorized; credentials from Docker config (CONFIG, entry for " + basic + ") — the credentials are wrong or expired: log in again (docker login " + basic + ")"},
			secrets: []string{"wr0ng-pass", basicAuth("bob", "wr0ng-pass")},
		},
		{
			name:    "read-only credentials push",
			config:  `{"auths":{"` + basic + `":{"auth":"` + basicAuth("reader", "r3ad") + `"}}}`,
			ref:     basic + "/team/app:v2",
			status:  403,
			want:    []string{"registry " + basic + " answered 403 Forbidden; credentials from Docker config (CONFIG, entry for " + basic + ") — the user may not push to this repository"},
			secrets: []string{"r3ad"},
		},
		{
			// ghcr.io's token service refuses, not ghcr.io itself: the
			// error still names the registry.
			name:    "wrong GitHub token",
			ref:     "ghcr.io/acme/app:v1",
			opts:    Options{GitHubToken: "ghs_wrongjobtoken", GitHubActor: "octocat", Transport: mapped(ghcrAddr, pool)},
			status:  401,
			want:    []string{"GET https://ghcr.io/token?", "registry ghcr.io answered 401 Unauthorized; credentials from GitHub token (github-token input or GITHUB_TOKEN) — ghcr.io refused github-token"},
			secrets: []string{"ghs_wrongjobtoken"},
		},
		{
			name:   "no GitHub token",
			ref:    "ghcr.io/acme/app:v1",
			opts:   Options{Transport: mapped(ghcrAddr, pool)},
			status: 401,
			want: []string{
				"tried: Docker config (no CONFIG): nothing for this registry; GitHub token (github-token input or GITHUB_TOKEN: unset): nothing for this registry",
				"— set github-token",
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			config := dockerConfig(t, tc.config)
			o := tc.opts
			o.Log = NewAuthLog()
			var err error
			if tc.pull {
				r, _ := name.ParseReference(tc.ref)
				_, err = remote.Get(r, o.Remote(t.Context())...)
				err = o.Explain(err)
			} else if p := push(t.Context(), tc.ref, o); p.Err != "" {
				err = errors.New(p.Err)
				// push explains with its own log; do it again on the
				// real error to check its type.
				r, _ := name.ParseReference(tc.ref)
				img, _ := random.Image(64, 1)
				err = o.Explain(remote.Write(r, img, o.Remote(t.Context())...))
			}
			var ae *AuthError
			if !errors.As(err, &ae) {
				t.Fatalf("got %v, want an *AuthError", err)
			}
			if ae.Status != tc.status {
				t.Errorf("status %d, want %d", ae.Status, tc.status)
			}
			msg := err.Error()
			for _, w := range tc.want {
				w = strings.ReplaceAll(w, "CONFIG", config)
				if !strings.Contains(msg, w) {
					t.Errorf("error %q\ndoes not say %q", msg, w)
				}
			}
			for _, s := range tc.secrets {
				if strings.Contains(msg, s) {
					t.Errorf("error %q shows the secret %q", msg, s)
				}
			}
		})
	}
}

func TestExplainLeavesOtherErrors(t *testing.T) {
	t.Parallel()
	host := registrytest.New(t)
	o := Options{Log: NewAuthLog()}
	r, _ := name.ParseReference(host + "/team/missing:v1")
	_, err := remote.Get(r, o.Remote(t.Context())...)
	if err == nil {
		t.Fatal("got no error for a missing image")
	}
	if got := o.Explain(err); got != err {
		t.Errorf("Explain(%v) = %v, want it unchanged", err, got)
	}
	if o.Explain(nil) != nil {
		t.Error("Explain(nil) is not nil")
	}
}
