package release

import (
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"golang.org/x/mod/semver"

	"github.com/driftless-dev/driftless/internal/spec"
)

// VersionLabel is the OCI label (on an image's config) and annotation (on an
// index) that names the release an image was built for; bake-image writes it.
const VersionLabel = "org.opencontainers.image.version"

// Floating tag kinds, as versioning.floating names them.
const (
	FloatMinor  = "minor"
	FloatMajor  = "major"
	FloatLatest = "latest"
)

// Policy is which Git tags are releases and which image tags follow them.
type Policy struct {
	// Prefix comes before MAJOR.MINOR.PATCH in a release tag: "v".
	Prefix string
	// Prerelease accepts tags such as v1.2.3-rc.1 as releases.
	Prerelease bool
	// Floating are the extra image tags kept at the newest release:
	// minor, major, latest.
	Floating []string
}

// PolicyFrom reads the policy from the pipeline spec (already defaulted).
func PolicyFrom(v spec.Versioning) Policy {
	return Policy{Prefix: v.Prefix, Prerelease: v.Prerelease != "deny", Floating: v.Floating}
}

// Version is a release version, named by its Git tag.
type Version struct {
	// Tag is the Git tag: v1.2.3, v1.2.3-rc.1, v1.2.3+build.5.
	Tag string
	// prefix is what comes before MAJOR in Tag.
	prefix string
	// sv is Tag in golang.org/x/mod/semver's form ("v" + the version).
	sv string
}

// ParseVersion checks tag against the policy. A tag that is not a release
// is a *Refusal that says what would be one.
func ParseVersion(tag string, p Policy) (Version, error) {
	shape := p.Prefix + "1.2.3"
	if p.Prerelease {
		shape += " or " + p.Prefix + "1.2.3-rc.1"
	}
	if strings.EqualFold(tag, "latest") {
		return Version{}, refusef("refusing %q as a release: a release names one build forever, latest whatever came last; tag the commit with a version such as %s", tag, shape)
	}
	rest, ok := strings.CutPrefix(tag, p.Prefix)
	if !ok {
		return Version{}, refusef("git tag %q is not a release: release tags start with the prefix %q (versioning.prefix), as in %s; tag the commit with one or pass --release", tag, p.Prefix, shape)
	}
	v := Version{Tag: tag, prefix: p.Prefix, sv: "v" + rest}
	if !v.valid() {
		return Version{}, refusef("git tag %q is not a release: versioning.gitTag is semver, so a release is %sMAJOR.MINOR.PATCH with an optional -PRERELEASE and +BUILD (%s); tag the commit with one or pass --release", tag, p.Prefix, shape)
	}
	if v.Prerelease() && !p.Prerelease {
		return Version{}, refusef("git tag %q is a pre-release and versioning.prerelease is deny: only %s-style tags are releases here; tag %s%s when it is ready, or set versioning.prerelease: allow", tag, shape, p.Prefix, strings.TrimPrefix(strings.TrimSuffix(semver.Canonical(v.sv), semver.Prerelease(v.sv)), "v"))
	}
	if _, err := name.NewTag("example.com/check:" + v.ImageTag()); err != nil {
		return Version{}, refusef("version %q cannot be an image tag (%s): image tags are at most 128 letters, digits, '_', '.' and '-'; choose a shorter version", tag, v.ImageTag())
	}
	return v, nil
}

// valid reports whether sv is a complete semantic version: semver.IsValid
// also accepts the shorthands v1 and v1.2, which are not releases.
func (v Version) valid() bool {
	if !semver.IsValid(v.sv) {
		return false
	}
	return semver.Canonical(v.sv) == strings.TrimSuffix(v.sv, semver.Build(v.sv))
}

// String returns the Git tag.
func (v Version) String() string { return v.Tag }

// Prerelease reports whether v is a pre-release (v1.2.3-rc.1).
func (v Version) Prerelease() bool { return semver.Prerelease(v.sv) != "" }

// ImageTag is the image tag naming v: the Git tag, except that build
// metadata's '+', which image tags cannot hold, becomes '_'
// (v1.2.3+build.5 → v1.2.3_build.5).
func (v Version) ImageTag() string { return strings.Replace(v.Tag, "+", "_", 1) }

// Compare orders versions by semantic version precedence: -1, 0 or +1.
// Build metadata does not count (v1.2.3+a equals v1.2.3+b).
func (v Version) Compare(w Version) int { return semver.Compare(v.sv, w.sv) }

// Floating is an extra image tag that follows the newest release.
type Floating struct {
	// Kind is minor, major or latest.
	Kind string
	// Tag is the image tag: v1.4, v1, latest.
	Tag string
}

// FloatingTags returns the floating tags of v for the given kinds, in that
// order. Pre-releases have none: a floating tag never points at one.
func (v Version) FloatingTags(kinds []string) ([]Floating, error) {
	if v.Prerelease() {
		return nil, nil
	}
	var out []Floating
	seen := map[string]bool{}
	for _, k := range kinds {
		var t string
		switch k {
		case FloatMinor:
			t = v.prefix + strings.TrimPrefix(semver.MajorMinor(v.sv), "v")
		case FloatMajor:
			t = v.prefix + strings.TrimPrefix(semver.Major(v.sv), "v")
		case FloatLatest:
			t = "latest"
		default:
			return nil, fmt.Errorf("unknown floating tag kind %q; valid kinds: %s, %s, %s", k, FloatMinor, FloatMajor, FloatLatest)
		}
		if !seen[t] {
			seen[t] = true
			out = append(out, Floating{Kind: k, Tag: t})
		}
	}
	return out, nil
}

// ParseLabel reads the version an image's VersionLabel names. It accepts the
// Git tag (v1.2.3+build.5), the image tag (v1.2.3_build.5) and the bare
// version (1.2.3); ok is false when the label is none of these.
func ParseLabel(label, prefix string) (Version, bool) {
	s := label
	if !strings.Contains(s, "+") {
		// '_' cannot occur in a semantic version: it stands for '+'.
		s = strings.Replace(s, "_", "+", 1)
	}
	if prefix != "" {
		s = strings.TrimPrefix(s, prefix)
	}
	if !strings.HasPrefix(s, "v") {
		s = "v" + s
	}
	v := Version{Tag: label, prefix: prefix, sv: s}
	return v, label != "" && v.valid()
}
