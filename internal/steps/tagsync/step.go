package tagsync

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/driftless-dev/driftless/internal/access"
	"github.com/driftless-dev/driftless/internal/release"
	"github.com/driftless-dev/driftless/internal/spec"
	"github.com/driftless-dev/driftless/internal/step"
)

// The step's own inputs.
var (
	inImage        = step.Input{Name: "image", Description: "The image to tag, pinned by digest (repo@sha256:...), normally bake-image's image output; may be empty only with create-git-tag."}
	inRelease      = step.Input{Name: "release", Description: "Release version, a Git tag such as v1.2.3; defaults to the tag being built."}
	inCreateGitTag = step.Input{Name: "create-git-tag", Description: "Create the Git tag at the commit being built if it does not exist: through the GitHub API on GitHub, else git tag and git push origin.", Kind: step.Bool, Default: "false"}
	inGitDir       = step.Input{Name: "git-dir", Description: "Directory inside the Git repository whose tags are checked (and created); the working directory when empty."}
)

var Definition = step.Definition{
	Name:    "tag-sync",
	Summary: "Make the Git tag and the image tag agree: tag the built digest with the release version, never moving a version tag.",
	Inputs: append([]step.Input{
		inImage, inRelease, inCreateGitTag, inGitDir,
	}, access.RegistryInputs...),
	Outputs: []step.Output{
		{Name: "version", Description: "The release version (the Git tag)."},
		{Name: "release", Description: "The same version under the name the later steps take it as (kustomize-render's and bake-image's release input), so a dotenv from this step feeds them."},
		{Name: "tags", Description: "Comma-separated image tags that name the image: written or confirmed."},
		{Name: "image", Description: "The tagged image, repo@sha256:..."},
	},
}

func Run(ctx context.Context, s *step.Context) error {
	p, err := spec.Load(s.String(step.SpecInput))
	if err != nil {
		return err
	}
	token := access.GitHubToken(s)
	gitDir := s.String(inGitDir)
	var ci step.CI
	if gitDir == "" {
		ci = s.CI(ctx)
	} else {
		ci = step.DetectCI(ctx, s.Getenv, gitDir)
	}
	reg := access.Registry(s, ci, Definition.Name)
	createGitTag := s.Bool(inCreateGitTag)

	var image *name.Digest
	if in := s.String(inImage); in != "" {
		d, err := name.NewDigest(in, reg.NameOptions()...)
		if err != nil {
			return fmt.Errorf("input %q: %q is not an image pinned by digest (repo@sha256:…): %w", "image", in, err)
		}
		image = &d
	} else if !createGitTag {
		return fmt.Errorf("input %q is empty: tag-sync tags an image pinned by digest (repo@sha256:…), normally bake-image's image output; pass --image, or --create-git-tag to create only the Git tag", "image")
	}

	tag := s.String(inRelease)
	if tag == "" {
		tag = ci.Tag
	}
	if tag == "" {
		return step.Failed(notARelease(ci))
	}
	v, err := release.ParseVersion(tag, release.PolicyFrom(p.Versioning))
	if err != nil {
		return classify(err)
	}
	s.SetOutput("version", v.Tag)
	s.SetOutput("release", v.Tag)
	if ci.SHA == "" {
		return fmt.Errorf("the commit being built is unknown: no GITHUB_SHA or CI_COMMIT_SHA, and %q is not in a Git repository; run tag-sync in the repository or pass --git-dir", dirName(gitDir))
	}

	// Check everything first; write only when nothing refused.
	gt, err := checkGitTag(ctx, s, ci, v.Tag, gitDir, token, createGitTag)
	if err != nil {
		return classify(err)
	}
	var plan *release.Plan
	if image != nil {
		if plan, err = release.PlanTags(*image, v, p.Versioning.Floating, reg.Remote(ctx)); err != nil {
			return classify(reg.Explain(err))
		}
		if v.Prerelease() && len(p.Versioning.Floating) > 0 {
			s.Logf("tag-sync: %s is a pre-release: floating tags (%s) stay where they are", v, strings.Join(p.Versioning.Floating, ", "))
		}
	}

	if err := gt.Create(ctx); err != nil {
		return classify(err)
	}
	s.Logf("tag-sync: git tag %s at %s: %s", gt.Tag, gt.SHA, gt.Describe())
	if plan == nil {
		s.Summary(summary(v, gt, nil))
		return nil
	}
	if err := plan.Apply(reg.Remote(ctx)); err != nil {
		return reg.Explain(err)
	}
	for _, c := range plan.Changes {
		s.Logf("tag-sync: %s → %s: %s", c.Tag, c.Digest, c.Describe())
		if c.Warning != "" {
			s.Logf("tag-sync: warning: %s", c.Warning)
			s.Annotate(step.Annotation{Severity: step.SeverityWarning, Title: "tag-sync", Message: c.Warning})
		}
		if c.Written() && !s.JSON() {
			fmt.Fprintln(s.Stdout, c.Tag)
		}
	}
	s.SetOutput("tags", strings.Join(plan.Tags(), ","))
	s.SetOutput("image", image.String())
	s.Summary(summary(v, gt, plan))
	return nil
}

