package meta

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestResolve(t *testing.T) {
	t.Parallel()
	r, from := Resolve(
		Source{"input", Release{Version: "v2"}},
		Source{"Deployment/ns/api", Recorded(map[string]string{AnnotationVersion: "v1", AnnotationImage: "r/x@sha256:ab", AnnotationGitSHA: "c0ffee"})},
		Source{"CI", Release{Version: "v0", GitSHA: "beef", ConfigRevision: "sha256:cf"}},
	)
	if diff := cmp.Diff(Release{Version: "v2", GitSHA: "c0ffee", Image: "r/x@sha256:ab", ConfigRevision: "sha256:cf"}, r); diff != "" {
		t.Errorf("release (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{FieldVersion: "input", FieldGitSHA: "Deployment/ns/api", FieldImage: "Deployment/ns/api", FieldConfigRevision: "CI"}, from); diff != "" {
		t.Errorf("sources (-want +got):\n%s", diff)
	}
	if r.Digest() != "sha256:ab" {
		t.Errorf("digest %q", r.Digest())
	}
}
