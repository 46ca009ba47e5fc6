package gate

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/driftless-dev/driftless/internal/evidence"
	"github.com/driftless-dev/driftless/internal/release"
	"github.com/driftless-dev/driftless/internal/spec"
	"github.com/driftless-dev/driftless/internal/step"
)

// EvidenceFinder finds verified-in-environment evidence on a digest;
// evidence.Store is the real one.
type EvidenceFinder interface {
	Find(ctx context.Context, subject name.Digest, env string, v *evidence.Verifier) (evidence.Result, error)
}

// Input is everything the gates look at.
type Input struct {
	// Pipeline gives the versioning rules a release tag must follow; nil
	// skips that check.
	Pipeline *spec.Pipeline
	// Environment is the target; its Promotion holds the gates.
	Environment *spec.Environment
	// Digest is the image being deployed.
	Digest name.Digest
	// Version is the release being deployed (the Git tag); empty means the
	// tag the CI builds.
	Version string
	// CI is the run's context: provider, ref, tag, repository, actor.
	CI step.CI
	// Getenv reads CI facts the context does not carry
	// (CI_COMMIT_REF_PROTECTED, CI_ENVIRONMENT_ACTION).
	Getenv func(string) string
	// Now is the clock; time.Now when nil.
	Now func() time.Time

	// Evidence finds the evidence promotion.from asks for.
	Evidence EvidenceFinder
	// Verifier holds the public keys evidence must be signed with; nil
	// accepts unsigned evidence.
	Verifier *evidence.Verifier

	// GitHub reads GitHub environments for approval: github.
	GitHub GitHubEnvironments
	// CIEnvironment is the GitHub or GitLab environment the job runs in;
	// empty means the driftless environment's name.
	CIEnvironment string

	// Override lets a deployment through freeze windows.
	Override Override

	// Rebuild describes a rebuild of an earlier release (a scheduled
	// rebase onto a new base image): it runs from a branch, not from the
	// release tag's pipeline, but the image is still that release. Nil
	// when the deployment is not a rebuild.
	Rebuild *Rebuild
}

// Rebuild is what "gitTag: required" checks for a rebuilt release: the
// release tag must name the very commit the image records as its source.
type Rebuild struct {
	// TagCommit is the commit the release tag (Version) points at, read
	// from the repository; empty when the tag does not exist.
	TagCommit string
	// ImageRevision is the image's org.opencontainers.image.revision.
	ImageRevision string
}

// Override lets a deployment through freeze windows, with a reason that is
// reported and recorded with the release.
type Override struct {
	Reason string
}

// Result is one gate's verdict.
type Result struct {
	// Name is the gate as the spec writes it: "from: test", "soak: 30m".
	Name string
	// Passed says whether the gate lets the deployment through.
	Passed bool
	// Detail says why, and when refused, what to do.
	Detail string
	// Override is the reason an override gave when it let the deployment
	// through a gate that would have refused; apply-env records it.
	Override string
}

// Report is the verdict of every gate of an environment.
type Report struct {
	// Environment is the target environment's name.
	Environment string
	// Digest is the image being deployed.
	Digest string
	// Results, in the order: from, soak, gitTag, freeze windows, approval.
	Results []Result
}

// Passed reports whether every gate passed.
func (r Report) Passed() bool {
	for _, g := range r.Results {
		if !g.Passed {
			return false
		}
	}
	return true
}

// Refused returns the gates that refused.
func (r Report) Refused() []Result {
	var out []Result
	for _, g := range r.Results {
		if !g.Passed {
			out = append(out, g)
		}
	}
	return out
}

// Err is nil when every gate passed, else a *RefusedError naming each
// refusing gate and why.
func (r Report) Err() error {
	refused := r.Refused()
	if len(refused) == 0 {
		return nil
	}
	return &RefusedError{Digest: r.Digest, Environment: r.Environment, Refused: refused}
}

// RefusedError is a promotion the gates refused: a failed check (the steps
// exit 1), not a step that could not run.
type RefusedError struct {
	Digest, Environment string
	// Refused are the gates that refused, in the report's order.
	Refused []Result
}

