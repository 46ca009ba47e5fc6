package release

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseVersion(t *testing.T) {
	t.Parallel()
	std := Policy{Prefix: "v", Prerelease: true, Floating: []string{FloatMinor, FloatMajor}}
	for _, tc := range []struct {
		tag      string
		policy   Policy
		imageTag string
		pre      bool
		floating []Floating
		refused  string // substring of the refusal
	}{
		{tag: "v1.2.3", policy: std, imageTag: "v1.2.3", floating: []Floating{{FloatMinor, "v1.2"}, {FloatMajor, "v1"}}},
		{tag: "v0.1.0", policy: std, imageTag: "v0.1.0", floating: []Floating{{FloatMinor, "v0.1"}, {FloatMajor, "v0"}}},
		{tag: "v1.3.0-rc.1", policy: std, imageTag: "v1.3.0-rc.1", pre: true},
		{tag: "v1.2.3+build.5", policy: std, imageTag: "v1.2.3_build.5", floating: []Floating{{FloatMinor, "v1.2"}, {FloatMajor, "v1"}}},
		{tag: "v1.3.0-rc.1+exp.sha.5114f85", policy: std, imageTag: "v1.3.0-rc.1_exp.sha.5114f85", pre: true},
		{tag: "v2.0.0", policy: Policy{Prefix: "v", Floating: []string{FloatMajor, FloatLatest, FloatMajor}}, imageTag: "v2.0.0", floating: []Floating{{FloatMajor, "v2"}, {FloatLatest, "latest"}}},
		{tag: "release-1.4.2", policy: Policy{Prefix: "release-", Floating: []string{FloatMinor}}, imageTag: "release-1.4.2", floating: []Floating{{FloatMinor, "release-1.4"}}},
		{tag: "1.4.2", policy: Policy{Prefix: "", Floating: []string{FloatMinor, FloatMajor}}, imageTag: "1.4.2", floating: []Floating{{FloatMinor, "1.4"}, {FloatMajor, "1"}}},

		{tag: "latest", policy: std, refused: `refusing "latest" as a release`},
		{tag: "LATEST", policy: std, refused: `refusing "LATEST" as a release`},
		{tag: "v1.2", policy: std, refused: `git tag "v1.2" is not a release: versioning.gitTag is semver, so a release is vMAJOR.MINOR.PATCH with an optional -PRERELEASE and +BUILD (v1.2.3 or v1.2.3-rc.1)`},
		{tag: "v1", policy: std, refused: "is not a release"},
		{tag: "v01.2.3", policy: std, refused: "is not a release"},
		{tag: "v1.2.3.4", policy: std, refused: "is not a release"},
		{tag: "release-7", policy: std, refused: `git tag "release-7" is not a release: release tags start with the prefix "v" (versioning.prefix)`},
		{tag: "1.2.3", policy: std, refused: `start with the prefix "v"`},
		{tag: "v1.2.3", policy: Policy{Prefix: ""}, refused: "is not a release"},
		{tag: "v1.3.0-rc.1", policy: Policy{Prefix: "v"}, refused: `git tag "v1.3.0-rc.1" is a pre-release and versioning.prerelease is deny: only v1.2.3-style tags are releases here; tag v1.3.0 when it is ready`},
		{tag: "v1.2.3-" + strings.Repeat("a", 130), policy: std, refused: "cannot be an image tag"},
	} {
		t.Run(tc.tag, func(t *testing.T) {
			t.Parallel()
			v, err := ParseVersion(tc.tag, tc.policy)
			if tc.refused != "" {
				var r *Refusal
				if !errors.As(err, &r) || !strings.Contains(err.Error(), tc.refused) {
					t.Fatalf("got %v, want a refusal containing %q", err, tc.refused)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			fl, err := v.FloatingTags(tc.policy.Floating)
			if err != nil {
				t.Fatal(err)
			}
			type result struct {
				Tag, ImageTag string
				Pre           bool
				Floating      []Floating
			}
			want := result{tc.tag, tc.imageTag, tc.pre, tc.floating}
			got := result{v.String(), v.ImageTag(), v.Prerelease(), fl}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

func TestCompare(t *testing.T) {
	t.Parallel()
	p := Policy{Prefix: "v", Prerelease: true}
	// In semver order; build metadata does not count.
	ordered := [][]string{{"v1.2.3-rc.1"}, {"v1.2.3-rc.2"}, {"v1.2.3", "v1.2.3+build.5", "v1.2.3+build.6"}, {"v1.2.4"}, {"v1.10.0"}, {"v2.0.0-alpha"}, {"v2.0.0"}}
	for i, a := range ordered {
		for j, b := range ordered {
			for _, as := range a {
				for _, bs := range b {
					va, err := ParseVersion(as, p)
					if err != nil {
						t.Fatal(err)
					}
					vb, err := ParseVersion(bs, p)
					if err != nil {
						t.Fatal(err)
					}
					want := 0
					if i < j {
						want = -1
					} else if i > j {
						want = 1
					}
					if got := va.Compare(vb); got != want {
						t.Errorf("%s vs %s: %d, want %d", as, bs, got, want)
					}
				}
			}
		}
	}
}

func TestParseLabel(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		label, prefix string
		wantOK        bool
		equals        string // a version the label compares equal to
	}{
		{"v1.2.3", "v", true, "v1.2.3"},
		{"1.2.3", "v", true, "v1.2.3"},
		{"v1.2.3+build.5", "v", true, "v1.2.3"},
		{"v1.2.3_build.5", "v", true, "v1.2.3"},
		{"v1.3.0-rc.1", "v", true, "v1.3.0-rc.1"},
		{"release-1.4.2", "release-", true, "v1.4.2"},
		{"", "v", false, ""},
		{"latest", "v", false, ""},
		{"v1.2", "v", false, ""},
		{"abc1234", "v", false, ""},
	} {
		t.Run(tc.label, func(t *testing.T) {
			t.Parallel()
			v, ok := ParseLabel(tc.label, tc.prefix)
			if ok != tc.wantOK {
				t.Fatalf("ok = %t, want %t", ok, tc.wantOK)
			}
			if !ok {
				return
			}
			w, err := ParseVersion(tc.equals, Policy{Prefix: "v", Prerelease: true})
			if err != nil {
				t.Fatal(err)
			}
			if v.Compare(w) != 0 || v.String() != tc.label {
				t.Errorf("ParseLabel(%q) = %v, does not equal %s", tc.label, v, w)
			}
		})
	}
}