// checkGitTag verifies that the Git tag names the commit being built, or,
// with create, that it can be created there (through the GitHub API on
// GitHub, else git tag and git push). It changes nothing.
func checkGitTag(ctx context.Context, s *step.Context, ci step.CI, tag, gitDir, token string, create bool) (*release.GitTag, error) {
	local := release.Git{Dir: gitDir}
	b := release.Build{SHA: ci.SHA, Tag: ci.Tag, Ref: refName(ci)}
	if ci.Provider != step.ProviderLocal {
		b.TagSource = ciTagSource(ci)
	}
	var tagger release.GitTagger
	switch {
	case create && ci.Provider == step.ProviderGitHub:
		if token == "" {
			return nil, fmt.Errorf("creating git tag %q through the GitHub API needs a token: pass github-token (with: github-token: ${{ github.token }}) or set GITHUB_TOKEN, with contents: write permission", tag)
		}
		gh, err := release.NewGitHubTags(s.Getenv("GITHUB_API_URL"), token, ci.Repository, nil)
		if err != nil {
			return nil, err
		}
		tagger = gh
	case create:
		tagger = release.LocalTags{Git: local}
	}
	gt, err := release.CheckGitTag(ctx, local, tagger, tag, b)
	if err == nil && gt.State == release.TagTrusted {
		// A shallow CI checkout often lacks the tag it was started for.
		s.Logf("tag-sync: git tag %s is not in the local repository; trusting %s that it names the commit being built (%s)", tag, gt.Where, ci.SHA)
	}
	return gt, err
}

func notARelease(ci step.CI) error {
	if ci.Branch != "" {
		return fmt.Errorf("refusing a branch build: this run builds branch %q (commit %s), and only a release tag names an image version; push a tag such as v1.2.3 and let its pipeline tag the image, or pass --release v1.2.3 --create-git-tag", ci.Branch, ci.SHA)
	}
	return fmt.Errorf("no release tag: this run builds %s, not a tag; push a tag such as v1.2.3 and let its pipeline tag the image, or pass --release v1.2.3 --create-git-tag", refName(ci))
}

func refName(ci step.CI) string {
	switch {
	case ci.Ref != "":
		return ci.Ref
	case ci.SHA != "":
		return "commit " + ci.SHA
	}
	return "an unknown commit"
}

func ciTagSource(ci step.CI) string {
	if ci.Provider == step.ProviderGitLab {
		return "CI_COMMIT_TAG"
	}
	return "GITHUB_REF"
}

func dirName(dir string) string {
	if dir == "" {
		return "."
	}
	return dir
}

// classify maps refusals to exit 1; anything else could not be checked.
func classify(err error) error {
	var r *release.Refusal
	if errors.As(err, &r) {
		return step.Failed(err)
	}
	return err
}

func summary(v release.Version, gt *release.GitTag, plan *release.Plan) string {
	var b strings.Builder
	fmt.Fprintf(&b, "### tag-sync\n\n| | |\n|---|---|\n| version | `%s` |\n| git tag | `%s` at `%s`: %s |\n", v, gt.Tag, gt.SHA, gt.Describe())
	if plan == nil {
		return b.String()
	}
	fmt.Fprintf(&b, "| image | `%s` |\n\n| tag | digest | action |\n|---|---|---|\n", plan.Image)
	for _, c := range plan.Changes {
		fmt.Fprintf(&b, "| `%s` | `%s` | %s |\n", c.Tag, c.Digest, c.Describe())
	}
	if v.Prerelease() {
		fmt.Fprintf(&b, "\n%s is a pre-release: floating tags were not moved.\n", v)
	}
	return b.String()
}
