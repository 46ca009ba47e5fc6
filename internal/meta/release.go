package meta

import "strings"

// Release is which release something is: what kustomize-render records on
// the objects, apply-env in its history, and what smoke-test expects the
// live service to report.
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

// Recorded reads the release recorded in an object's annotations.
func Recorded(annotations map[string]string) Release {
	return Release{
		Version:        annotations[AnnotationVersion],
		GitSHA:         annotations[AnnotationGitSHA],
		Image:          annotations[AnnotationImage],
		ConfigRevision: annotations[AnnotationConfigRevision],
	}
}

// Source is one place the fields of a release may come from.
type Source struct {
	// Name says where, for the log: "input release", "Deployment/ns/api",
	// "the Git tag being built".
	Name    string
	Release Release
}

// Field names, as Resolve's provenance names them.
const (
	FieldVersion        = "version"
	FieldGitSHA         = "git sha"
	FieldImage          = "image"
	FieldConfigRevision = "config revision"
)

// Resolve answers "which release is this" the one way every step does:
// each field from the first source that has it — what the user gave, then
// what was recorded, then the CI context. It returns the release and, by
// field, the name of the source each value came from.
func Resolve(sources ...Source) (Release, map[string]string) {
	var r Release
	from := map[string]string{}
	for _, s := range sources {
		for _, f := range []struct {
			name      string
			have, set *string
		}{
			{FieldVersion, &s.Release.Version, &r.Version},
			{FieldGitSHA, &s.Release.GitSHA, &r.GitSHA},
			{FieldImage, &s.Release.Image, &r.Image},
			{FieldConfigRevision, &s.Release.ConfigRevision, &r.ConfigRevision},
		} {
			if *f.set == "" && *f.have != "" {
				*f.set, from[f.name] = *f.have, s.Name
			}
		}
	}
	return r, from
}