func (e *RefusedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "promotion of %s to environment %q refused by %d gate(s):", e.Digest, e.Environment, len(e.Refused))
	for _, g := range e.Refused {
		fmt.Fprintf(&b, "\n%s: %s", g.Name, g.Detail)
	}
	return b.String()
}

// Evaluate runs every gate of in.Environment's promotion. An environment
// without promotion has no gates and passes.
func Evaluate(ctx context.Context, in Input) Report {
	if in.Now == nil {
		in.Now = time.Now
	}
	if in.Getenv == nil {
		in.Getenv = func(string) string { return "" }
	}
	r := Report{Digest: in.Digest.String()}
	if in.Environment == nil {
		r.Results = []Result{{Name: "environment", Detail: "no target environment given"}}
		return r
	}
	r.Environment = in.Environment.Name
	pr := in.Environment.Promotion
	if pr == nil {
		return r
	}
	now := in.Now()
	if pr.From != "" {
		r.Results = append(r.Results, fromGates(ctx, in, pr, now)...)
	}
	if pr.GitTag == "required" {
		r.Results = append(r.Results, gitTagGate(in))
	}
	for _, f := range pr.Freeze {
		r.Results = append(r.Results, freezeGate(in, f, now))
	}
	switch pr.Approval {
	case "github":
		r.Results = append(r.Results, githubApproval(ctx, in))
	case "gitlab":
		r.Results = append(r.Results, gitlabApproval(in))
	case "", "none":
	default:
		r.Results = append(r.Results, Result{Name: "approval: " + pr.Approval, Detail: fmt.Sprintf("unknown approval %q; valid values: none, github, gitlab", pr.Approval)})
	}
	return r
}

// fromGates are "from: E" and, with a soak time, "soak: D".
func fromGates(ctx context.Context, in Input, pr *spec.Promotion, now time.Time) []Result {
	from := Result{Name: "from: " + pr.From}
	soak := Result{Name: "soak: " + human(pr.Soak.Duration)}
	withSoak := func(rs ...Result) []Result {
		if pr.Soak.Duration > 0 {
			return rs
		}
		return rs[:1]
	}
	if in.Evidence == nil {
		from.Detail = "no evidence store to look in (the image registry): cannot tell whether the digest was verified in " + pr.From
		soak.Detail = "no evidence to measure"
		return withSoak(from, soak)
	}
	found, err := in.Evidence.Find(ctx, in.Digest, pr.From, in.Verifier)
	if err != nil {
		from.Detail = fmt.Sprintf("could not look up the evidence: %v", err)
		soak.Detail = "no evidence to measure"
		return withSoak(from, soak)
	}
	rec, ok := found.Newest()
	if !ok {
		from.Detail = fmt.Sprintf("no evidence that %s was verified in %s: smoke-test records it when its checks pass there; deploy this digest to %s first", short(in.Digest), pr.From, pr.From)
		if n := len(found.Rejected); n > 0 {
			var reasons []string
			for _, rej := range found.Rejected[:min(n, 3)] {
				reasons = append(reasons, rej.Reason)
			}
			from.Detail += fmt.Sprintf("; %d record(s) did not count: %s", n, strings.Join(reasons, "; "))
		}
		soak.Detail = "no evidence from " + pr.From + " to measure"
		return withSoak(from, soak)
	}
	if in.Verifier != nil && !rec.Signed {
		// Find rejects unsigned evidence when given a verifier; a finder
		// that does not is not trusted either.
		from.Detail = "the evidence found is not signed by a trusted key"
		soak.Detail = "no trusted evidence to measure"
		return withSoak(from, soak)
	}
	from.Passed = true
	p := rec.Statement.Predicate
	from.Detail = fmt.Sprintf("verified in %s at %s (%s ago)", pr.From, rec.VerifiedAt.UTC().Format("2006-01-02 15:04 MST"), human(now.Sub(rec.VerifiedAt)))
	if p.Version != "" {
		from.Detail += " as " + p.Version
	}
	if p.RunURL != "" {
		from.Detail += " by " + p.RunURL
	}
	if rec.Signed {
		from.Detail += "; signed by key " + rec.KeyID[:min(len(rec.KeyID), 16)]
	} else {
		from.Detail += "; unsigned (no promotion public key configured)"
	}

	age := now.Sub(rec.VerifiedAt)
	if age >= pr.Soak.Duration {
		soak.Passed = true
		soak.Detail = fmt.Sprintf("the newest evidence from %s is %s old", pr.From, human(age))
	} else {
		soak.Detail = fmt.Sprintf("the newest evidence from %s is %s old: %s more to go (from %s)", pr.From, human(max(age, 0)), human(pr.Soak.Duration-age), rec.VerifiedAt.Add(pr.Soak.Duration).UTC().Format("2006-01-02 15:04 MST"))
	}
	return withSoak(from, soak)
}

