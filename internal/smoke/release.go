package smoke

import (
	"strings"
)

// Release is what was deployed: the values the live service must report and
// that expectations refer to as ${version}, ${gitSha}, ${digest} and
// ${configRevision}.
type Release struct {
	// Version is the release (the Git tag): v1.4.2.
	Version string `json:"version,omitempty"`
	// GitSHA is the commit the image was built from.
	GitSHA string `json:"gitSha,omitempty"`
	// Image is the image pinned by digest: repo@sha256:….
	Image string `json:"image,omitempty"`
	// ConfigRevision is the revision hash of the static configuration.
	ConfigRevision string `json:"configRevision,omitempty"`
}

// Digest is the sha256:… part of Image, or empty.
func (r Release) Digest() string {
	if _, d, ok := strings.Cut(r.Image, "@"); ok {
		return d
	}
	return ""
}

// Or fills r's empty fields from o.
func (r Release) Or(o Release) Release {
	pick := func(a, b string) string {
		if a != "" {
			return a
		}
		return b
	}
	return Release{
		Version:        pick(r.Version, o.Version),
		GitSHA:         pick(r.GitSHA, o.GitSHA),
		Image:          pick(r.Image, o.Image),
		ConfigRevision: pick(r.ConfigRevision, o.ConfigRevision),
	}
}

// Variables names the release variables expectations may use.
var Variables = []string{"version", "gitSha", "digest", "configRevision"}

// variable returns the release variable called name; ok is false when
// there is no such variable.
func (r Release) variable(name string) (value string, ok bool) {
	switch name {
	case "version":
		return r.Version, true
	case "gitSha":
		return r.GitSHA, true
	case "digest":
		return r.Digest(), true
	case "configRevision":
		return r.ConfigRevision, true
	}
	return "", false
}
