// Package meta names the labels and annotations driftless writes on the
// objects it renders and applies, declared once for every step that writes
// or reads them: kustomize-render records a release on the objects,
// apply-env on its release history, smoke-test reads them back.
package meta

// Keys driftless writes on rendered objects (and, for the workloads that
// run the pipeline's image, on their pod templates).
const (
	// LabelVersion is the release version, spelled as a label value.
	LabelVersion = "app.kubernetes.io/version"
	// AnnotationVersion is the release version as given (v1.4.2+build.7).
	AnnotationVersion = "driftless.dev/version"
	// AnnotationGitSHA is the commit the release was built from.
	AnnotationGitSHA = "driftless.dev/git-sha"
	// AnnotationConfigRevision is the hash of the static configuration
	// baked into the image, as the service reports it.
	AnnotationConfigRevision = "driftless.dev/config-revision"
	// AnnotationImage is the pipeline's image pinned by digest.
	AnnotationImage = "driftless.dev/image"
)
