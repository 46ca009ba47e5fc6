// Package releasetest fakes the part of the GitHub REST API release tags
// need (Git references and tag objects) with an httptest server that answers
// with the shapes GitHub documents and records every request, in the style
// of go-github's own tests.
package releasetest
