// Package release decides what a release is called and makes the names
// agree: the Git tag (v1.2.3) is checked against the pipeline's versioning
// rules and against the commit being built, created when the release flow
// asks for it (through the GitHub API or git itself), and becomes the image
// tag of the built digest, with floating tags (v1.2, v1, latest) that only
// ever move forward.
//
// Version tags are immutable: a tag that already names another digest or
// another commit is a Refusal, found before anything is written. Tagging an
// image writes its manifest under the new tag and transfers no blobs.
package release
