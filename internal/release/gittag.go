package release

import (
	"context"
	"fmt"
)

// TagState is what happens to a release's Git tag.
type TagState int

// Git tag states.
const (
	// TagExists: the tag names the commit being built (checked).
	TagExists TagState = iota + 1
	// TagTrusted: the local checkout lacks the tag (a shallow CI clone
	// often does), but the CI started this run for it.
	TagTrusted
	// TagToCreate: the tag does not exist yet and will be created at the
	// commit being built.
	TagToCreate
	// TagCreated: the tag was created at the commit being built.
	TagCreated
)

func (s TagState) String() string {
	switch s {
	case TagExists:
		return "exists"
	case TagTrusted:
		return "trusted"
	case TagToCreate:
		return "to create"
	case TagCreated:
		return "created"
	}
	return fmt.Sprintf("TagState(%d)", int(s))
}

// Build is what the CI says about the run: the commit it builds and, when
// it builds a tag, which.
type Build struct {
	// SHA is the commit being built.
	SHA string
	// Tag is the tag the run was started for, if any.
	Tag string
	// TagSource names where Tag came from (GITHUB_REF, CI_COMMIT_TAG); empty
	// when no CI says so (a run by hand), and then a tag missing locally is
	// never trusted.
	TagSource string
	// Ref describes what is built, for messages: refs/heads/main, commit ….
	Ref string
}

// GitTag is a release's Git tag: where it stands and, once Create ran,
// where it was made.
type GitTag struct {
	Tag, SHA string
	State    TagState
	// Where it was checked or created: "in the local repository", "on
	// GitHub o/r"; for a trusted tag, the CI variable.
	Where string

	tagger GitTagger
}

// CheckGitTag verifies that the release's Git tag names the commit being
// built and changes nothing. With a tagger (the release flow creates its
// tag), a missing tag is TagToCreate and an existing one is checked where
// the tagger creates them too; without one, a tag missing locally is
// trusted only when the CI started the run for it, else it is a *Refusal.
// A tag on another commit is always a *Refusal.
func CheckGitTag(ctx context.Context, local Git, tagger GitTagger, tag string, b Build) (*GitTag, error) {
	gt := &GitTag{Tag: tag, SHA: b.SHA, Where: "in the local repository", tagger: tagger}
	found, err := local.CheckTag(ctx, tag, b.SHA)
	if err != nil {
		return gt, err
	}
	if tagger != nil {
		gt.Where = "on " + tagger.Where()
		exists, err := tagger.CheckTag(ctx, tag, b.SHA)
		if err != nil {
			return gt, err
		}
		gt.State = TagToCreate
		if exists {
			gt.State = TagExists
		}
		return gt, nil
	}
	switch {
	case found:
		gt.State = TagExists
	case b.Tag == tag && b.TagSource != "":
		gt.State, gt.Where = TagTrusted, b.TagSource
	default:
		return gt, refusef("git tag %q does not exist in the local repository, and it is not the tag being built (%s): the image tag would name a release Git does not have; create it at %s (git tag %s %s && git push origin %s), or pass --create-git-tag", tag, b.Ref, b.SHA, tag, b.SHA, tag)
	}
	return gt, nil
}

// Create creates the tag when it is TagToCreate; otherwise it does nothing.
func (g *GitTag) Create(ctx context.Context) error {
	if g.State != TagToCreate {
		return nil
	}
	if err := g.tagger.CreateTag(ctx, g.Tag, g.SHA); err != nil {
		return err
	}
	g.State = TagCreated
	return nil
}

// Describe says where the tag stands, for logs and summaries.
func (g *GitTag) Describe() string {
	switch g.State {
	case TagCreated:
		return "created " + g.Where
	case TagToCreate:
		return "to be created " + g.Where
	case TagTrusted:
		return "not in the local repository; trusted from " + g.Where
	}
	return "exists " + g.Where
}
