// Package tagsync is the tag-sync step: it makes the Git tag and the image tag agree: it derives the
// release version from the tag being built, refuses anything that is not a
// release of this commit, tags the built digest with it (and moves floating
// tags forward) without pulling or pushing a blob, and never moves a version
// tag. See docs/steps/tag-sync.md.
package tagsync
