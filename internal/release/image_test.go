package release

import (
	"context"
	"errors"
	"flag"
	"fmt"
	mathrand "math/rand"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/driftless-dev/driftless/internal/registry"
	"github.com/driftless-dev/driftless/internal/registry/distribution"
	"github.com/driftless-dev/driftless/internal/registry/registrytest"
)

// labelled returns a random image whose config carries VersionLabel (none
// when version is empty).
func labelled(t *testing.T, version string) v1.Image {
	t.Helper()
	img, err := random.Image(512, 2)
	if err != nil {
		t.Fatal(err)
	}
	if version == "" {
		return img
	}
	img, err = mutate.Config(img, v1.Config{Labels: map[string]string{VersionLabel: version}})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// fixture is what an existing tag names, by a short name:
//
//	new                the image being tagged
//	v1.3.0             an image labelled v1.3.0
//	nolabel            an image without the label
//	index:v1.1.0       an index annotated v1.1.0
//	index-child:v1.5.0 an index without the annotation whose first image is labelled v1.5.0
type fixtures struct {
	t      *testing.T
	repo   string
	byName map[string]string // name → repo@digest
	config map[string]bool   // config digests of images other than new
}

func (f *fixtures) push(tag, fx string) {
	t := f.t
	t.Helper()
	ref := f.repo + ":" + tag
	if pinned, ok := f.byName[fx]; ok {
		d, err := name.NewDigest(pinned)
		if err != nil {
			t.Fatal(err)
		}
		desc, err := remote.Get(d)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Tag(d.Context().Tag(tag), desc); err != nil {
			t.Fatal(err)
		}
		return
	}
	kind, version, _ := strings.Cut(fx, ":")
	switch kind {
	case "index":
		idx := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: f.image("")})
		f.byName[fx] = registrytest.PushIndex(t, ref, mutate.Annotations(idx, map[string]string{VersionLabel: version}).(v1.ImageIndex))
	case "index-child":
		idx := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: f.image(version)}, mutate.IndexAddendum{Add: f.image("v0.0.1")})
		f.byName[fx] = registrytest.PushIndex(t, ref, idx)
	case "nolabel":
		f.byName[fx] = registrytest.Push(t, ref, f.image(""))
	default:
		f.byName[fx] = registrytest.Push(t, ref, f.image(fx))
	}
}

func (f *fixtures) image(version string) v1.Image {
	img := labelled(f.t, version)
	cn, err := img.ConfigName()
	if err != nil {
		f.t.Fatal(err)
	}
	f.config[cn.String()] = true
	return img
}

func (f *fixtures) digest(fx string) string {
	_, d, _ := strings.Cut(f.byName[fx], "@")
	return d
}

