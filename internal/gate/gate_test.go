package gate

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/driftless-dev/driftless/internal/githubapi"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/driftless-dev/driftless/internal/evidence"
	"github.com/driftless-dev/driftless/internal/githubtest"
	"github.com/driftless-dev/driftless/internal/registry"
	"github.com/driftless-dev/driftless/internal/registry/registrytest"
	"github.com/driftless-dev/driftless/internal/spec"
	"github.com/driftless-dev/driftless/internal/step"
)

// t0 is when test verified the digest.
var t0 = time.Date(2026, 3, 27, 12, 0, 0, 0, time.UTC)

func at(ts string) func() time.Time {
	t, err := time.Parse(time.RFC3339, ts)
	if err != nil {
		panic(err)
	}
	return func() time.Time { return t }
}

func prod(p spec.Promotion) *spec.Environment {
	return &spec.Environment{Name: "prod", Namespace: "pssp-prod", Promotion: &p}
}

var tagBuild = step.CI{Provider: step.ProviderGitHub, Ref: "refs/tags/v1.4.2", Tag: "v1.4.2", SHA: "0123456789abcdef0123456789abcdef01234567", Repository: "o/r", Actor: "alice"}

// registryWithEvidence starts go-containerregistry's in-process registry
// with the referrers API and pushes an image to it.
func registryWithEvidence(t *testing.T) (evidence.Store, name.Digest) {
	t.Helper()
	srv := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)), ggcrregistry.WithReferrersSupport(true)))
	t.Cleanup(srv.Close)
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	d, err := name.NewDigest(registrytest.Push(t, strings.TrimPrefix(srv.URL, "http://")+"/app", img))
	if err != nil {
		t.Fatal(err)
	}
	return evidence.Store{Options: registry.Options{}.Remote(t.Context())}, d
}

