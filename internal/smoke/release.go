package smoke

import (
	"github.com/driftless-dev/driftless/internal/meta"
)

// Variables names the release variables expectations may use.
var Variables = []string{"version", "gitSha", "digest", "configRevision"}

// variable returns the release variable called name; ok is false when
// there is no such variable.
func variable(r meta.Release, name string) (value string, ok bool) {
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