// gitTagGate is "gitTag: required": the build is for a release tag.
func gitTagGate(in Input) Result {
	r := Result{Name: "gitTag: required"}
	tag := in.CI.Tag
	if tag == "" && in.Rebuild != nil && in.Version != "" {
		return rebuildGate(in, r)
	}
	switch {
	case tag == "" && in.CI.Branch != "":
		r.Detail = fmt.Sprintf("this is a build of branch %q, not of a release tag: only release tags deploy to %s (promotion.gitTag: required); tag the commit and deploy from the tag's pipeline", in.CI.Branch, in.Environment.Name)
		return r
	case tag == "":
		r.Detail = fmt.Sprintf("the build is not for a Git tag (ref %q): only release tags deploy to %s (promotion.gitTag: required)", in.CI.Ref, in.Environment.Name)
		return r
	}
	if in.Pipeline != nil {
		if _, err := release.ParseVersion(tag, release.PolicyFrom(in.Pipeline.Versioning)); err != nil {
			r.Detail = err.Error()
			return r
		}
	}
	if in.Version != "" && in.Version != tag {
		r.Detail = fmt.Sprintf("deploying version %q, but the build is for tag %q: deploy a release from its own tag's pipeline", in.Version, tag)
		return r
	}
	r.Passed = true
	r.Detail = "built from release tag " + tag
	if in.CI.SHA != "" {
		r.Detail += " (" + in.CI.SHA[:min(len(in.CI.SHA), 12)] + ")"
	}
	return r
}

// rebuildGate admits a rebuilt release: the version is a release tag and it
// points at the commit the image was built from.
func rebuildGate(in Input, r Result) Result {
	v, rb := in.Version, in.Rebuild
	if in.Pipeline != nil {
		if _, err := release.ParseVersion(v, release.PolicyFrom(in.Pipeline.Versioning)); err != nil {
			r.Detail = err.Error()
			return r
		}
	}
	switch {
	case rb.TagCommit == "":
		r.Detail = fmt.Sprintf("rebuild of %q: there is no such tag in the repository (fetch the tags: actions/checkout with fetch-depth: 0)", v)
	case rb.ImageRevision == "":
		r.Detail = fmt.Sprintf("rebuild of %q: the image records no org.opencontainers.image.revision, so it cannot be traced to the tag's commit; bake it with bake-image", v)
	case rb.TagCommit != rb.ImageRevision:
		r.Detail = fmt.Sprintf("rebuild of %q: the tag points at %s but the image was built from %s", v, rb.TagCommit[:min(12, len(rb.TagCommit))], rb.ImageRevision[:min(12, len(rb.ImageRevision))])
	default:
		r.Passed = true
		r.Detail = fmt.Sprintf("rebuild of release tag %s (%s), the commit the image was built from", v, rb.TagCommit[:min(12, len(rb.TagCommit))])
	}
	return r
}

func short(d name.Digest) string {
	s := d.DigestStr()
	return s[:min(len(s), len("sha256:")+12)]
}

// human prints a duration to the minute (to the second under a minute).
func human(d time.Duration) string {
	if d < time.Minute && d > -time.Minute {
		return d.Round(time.Second).String()
	}
	s := d.Round(time.Minute).String()
	s = strings.TrimSuffix(s, "0s")
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