func newSigner(t *testing.T) *evidence.Signer {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	s, err := evidence.ParseSigner(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), "test key")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestEvidenceGates(t *testing.T) {
	t.Parallel()
	key := newSigner(t)
	trusted, err := evidence.NewVerifier(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	const run = "https://github.com/o/r/actions/runs/42"
	verified := "verified in test at 2026-03-27 12:00 UTC"
	for _, tc := range []struct {
		name     string
		env      string // where evidence was recorded; empty: none
		signed   bool
		soak     time.Duration
		verifier *evidence.Verifier
		now      string
		want     []Result
	}{
		{
			name: "no evidence", soak: time.Hour, now: "2026-03-27T14:00:00Z",
			want: []Result{
				{Name: "from: test", Detail: "no evidence that sha256:DIGEST was verified in test: smoke-test records it when its checks pass there; deploy this digest to test first"},
				{Name: "soak: 1h", Detail: "no evidence from test to measure"},
			},
		},
		{
			name: "evidence from another environment only", env: "staging", now: "2026-03-27T14:00:00Z",
			want: []Result{{Name: "from: test", Detail: "no evidence that sha256:DIGEST was verified in test: smoke-test records it when its checks pass there; deploy this digest to test first"}},
		},
		{
			name: "evidence, no soak", env: "test", now: "2026-03-27T12:00:30Z",
			want: []Result{{Name: "from: test", Passed: true, Detail: verified + " (30s ago) as v1.4.2 by " + run + "; unsigned (no promotion public key configured)"}},
		},
		{
			name: "soak 1h, 20 minutes later: refused", env: "test", soak: time.Hour, now: "2026-03-27T12:20:00Z",
			want: []Result{
				{Name: "from: test", Passed: true, Detail: verified + " (20m ago) as v1.4.2 by " + run + "; unsigned (no promotion public key configured)"},
				{Name: "soak: 1h", Detail: "the newest evidence from test is 20m old: 40m more to go (from 2026-03-27 13:00 UTC)"},
			},
		},
		{
			name: "soak 1h, an hour later: passed", env: "test", soak: time.Hour, now: "2026-03-27T13:00:00Z",
			want: []Result{
				{Name: "from: test", Passed: true, Detail: verified + " (1h ago) as v1.4.2 by " + run + "; unsigned (no promotion public key configured)"},
				{Name: "soak: 1h", Passed: true, Detail: "the newest evidence from test is 1h old"},
			},
		},
		{
			name: "public key configured, evidence unsigned: refused", env: "test", verifier: trusted, now: "2026-03-27T13:00:00Z",
			want: []Result{{Name: "from: test", Detail: "no evidence that sha256:DIGEST was verified in test: smoke-test records it when its checks pass there; deploy this digest to test first; 1 record(s) did not count: it is not signed, and only evidence signed by a trusted key (" + key.KeyID() + ") counts"}},
		},
		{
			name: "public key configured, evidence signed: passed", env: "test", signed: true, verifier: trusted, now: "2026-03-27T13:00:00Z",
			want: []Result{{Name: "from: test", Passed: true, Detail: verified + " (1h ago) as v1.4.2 by " + run + "; signed by key " + key.KeyID()[:16]}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			store, d := registryWithEvidence(t)
			if tc.env != "" {
				var signer *evidence.Signer
				if tc.signed {
					signer = key
				}
				st := evidence.NewStatement(d, evidence.Predicate{
					Environment: tc.env, VerifiedAt: t0, Version: "v1.4.2", RunURL: run, CI: "github",
					Checks: []evidence.Check{{Name: "version", Passed: true}},
				})
				if _, err := store.Attach(t.Context(), d, st, signer); err != nil {
					t.Fatal(err)
				}
			}
			r := Evaluate(t.Context(), Input{
				Environment: prod(spec.Promotion{From: "test", Soak: spec.Duration{Duration: tc.soak}}),
				Digest:      d, CI: tagBuild, Now: at(tc.now), Evidence: store, Verifier: tc.verifier,
			})
			for i := range tc.want {
				tc.want[i].Detail = strings.ReplaceAll(tc.want[i].Detail, "sha256:DIGEST", d.DigestStr()[:19])
			}
			if diff := cmp.Diff(tc.want, r.Results); diff != "" {
				t.Errorf("Evaluate (-want +got):\n%s", diff)
			}
		})
	}
}

func TestGitTag(t *testing.T) {
	t.Parallel()
	const sha = "0123456789abcdef0123456789abcdef01234567"
	branch := step.CI{Provider: step.ProviderGitHub, Ref: "refs/heads/main", Branch: "main", EventName: "schedule"}
	pipeline := &spec.Pipeline{Versioning: spec.Versioning{GitTag: "semver", Prefix: "v", Prerelease: "deny"}}
	for _, tc := range []struct {
		name    string
		ci      step.CI
		version string
		rebuild *Rebuild
		want    Result
	}{
		{
			name: "release tag", ci: tagBuild,
			want: Result{Name: "gitTag: required", Passed: true, Detail: "built from release tag v1.4.2 (0123456789ab)"},
		},
		{
			name: "branch build", ci: step.CI{Provider: step.ProviderGitHub, Ref: "refs/heads/main", Branch: "main"},
			want: Result{Name: "gitTag: required", Detail: `this is a build of branch "main", not of a release tag: only release tags deploy to prod (promotion.gitTag: required); tag the commit and deploy from the tag's pipeline`},
		},
		{
			name: "no ref", ci: step.CI{Provider: step.ProviderLocal},
			want: Result{Name: "gitTag: required", Detail: `the build is not for a Git tag (ref ""): only release tags deploy to prod (promotion.gitTag: required)`},
		},
		{
			name: "a tag that is not a release", ci: step.CI{Provider: step.ProviderGitHub, Ref: "refs/tags/v1.5.0-rc.1", Tag: "v1.5.0-rc.1"},
			want: Result{Name: "gitTag: required", Detail: `git tag "v1.5.0-rc.1" is a pre-release and versioning.prerelease is deny: only v1.2.3-style tags are releases here; tag v1.5.0 when it is ready, or set versioning.prerelease: allow`},
		},
		{
			name: "another version than the tag", ci: tagBuild, version: "v1.4.3",
			want: Result{Name: "gitTag: required", Detail: `deploying version "v1.4.3", but the build is for tag "v1.4.2": deploy a release from its own tag's pipeline`},
		},
		{
			name: "a rebuild of a release", ci: branch, version: "v1.4.2", rebuild: &Rebuild{TagCommit: sha, ImageRevision: sha},
			want: Result{Name: "gitTag: required", Passed: true, Detail: "rebuild of release tag v1.4.2 (0123456789ab), the commit the image was built from"},
		},
		{
			name: "a rebuild of another commit", ci: branch, version: "v1.4.2", rebuild: &Rebuild{TagCommit: sha, ImageRevision: strings.Repeat("f", 40)},
			want: Result{Name: "gitTag: required", Detail: `rebuild of "v1.4.2": the tag points at 0123456789ab but the image was built from ffffffffffff`},
		},
		{
			name: "a rebuild of a missing tag", ci: branch, version: "v9.9.9", rebuild: &Rebuild{ImageRevision: sha},
			want: Result{Name: "gitTag: required", Detail: `rebuild of "v9.9.9": there is no such tag in the repository (fetch the tags: actions/checkout with fetch-depth: 0)`},
		},
		{
			name: "a rebuild of a pre-release", ci: branch, version: "v1.5.0-rc.1", rebuild: &Rebuild{TagCommit: sha, ImageRevision: sha},
			want: Result{Name: "gitTag: required", Detail: `git tag "v1.5.0-rc.1" is a pre-release and versioning.prerelease is deny: only v1.2.3-style tags are releases here; tag v1.5.0 when it is ready, or set versioning.prerelease: allow`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := Evaluate(t.Context(), Input{Pipeline: pipeline, Environment: prod(spec.Promotion{GitTag: "required"}), CI: tc.ci, Version: tc.version, Rebuild: tc.rebuild})
			if diff := cmp.Diff([]Result{tc.want}, r.Results); diff != "" {
				t.Errorf("Evaluate (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFreeze(t *testing.T) {
	t.Parallel()
	weekend := spec.Freeze{Name: "weekend", Cron: "0 18 * * FRI", Duration: spec.Duration{Duration: 62 * time.Hour}, TimeZone: "Europe/Berlin"}
	long := spec.Freeze{Name: "long", Cron: "0 18 * * FRI", Duration: spec.Duration{Duration: 200 * time.Hour}, TimeZone: "UTC"}
	yearEnd := spec.Freeze{Name: "year-end", Start: "2026-12-20T00:00:00Z", End: "2027-01-02T00:00:00Z"}
	const until = "; nothing deploys to prod until then, unless an override gives the reason why it must"
	for _, tc := range []struct {
		name     string
		freeze   spec.Freeze
		now      string
		override string
		want     Result
	}{
		{
			name: "Friday 17:59 CET: before the window", freeze: weekend, now: "2026-03-27T16:59:00Z",
			want: Result{Name: "freeze: weekend", Passed: true, Detail: "outside the window; the next starts Fri 2026-03-27 18:00 CET"},
		},
		{
			name: "Friday 18:00 CET: inside", freeze: weekend, now: "2026-03-27T17:00:00Z",
			want: Result{Name: "freeze: weekend", Detail: `inside freeze window "weekend" (Fri 2026-03-27 18:00 CET – Mon 2026-03-30 08:00 CEST, 61h to go)` + until},
		},
		{
			name: "Monday 07:59 CEST, after the clocks went forward: inside", freeze: weekend, now: "2026-03-30T05:59:00Z",
			want: Result{Name: "freeze: weekend", Detail: `inside freeze window "weekend" (Fri 2026-03-27 18:00 CET – Mon 2026-03-30 08:00 CEST, 1m to go)` + until},
		},
		{
			name: "Monday 08:00 CEST: over, 62h on the wall clock are 61h elapsed", freeze: weekend, now: "2026-03-30T06:00:00Z",
			want: Result{Name: "freeze: weekend", Passed: true, Detail: "outside the window; the next starts Fri 2026-04-03 18:00 CEST"},
		},
		{
			name: "Friday 18:00 CEST in summer: inside", freeze: weekend, now: "2026-07-03T16:00:00Z",
			want: Result{Name: "freeze: weekend", Detail: `inside freeze window "weekend" (Fri 2026-07-03 18:00 CEST – Mon 2026-07-06 08:00 CEST, 62h to go)` + until},
		},
		{
			name: "Monday 07:30 CET, after the clocks went back: inside", freeze: weekend, now: "2026-10-26T06:30:00Z",
			want: Result{Name: "freeze: weekend", Detail: `inside freeze window "weekend" (Fri 2026-10-23 18:00 CEST – Mon 2026-10-26 08:00 CET, 30m to go)` + until},
		},
		{
			name: "inside, overridden with a reason", freeze: weekend, now: "2026-03-27T17:00:00Z", override: "hotfix for INC-42",
			want: Result{
				Name: "freeze: weekend", Passed: true, Override: "hotfix for INC-42",
				Detail: `inside freeze window "weekend" (Fri 2026-03-27 18:00 CET – Mon 2026-03-30 08:00 CEST, 61h to go); overridden by alice: hotfix for INC-42`,
			},
		},
		{
			name: "a blank reason does not override", freeze: weekend, now: "2026-03-27T17:00:00Z", override: "  ",
			want: Result{Name: "freeze: weekend", Detail: `inside freeze window "weekend" (Fri 2026-03-27 18:00 CET – Mon 2026-03-30 08:00 CEST, 61h to go)` + until},
		},
		{
			name: "a window that started last week and lasts 200h: inside", freeze: long, now: "2026-04-03T17:00:00Z",
			want: Result{Name: "freeze: long", Detail: `inside freeze window "long" (Fri 2026-03-27 18:00 UTC – Sun 2026-04-05 02:00 UTC, 33h to go)` + until},
		},
		{
			name: "fixed window: inside", freeze: yearEnd, now: "2026-12-24T12:00:00Z",
			want: Result{Name: "freeze: year-end", Detail: `inside freeze window "year-end" (Sun 2026-12-20 00:00 UTC – Sat 2027-01-02 00:00 UTC, 204h to go)` + until},
		},
		{
			name: "fixed window: ahead", freeze: yearEnd, now: "2026-12-01T00:00:00Z",
			want: Result{Name: "freeze: year-end", Passed: true, Detail: "outside the window; the next starts Sun 2026-12-20 00:00 UTC"},
		},
		{
			name: "fixed window: the end is not inside", freeze: yearEnd, now: "2027-01-02T00:00:00Z",
			want: Result{Name: "freeze: year-end", Passed: true, Detail: "the window Sun 2026-12-20 00:00 UTC – Sat 2027-01-02 00:00 UTC is over"},
		},
		{
			name: "unreadable window: refused", freeze: spec.Freeze{Name: "bad", Cron: "every friday", Duration: spec.Duration{Duration: time.Hour}}, now: "2026-12-01T00:00:00Z",
			want: Result{Name: "freeze: bad", Detail: `cannot evaluate freeze window "bad": cron expression "every friday": expected exactly 5 fields, found 2: [every friday]`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := Evaluate(t.Context(), Input{
				Environment: prod(spec.Promotion{Freeze: []spec.Freeze{tc.freeze}}),
				CI:          tagBuild, Now: at(tc.now), Override: Override{Reason: tc.override},
			})
			if diff := cmp.Diff([]Result{tc.want}, r.Results); diff != "" {
				t.Errorf("Evaluate (-want +got):\n%s", diff)
			}
		})
	}
}

func TestGitHubApproval(t *testing.T) {
	t.Parallel()
	const (
		getEnv      = "GET /repos/o/r/environments/prod"
		getPolicies = "GET /repos/o/r/environments/prod/deployment-branch-policies?per_page=100&page=1"
		where       = `GitHub environment "prod" of o/r`
	)
	octocat := []githubtest.Reviewer{{Type: "User", Name: "octocat"}}
	custom := &githubtest.BranchPolicy{CustomBranchPolicies: true}
	vStar := []githubtest.Policy{{Name: "main", Type: "branch"}, {Name: "v*", Type: "tag"}}
	for _, tc := range []struct {
		name     string
		env      *githubtest.Environment
		ci       step.CI
		ciEnv    string
		token    string
		want     Result
		requests []string
	}{
		{
			name: "not on GitHub", ci: step.CI{Provider: step.ProviderLocal, Tag: "v1.4.2"},
			want: Result{Name: "approval: github", Detail: "this run is on a local machine, not GitHub Actions: approval: github relies on a GitHub environment's required reviewers; run the step in a job with `environment: prod`"},
		},
		{
			name:     "environment missing",
			want:     Result{Name: "approval: github", Detail: where + " does not exist. GitHub creates an environment without any protection rules the first time a job names it, so nothing would hold this deployment for approval. Create it: Settings → Environments → prod: add Required reviewers, and under Deployment branches and tags choose Selected branches and tags and add a tag rule matching the release tags (v*)"},
			requests: []string{getEnv},
		},
		{
			name:     "no reviewers",
			env:      &githubtest.Environment{Name: "prod", BranchPolicy: custom, Policies: vStar},
			want:     Result{Name: "approval: github", Detail: where + " does not hold deployments for approval: it has no required reviewers (Settings → Environments → prod → Required reviewers: add at least one person or team)"},
			requests: []string{getEnv, getPolicies},
		},
		{
			name:     "every branch may deploy",
			env:      &githubtest.Environment{Name: "prod", Reviewers: octocat},
			want:     Result{Name: "approval: github", Detail: where + " does not hold deployments for approval: every branch and tag may deploy to it (Deployment branches and tags: choose Selected branches and tags and add a tag rule such as v*)"},
			requests: []string{getEnv},
		},
		{
			name:     "protected branches only",
			env:      &githubtest.Environment{Name: "prod", Reviewers: octocat, BranchPolicy: &githubtest.BranchPolicy{ProtectedBranches: true}},
			want:     Result{Name: "approval: github", Detail: where + " does not hold deployments for approval: only protected branches may deploy to it, and GitHub does not let release tags deploy to such an environment (choose Selected branches and tags with a tag rule such as v*)"},
			requests: []string{getEnv},
		},
		{
			name:     "branch rules only",
			env:      &githubtest.Environment{Name: "prod", Reviewers: octocat, BranchPolicy: custom, Policies: []githubtest.Policy{{Name: "main", Type: "branch"}}},
			want:     Result{Name: "approval: github", Detail: where + " does not hold deployments for approval: it has no tag rule, so the release tag v1.4.2 may not deploy (add a tag rule such as v*)"},
			requests: []string{getEnv, getPolicies},
		},
		{
			name:     "a tag rule that does not match",
			env:      &githubtest.Environment{Name: "prod", Reviewers: octocat, BranchPolicy: custom, Policies: []githubtest.Policy{{Name: "release-*", Type: "tag"}}},
			want:     Result{Name: "approval: github", Detail: where + " does not hold deployments for approval: none of its tag rules (release-*) matches the release tag v1.4.2"},
			requests: []string{getEnv, getPolicies},
		},
		{
			name: "reviewers and a matching tag rule",
			env: &githubtest.Environment{
				Name: "prod", Reviewers: []githubtest.Reviewer{{Type: "User", Name: "octocat"}, {Type: "Team", Name: "ops"}},
				PreventSelfReview: true, AdminsCannotBypass: true, BranchPolicy: custom, Policies: vStar,
			},
			want:     Result{Name: "approval: github", Passed: true, Detail: where + ` requires a review by octocat, team ops; its tag rule "v*" admits v1.4.2`},
			requests: []string{getEnv, getPolicies},
		},
		{
			name: "the tag rule on the second page; self-review and admin bypass noted",
			env: &githubtest.Environment{
				Name: "prod", Reviewers: octocat, BranchPolicy: custom,
				Policies: append(repeatPolicy(githubtest.Policy{Name: "feature/*", Type: "branch"}, 100), githubtest.Policy{Name: "v[0-9]*", Type: "tag"}),
			},
			want:     Result{Name: "approval: github", Passed: true, Detail: where + ` requires a review by octocat; its tag rule "v[0-9]*" admits v1.4.2; note: whoever starts the run may approve it (enable Prevent self-review); note: administrators may bypass the rules (clear Allow administrators to bypass)`},
			requests: []string{getEnv, getPolicies, "GET /repos/o/r/environments/prod/deployment-branch-policies?per_page=100&page=2"},
		},
		{
			name: "the GitHub environment named by input", ciEnv: "Production EU",
			env:      &githubtest.Environment{Name: "Production EU", Reviewers: octocat, PreventSelfReview: true, AdminsCannotBypass: true, BranchPolicy: custom, Policies: vStar},
			want:     Result{Name: "approval: github", Passed: true, Detail: `GitHub environment "Production EU" of o/r requires a review by octocat; its tag rule "v*" admits v1.4.2`},
			requests: []string{"GET /repos/o/r/environments/Production EU", "GET /repos/o/r/environments/Production EU/deployment-branch-policies?per_page=100&page=1"},
		},
		{
			name: "bad token", token: "wrong",
			want:     Result{Name: "approval: github", Detail: `reading ` + where + `: GET URL/repos/o/r/environments/prod: 401 Bad credentials [] (the token needs ` + "`permissions: actions: read`" + ` to read environments)`},
			requests: []string{getEnv},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fake := githubtest.New(t, "o", "r", "s3cret")
			if tc.env != nil {
				fake.SetEnvironment(*tc.env)
			}
			token := tc.token
			if token == "" {
				token = "s3cret"
			}
			gh, err := githubapi.New(fake.URL, token, nil)
			if err != nil {
				t.Fatal(err)
			}
			ci := tc.ci
			if ci.Provider == "" {
				ci = tagBuild
			}
			r := Evaluate(t.Context(), Input{Environment: prod(spec.Promotion{Approval: "github"}), CI: ci, CIEnvironment: tc.ciEnv, GitHub: GitHubAPI{Client: gh}})
			tc.want.Detail = strings.ReplaceAll(tc.want.Detail, "URL/", fake.URL+"/")
			if diff := cmp.Diff([]Result{tc.want}, r.Results); diff != "" {
				t.Errorf("Evaluate (-want +got):\n%s", diff)
			}
			var got []string
			for _, req := range fake.Requests() {
				got = append(got, req.String())
				if req.Auth != "Bearer "+token {
					t.Errorf("%s: Authorization %q", req, req.Auth)
				}
			}
			if diff := cmp.Diff(tc.requests, got); diff != "" {
				t.Errorf("requests (-want +got):\n%s", diff)
			}
		})
	}
}

func repeatPolicy(p githubtest.Policy, n int) []githubtest.Policy {
	out := make([]githubtest.Policy, n)
	for i := range out {
		out[i] = p
	}
	return out
}

func TestGitLabApproval(t *testing.T) {
	t.Parallel()
	gitlab := step.CI{Provider: step.ProviderGitLab, Tag: "v1.4.2", Ref: "refs/tags/v1.4.2", Environment: "prod"}
	for _, tc := range []struct {
		name string
		ci   step.CI
		env  map[string]string
		want Result
	}{
		{
			name: "protected environment job on a protected tag", ci: gitlab, env: map[string]string{"CI_COMMIT_REF_PROTECTED": "true", "CI_ENVIRONMENT_ACTION": "start"},
			want: Result{Name: "approval: gitlab", Passed: true, Detail: `the job deploys to GitLab environment "prod" from protected ref "v1.4.2"; who may deploy and approve is the protected environment's setting, which the job token cannot read`},
		},
		{
			name: "unprotected tag", ci: gitlab, env: map[string]string{"CI_COMMIT_REF_PROTECTED": "false"},
			want: Result{Name: "approval: gitlab", Detail: `the GitLab job is not gated by a protected environment: the ref "v1.4.2" is not protected (protect the release tags: Settings → Repository → Protected tags, v*)`},
		},
		{
			name: "another environment, action prepare", ci: func() step.CI { c := gitlab; c.Environment = "staging"; return c }(),
			env:  map[string]string{"CI_COMMIT_REF_PROTECTED": "true", "CI_ENVIRONMENT_ACTION": "prepare"},
			want: Result{Name: "approval: gitlab", Detail: `the GitLab job is not gated by a protected environment: the job deploys to GitLab environment "staging", not "prod"; the job's environment action is "prepare": GitLab asks for approval only for action: start`},
		},
		{
			name: "no environment", ci: func() step.CI { c := gitlab; c.Environment = ""; return c }(),
			env:  map[string]string{"CI_COMMIT_REF_PROTECTED": "true"},
			want: Result{Name: "approval: gitlab", Detail: "the GitLab job is not gated by a protected environment: the job names no environment (add `environment: {name: prod, action: start}`: GitLab applies a protected environment's rules only to jobs that name it)"},
		},
		{
			name: "on GitHub", ci: tagBuild,
			want: Result{Name: "approval: gitlab", Detail: `this run is on GitHub Actions, not GitLab CI: approval: gitlab relies on GitLab's protected environment "prod"; run the step in a job with ` + "`environment: prod`"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := Evaluate(t.Context(), Input{
				Environment: prod(spec.Promotion{Approval: "gitlab"}), CI: tc.ci,
				Getenv: func(k string) string { return tc.env[k] },
			})
			if diff := cmp.Diff([]Result{tc.want}, r.Results); diff != "" {
				t.Errorf("Evaluate (-want +got):\n%s", diff)
			}
		})
	}
}

// TestEveryGateReported: a branch build run by hand during a freeze, with
// no evidence, is refused by every gate, and each says so.
func TestEveryGateReported(t *testing.T) {
	t.Parallel()
	store, d := registryWithEvidence(t)
	r := Evaluate(t.Context(), Input{
		Environment: prod(spec.Promotion{
			From: "test", Soak: spec.Duration{Duration: 30 * time.Minute}, GitTag: "required", Approval: "github",
			Freeze: []spec.Freeze{{Name: "weekend", Cron: "0 18 * * FRI", Duration: spec.Duration{Duration: 62 * time.Hour}, TimeZone: "Europe/Berlin"}},
		}),
		Digest: d, CI: step.CI{Provider: step.ProviderLocal, Ref: "refs/heads/main", Branch: "main"},
		Now: at("2026-03-28T10:00:00Z"), Evidence: store,
	})
	var names []string
	for _, g := range r.Results {
		names = append(names, g.Name)
		if g.Passed {
			t.Errorf("%s passed: %s", g.Name, g.Detail)
		}
	}
	if diff := cmp.Diff([]string{"from: test", "soak: 30m", "gitTag: required", "freeze: weekend", "approval: github"}, names); diff != "" {
		t.Errorf("gates (-want +got):\n%s", diff)
	}
	if r.Passed() {
		t.Error("Passed() = true")
	}
	err := r.Err()
	var refused *RefusedError
	if !errors.As(err, &refused) || len(refused.Refused) != 5 || refused.Environment != "prod" {
		t.Errorf("Err() = %#v, want a *RefusedError with the 5 gates", err)
	}
	if !strings.Contains(err.Error(), "refused by 5 gate(s):\nfrom: test: no evidence") {
		t.Errorf("Err() = %v", err)
	}
}

func TestReport(t *testing.T) {
	t.Parallel()
	r := Report{Environment: "prod", Digest: "registry.example.com/app@sha256:abc", Results: []Result{
		{Name: "from: test", Passed: true, Detail: "verified in test"},
		{Name: "soak: 30m", Detail: "10m more to go | really\nsoon"},
		{Name: "freeze: weekend", Passed: true, Override: "INC-42", Detail: "inside; overridden by alice: INC-42"},
	}}
	wantMD := "### Promotion gates: `prod`\n\nimage `registry.example.com/app@sha256:abc`\n\n" +
		"| gate | result | detail |\n|---|---|---|\n" +
		"| `from: test` | ✅ passed | verified in test |\n" +
		"| `soak: 30m` | ❌ refused | 10m more to go \\| really<br>soon |\n" +
		"| `freeze: weekend` | ⚠️ overridden | inside; overridden by alice: INC-42 |\n" +
		"\n**Refused** by 1 gate(s).\n"
	if diff := cmp.Diff(wantMD, r.Markdown()); diff != "" {
		t.Errorf("Markdown (-want +got):\n%s", diff)
	}
	wantText := "promotion gates for prod (registry.example.com/app@sha256:abc):\n" +
		"  GATE             RESULT      DETAIL\n" +
		"  from: test       passed      verified in test\n" +
		"  soak: 30m        refused     10m more to go | really soon\n" +
		"  freeze: weekend  overridden  inside; overridden by alice: INC-42\n"
	if diff := cmp.Diff(wantText, r.Text()); diff != "" {
		t.Errorf("Text (-want +got):\n%s", diff)
	}
	empty := Report{Environment: "test"}
	if !empty.Passed() || empty.Err() != nil || !strings.Contains(empty.Markdown(), "No promotion gates") {
		t.Errorf("a report without gates: Passed %t, Err %v, Markdown %q", empty.Passed(), empty.Err(), empty.Markdown())
	}
}

func TestFnmatch(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		pattern, name string
		want          bool
	}{
		{"v*", "v1.4.2", true},
		{"v*", "release/v1", false},
		{"v*", "xv1", false},
		{"**", "release/v1", true},
		{"release/*", "release/v1", true},
		{"v?.*", "v1.4.2", true},
		{"v[0-9]*", "v1.4.2", true},
		{"v[!0-9]*", "v1.4.2", false},
		{"v1.4.2", "v1.4.2", true},
		{"v1.4.2", "v1x4x2", false},
		{"v*-rc*", "v1.4.2", false},
	} {
		if got := fnmatch(tc.pattern, tc.name); got != tc.want {
			t.Errorf("fnmatch(%q, %q) = %t, want %t", tc.pattern, tc.name, got, tc.want)
		}
	}
}
