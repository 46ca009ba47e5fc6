package registrytest

import (
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func TestPushAndRecord(t *testing.T) {
	t.Parallel()
	host, rec := Record(t)
	if !strings.HasPrefix(host, "127.0.0.1:") {
		t.Errorf("host %q is not on 127.0.0.1", host)
	}
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := random.Index(256, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	pinned := Push(t, host+"/a/b", img)
	d, _ := img.Digest()
	if pinned != host+"/a/b@"+d.String() {
		t.Errorf("Push returned %q", pinned)
	}
	pinnedIdx := PushIndex(t, host+"/a/b:v1", idx)
	di, _ := idx.Digest()
	if pinnedIdx != host+"/a/b@"+di.String() {
		t.Errorf("PushIndex returned %q", pinnedIdx)
	}
	repo, _ := name.NewRepository(host + "/a/b")
	tags, err := remote.List(repo)
	if err != nil {
		t.Fatal(err)
	}
	// A push to a repository is by digest: no latest.
	if strings.Join(tags, ",") != "v1" {
		t.Errorf("tags %q, want only v1", tags)
	}
	var blobs int
	for _, r := range rec.Requests() {
		if r.IsBlob() {
			blobs++
		}
	}
	if blobs == 0 {
		t.Error("no blob requests recorded")
	}
	rec.Reset()
	if n := len(rec.Requests()); n != 0 {
		t.Errorf("%d requests after Reset", n)
	}
}