func TestPlanTags(t *testing.T) {
	t.Parallel()
	type tagIs struct{ Tag, Fixture string }
	type change struct{ Tag, Action, Fixture string }
	for _, tc := range []struct {
		name     string
		version  string
		floating []string
		existing []tagIs
		want     []change
		refused  string
		warning  string
		after    []tagIs // every tag afterwards (besides the existing ones, unchanged unless listed)
	}{
		{
			name: "first release", version: "v1.2.3", floating: []string{FloatMinor, FloatMajor},
			want: []change{{"v1.2.3", "created", "new"}, {"v1.2", "created", "new"}, {"v1", "created", "new"}},
		},
		{
			name: "rerun", version: "v1.2.3", floating: []string{FloatMinor, FloatMajor},
			existing: []tagIs{{"v1.2.3", "new"}, {"v1.2", "new"}, {"v1", "new"}},
			want:     []change{{"v1.2.3", "confirmed", "new"}, {"v1.2", "confirmed", "new"}, {"v1", "confirmed", "new"}},
		},
		{
			name: "version tag names another digest", version: "v1.2.3", floating: []string{FloatMinor, FloatMajor},
			existing: []tagIs{{"v1.2.2", "v1.2.2"}, {"v1.2.3", "v1.2.3"}, {"v1.2", "v1.2.2"}, {"v1", "v1.2.2"}},
			refused:  "image tag %s:v1.2.3 already names %s, not %s: version tags are immutable, so nothing was tagged (floating tags neither)",
		},
		{
			name: "pre-release", version: "v1.3.0-rc.1", floating: []string{FloatMinor, FloatMajor, FloatLatest},
			existing: []tagIs{{"v1.2", "v1.2.3"}, {"v1", "v1.2.3"}, {"latest", "v1.2.3"}},
			want:     []change{{"v1.3.0-rc.1", "created", "new"}},
		},
		{
			name: "older release after a newer one", version: "v1.2.4", floating: []string{FloatMinor, FloatMajor},
			existing: []tagIs{{"v1.2.3", "v1.2.3"}, {"v1.3.0", "v1.3.0"}, {"v1.2", "v1.2.3"}, {"v1.3", "v1.3.0"}, {"v1", "v1.3.0"}},
			want:     []change{{"v1.2.4", "created", "new"}, {"v1.2", "moved from v1.2.3", "new"}, {"v1", "kept at v1.3.0", "v1.3.0"}},
		},
		{
			name: "floating tag without a version label", version: "v1.2.4", floating: []string{FloatMinor, FloatMajor},
			existing: []tagIs{{"v1", "nolabel"}},
			want:     []change{{"v1.2.4", "created", "new"}, {"v1.2", "created", "new"}, {"v1", "kept (no org.opencontainers.image.version label)", "nolabel"}},
			warning:  "image tag %s:v1 was not moved to v1.2.4: the image it names (%s) has no org.opencontainers.image.version label",
		},
		{
			name: "build metadata", version: "v1.2.3+build.5", floating: []string{FloatMinor},
			existing: []tagIs{{"v1.2", "v1.2.2"}},
			want:     []change{{"v1.2.3_build.5", "created", "new"}, {"v1.2", "moved from v1.2.2", "new"}},
		},
		{
			name: "same version, other build", version: "v1.2.3+build.6", floating: []string{FloatMinor},
			existing: []tagIs{{"v1.2.3_build.5", "v1.2.3+build.5"}, {"v1.2", "v1.2.3+build.5"}},
			want:     []change{{"v1.2.3_build.6", "created", "new"}, {"v1.2", "kept at v1.2.3+build.5", "v1.2.3+build.5"}},
		},
		{
			name: "latest only moves forward", version: "v1.9.0", floating: []string{FloatLatest},
			existing: []tagIs{{"latest", "v2.0.0"}},
			want:     []change{{"v1.9.0", "created", "new"}, {"latest", "kept at v2.0.0", "v2.0.0"}},
		},
		{
			name: "floating tags on indexes", version: "v1.2.0", floating: []string{FloatMinor, FloatMajor},
			existing: []tagIs{{"v1.2", "index:v1.1.0"}, {"v1", "index-child:v1.5.0"}},
			want:     []change{{"v1.2.0", "created", "new"}, {"v1.2", "moved from v1.1.0", "new"}, {"v1", "kept at v1.5.0", "index-child:v1.5.0"}},
		},
		{
			name: "label in the image tag's form", version: "v1.2.4", floating: []string{FloatMinor},
			existing: []tagIs{{"v1.2", "v1.2.3_build.1"}},
			want:     []change{{"v1.2.4", "created", "new"}, {"v1.2", "moved from v1.2.3_build.1", "new"}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			host, rec := registrytest.Record(t)
			f := &fixtures{t: t, repo: host + "/pssp/api", byName: map[string]string{}, config: map[string]bool{}}
			newImg := labelled(t, tc.version)
			f.byName["new"] = registrytest.Push(t, f.repo, newImg)
			for _, e := range tc.existing {
				f.push(e.Tag, e.Fixture)
			}
			before := tagState(t, f.repo)
			rec.Reset()

			v, err := ParseVersion(tc.version, Policy{Prefix: "v", Prerelease: true})
			if err != nil {
				t.Fatal(err)
			}
			image, err := name.NewDigest(f.byName["new"])
			if err != nil {
				t.Fatal(err)
			}
			// Default options: the plain-HTTP guard lets 127.0.0.1 through.
			opts := registry.Options{}.Remote(context.Background())
			plan, err := PlanTags(image, v, tc.floating, opts)
			if tc.refused != "" {
				want := fmt.Sprintf(tc.refused, f.repo, f.digest("v1.2.3"), f.digest("new"))
				var r *Refusal
				if !errors.As(err, &r) || !strings.Contains(err.Error(), want) {
					t.Fatalf("got %v\nwant a refusal containing %q", err, want)
				}
				if diff := cmp.Diff(before, tagState(t, f.repo)); diff != "" {
					t.Errorf("a refused sync changed tags (-before +after)\n%s", diff)
				}
				checkRequests(t, rec, f, nil)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := plan.Apply(opts); err != nil {
				t.Fatal(err)
			}
			var got, want []change
			var warnings []string
			var wrote []string
			for _, c := range plan.Changes {
				got = append(got, change{c.Tag.TagStr(), c.Describe(), c.Digest.String()})
				if c.Warning != "" {
					warnings = append(warnings, c.Warning)
				}
				if c.Action == Created || c.Action == Moved {
					wrote = append(wrote, c.Tag.TagStr())
				}
			}
			for _, c := range tc.want {
				want = append(want, change{c.Tag, c.Action, f.digest(c.Fixture)})
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("changes (-want +got)\n%s", diff)
			}
			var wantWarnings []string
			if tc.warning != "" {
				wantWarnings = []string{fmt.Sprintf(tc.warning, f.repo, f.digest("nolabel"))}
			}
			if len(warnings) != len(wantWarnings) || (len(warnings) == 1 && !strings.HasPrefix(warnings[0], wantWarnings[0])) {
				t.Errorf("warnings %q, want %q", warnings, wantWarnings)
			}

			// The registry agrees with the plan, and nothing else changed.
			wantState := before
			for _, c := range tc.want {
				wantState[c.Tag] = f.digest(c.Fixture)
			}
			if diff := cmp.Diff(wantState, tagState(t, f.repo)); diff != "" {
				t.Errorf("tags (-want +got)\n%s", diff)
			}
			checkRequests(t, rec, f, wrote)
		})
	}
}

// checkRequests proves that tagging transferred no blob: no layer and no
// config was read or written, except the configs of images other than the
// one tagged (where a floating tag points now, to read its release), and the
// only writes are manifest PUTs of the tags written.
func checkRequests(t *testing.T, rec *registrytest.Recorder, f *fixtures, wrote []string) {
	t.Helper()
	var puts []string
	for _, r := range rec.Requests() {
		switch {
		case r.IsBlob():
			d := r.Path[strings.LastIndex(r.Path, "/")+1:]
			if r.Method != http.MethodGet || !f.config[d] {
				t.Errorf("blob request %s: tagging transfers no blob", r)
			}
		case r.Method == http.MethodGet || r.Method == http.MethodHead:
		case r.Method == http.MethodPut && strings.Contains(r.Path, "/manifests/"):
			puts = append(puts, r.Path[strings.LastIndex(r.Path, "/")+1:])
		default:
			t.Errorf("unexpected request %s", r)
		}
	}
	if !slices.Equal(puts, wrote) {
		t.Errorf("manifest PUTs %q, want %q", puts, wrote)
	}
}

// tagState returns every tag of the repository and the digest it names.
func tagState(t *testing.T, repo string) map[string]string {
	t.Helper()
	r, err := name.NewRepository(repo)
	if err != nil {
		t.Fatal(err)
	}
	tags, err := remote.List(r)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, tag := range tags {
		d, err := remote.Head(r.Tag(tag))
		if err != nil {
			t.Fatal(err)
		}
		out[tag] = d.Digest.String()
	}
	return out
}

func TestPlanTagsMissingImage(t *testing.T) {
	t.Parallel()
	host := registrytest.New(t)
	image, err := name.NewDigest(host + "/pssp/api@sha256:" + strings.Repeat("0", 64))
	if err != nil {
		t.Fatal(err)
	}
	v, _ := ParseVersion("v1.2.3", Policy{Prefix: "v"})
	_, err = PlanTags(image, v, nil, registry.Options{}.Remote(context.Background()))
	var r *Refusal
	if err == nil || errors.As(err, &r) || !strings.Contains(err.Error(), "does not exist: tag-sync tags an image already pushed by digest") {
		t.Errorf("got %v, want a could-not-run error saying the image does not exist", err)
	}
}

func TestPlanTagsUnreachable(t *testing.T) {
	t.Parallel()
	host := registrytest.New(t)
	image, err := name.NewDigest(host + "/pssp/api@sha256:" + strings.Repeat("0", 64))
	if err != nil {
		t.Fatal(err)
	}
	// Nothing listens on port 1 of the loopback address.
	image, err = name.NewDigest("127.0.0.1:1/pssp/api@" + image.DigestStr())
	if err != nil {
		t.Fatal(err)
	}
	v, _ := ParseVersion("v1.2.3", Policy{Prefix: "v"})
	opts := registry.Options{Backoff: remote.Backoff{Steps: 1}}.Remote(context.Background())
	_, err = PlanTags(image, v, nil, opts)
	var r *Refusal
	if err == nil || errors.As(err, &r) || !strings.Contains(err.Error(), "reading image 127.0.0.1:1/pssp/api@sha256:") {
		t.Errorf("got %v, want a could-not-run error", err)
	}
}

// A multi-platform image (an index) is tagged like an image: its index
// manifest is written under the tag, and nothing else is transferred.
func TestPlanTagsIndex(t *testing.T) {
	t.Parallel()
	host, rec := registrytest.Record(t)
	repo := host + "/pssp/api"
	idx, err := random.Index(256, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	pinned := registrytest.PushIndex(t, repo, idx)
	rec.Reset()
	image, err := name.NewDigest(pinned)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := ParseVersion("v2.0.0", Policy{Prefix: "v"})
	opts := registry.Options{}.Remote(context.Background())
	plan, err := PlanTags(image, v, []string{FloatMajor}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := plan.Apply(opts); err != nil {
		t.Fatal(err)
	}
	f := &fixtures{t: t, byName: map[string]string{"new": pinned}, config: map[string]bool{}}
	checkRequests(t, rec, f, []string{"v2.0.0", "v2"})
	want := map[string]string{"v2.0.0": f.digest("new"), "v2": f.digest("new")}
	if diff := cmp.Diff(want, tagState(t, repo)); diff != "" {
		t.Errorf("tags (-want +got)\n%s", diff)
	}
	if diff := cmp.Diff([]string{"v2.0.0", "v2"}, plan.Tags()); diff != "" {
		t.Errorf("Tags (-want +got)\n%s", diff)
	}
}

// faultRegistries are the two real registries the fault tests run against.
var faultRegistries = []struct {
	name  string
	start func(*testing.T) string
}{
	{"in-process", func(t *testing.T) string { return registrytest.New(t) }},
	{"distribution", func(t *testing.T) string {
		t.Helper()
		if _, err := exec.LookPath(distribution.Binary); err != nil && os.Getenv("CI") == "" {
			t.Skip("docker-registry is not installed; scripts/deps installs it")
		}
		s, err := distribution.Start(t.Context(), t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Stop)
		return s.Host
	}},
}

var realWaits = flag.Bool("real-waits", false, "fault tests wait as long between retries as the steps do")

// TestTagFlakyRegistry tags five releases in a row, with floating tags,
// through a registry proxy that answers 15% of requests with 429 or 503
// and cuts the first write of three tags mid-body in each run: every run
// must succeed, and every tag names a complete image. The same five runs
// through a proxy without faults are the clean run the time is compared
// with.
func TestTagFlakyRegistry(t *testing.T) {
	t.Parallel()
	for _, reg := range faultRegistries {
		t.Run(reg.name, func(t *testing.T) {
			t.Parallel()
			clean := tagReleases(t, reg.start(t), func(int) registrytest.Faults { return registrytest.Faults{} })
			statuses := 0
			flaky := tagReleases(t, reg.start(t), func(run int) registrytest.Faults {
				return registrytest.Faults{Seed: uint64(run), Rate: 0.15, Cuts: 3}
			}, func(run int, faults *registrytest.FaultLog) {
				if n := faults.Count("cut"); n != 3 {
					t.Errorf("run %d: %d tag writes cut, want 3", run, n)
				}
				statuses += faults.Count("429") + faults.Count("503")
			})
			if statuses == 0 {
				t.Error("no 429 or 503 injected in five runs")
			}
			t.Logf("five runs: %v clean, %v with 15 cuts and %d 429/503 answers (%.1fx)",
				clean.Round(time.Millisecond), flaky.Round(time.Millisecond), statuses, float64(flaky)/float64(clean))
		})
	}
}

// tagReleases pushes releases v1.1.0 to v1.5.0 to upstream and tags each,
// with its minor and major tags, through a proxy with the run's faults; it
// returns the time planning and tagging took. Every run must succeed and
// leave every tag naming a complete image.
func tagReleases(t *testing.T, upstream string, faults func(run int) registrytest.Faults, check ...func(int, *registrytest.FaultLog)) time.Duration {
	t.Helper()
	b := registry.DefaultBackoff
	if !*realWaits {
		b.Duration /= 50
	}
	repo, _ := name.NewRepository(upstream + "/pssp/api")
	want := map[string]string{}
	var took time.Duration
	for run := 1; run <= 5; run++ {
		version := fmt.Sprintf("v1.%d.0", run)
		// Images of fixed bytes: the fault schedule depends on digests.
		img, err := random.Image(512, 2, random.WithSource(mathrand.NewSource(int64(run))))
		if err != nil {
			t.Fatal(err)
		}
		img, err = mutate.Config(img, v1.Config{Labels: map[string]string{VersionLabel: version}})
		if err != nil {
			t.Fatal(err)
		}
		pinned := registrytest.Push(t, repo.String(), img)
		_, digest, _ := strings.Cut(pinned, "@")
		host, log := registrytest.Proxy(t, upstream, faults(run))
		image, err := name.NewDigest(host + "/pssp/api@" + digest)
		if err != nil {
			t.Fatal(err)
		}
		v, _ := ParseVersion(version, Policy{Prefix: "v"})
		opts := registry.Options{Backoff: b}.Remote(t.Context())
		start := time.Now()
		plan, err := PlanTags(image, v, []string{FloatMinor, FloatMajor}, opts)
		if err == nil {
			err = plan.Apply(opts)
		}
		took += time.Since(start)
		if err != nil {
			t.Fatalf("run %d: %v\nfaults: %v", run, err, log.Faults())
		}
		for _, c := range check {
			c(run, log)
		}
		want[version], want[fmt.Sprintf("v1.%d", run)], want["v1"] = digest, digest, digest
		got := tagState(t, repo.String())
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("run %d: tags (-want +got)\n%s", run, diff)
		}
		// Every tag names a complete image.
		for tag := range got {
			img, err := remote.Image(repo.Tag(tag))
			if err == nil {
				err = validate.Image(img)
			}
			if err != nil {
				t.Errorf("run %d: tag %s: %v", run, tag, err)
			}
		}
	}
	return took
}
