package bakeimage

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/driftless-dev/driftless/internal/access"
	"github.com/driftless-dev/driftless/internal/bake"
	"github.com/driftless-dev/driftless/internal/configrev"
	"github.com/driftless-dev/driftless/internal/registry"
	"github.com/driftless-dev/driftless/internal/release"
	"github.com/driftless-dev/driftless/internal/repofs"
	"github.com/driftless-dev/driftless/internal/spec"
	"github.com/driftless-dev/driftless/internal/step"
)

// The step's own inputs.
var (
	inRepository    = step.Input{Name: "repository", Description: "Repository to push to; defaults to the spec's image.repository."}
	inBase          = step.Input{Name: "base", Description: "Base image (tag, digest or scratch); defaults to the spec's image.base."}
	inPlatforms     = step.Input{Name: "platforms", Description: "Comma-separated platforms (os/arch) to keep from a multi-platform base; all when empty.", Kind: step.List}
	inRelease       = step.Input{Name: "release", Description: "Version recorded in the image (org.opencontainers.image.version); defaults to the Git tag being built."}
	inOciLayout     = step.Input{Name: "oci-layout", Description: "Write to this OCI image layout directory instead of pushing to a registry."}
	inIfBaseChanged = step.Input{Name: "if-base-changed", Description: "Only rebuild when the base has changed since the current image was baked: rebase the current image's layers onto the new base and push it.", Kind: step.Bool, Default: "false"}
	inCurrent       = step.Input{Name: "current", Description: "With if-base-changed: the image to check, a tag in the repository or a full reference; defaults to the newest release tag reachable in Git."}
)

var Definition = step.Definition{
	Name:    "bake-image",
	Summary: "Bake the base image, the static configuration and the binaries into a reproducible image pushed by digest.",
	Inputs: append([]step.Input{
		inRepository, inBase, inPlatforms, inRelease, inOciLayout, inIfBaseChanged, inCurrent,
	}, access.RegistryInputs...),
	Outputs: []step.Output{
		{Name: "digest", Description: "Digest of the image (or index) manifest, sha256:...."},
		{Name: "image", Description: "The image pinned by digest, repository@sha256:...."},
		{Name: "config_revision", Description: "Revision hash of the static configuration baked in."},
		{Name: "base_digest", Description: "Digest of the base the image is built on."},
		{Name: "changed", Description: "true when a new image was written; false when it was already there or the base had not changed."},
	},
}

func Run(ctx context.Context, s *step.Context) error {
	p, err := spec.Load(s.String(step.SpecInput))
	if err != nil {
		return err
	}
	ci := s.CI(ctx)
	reg := access.Registry(s, ci, Definition.Name)
	ropts := reg.Remote(ctx)
	repoName := s.StringOr(inRepository, p.Image.Repository)
	repo, err := name.NewRepository(repoName, reg.NameOptions()...)
	if err != nil {
		return fmt.Errorf("repository %q: %w", repoName, err)
	}
	layout := s.String(inOciLayout)

	if s.Bool(inIfBaseChanged) {
		return reg.Explain(ifBaseChanged(ctx, s, repo, layout, reg))
	}

	bs, err := bakeSpec(ctx, s, p, ci)
	if err != nil {
		return err
	}
	s.Logf("bake-image: baking %s on %s", repo, bs.Base)
	res, err := bake.Bake(ctx, bs, ropts, reg.NameOptions()...)
	if err != nil {
		return reg.Explain(err)
	}
	changed, err := write(s, res, repo, layout, bs.Version, ropts)
	if err != nil {
		return reg.Explain(err)
	}
	report(s, res, repo, bs.ConfigRevision, changed)
	return nil
}

func write(s *step.Context, res *bake.Result, repo name.Repository, layout, version string, ropts []remote.Option) (bool, error) {
	if layout != "" {
		ref := repo.String()
		if version != "" {
			ref += ":" + version
		}
		return bake.WriteLayout(res, layout, ref)
	}
	return bake.Push(res, repo, ropts)
}

func report(s *step.Context, res *bake.Result, repo name.Repository, rev string, changed bool) {
	image := repo.String() + "@" + res.Digest.String()
	s.SetOutput("digest", res.Digest.String())
	s.SetOutput("image", image)
	s.SetOutput("config_revision", rev)
	s.SetOutput("base_digest", res.BaseDigest)
	s.SetOutput("changed", strconv.FormatBool(changed))
	what := "written"
	if !changed {
		what = "already there, nothing uploaded"
	}
	s.Logf("bake-image: %s (%s)", image, what)
	if !s.JSON() {
		fmt.Fprintln(s.Stdout, image)
	}
	platforms := "single"
	if len(res.Platforms) > 0 {
		platforms = strings.Join(res.Platforms, ", ")
	}
	s.Summary(fmt.Sprintf("### bake-image\n\n| | |\n|---|---|\n| image | `%s` |\n| base | `%s` |\n| config revision | `%s` |\n| platforms | %s |\n| written | %t |\n", image, baseRef(res.BaseName, res.BaseDigest), rev, platforms, changed))
}

// baseRef names the base baked on: as the spec names it, with the digest
// it resolved to when the spec names it by tag.
func baseRef(name, digest string) string {
	if digest == "" || strings.HasSuffix(name, "@"+digest) {
		return name
	}
	return name + "@" + digest
}

// bakeSpec maps the pipeline spec and inputs to what is baked.
func bakeSpec(ctx context.Context, s *step.Context, p *spec.Pipeline, ci step.CI) (bake.Spec, error) {
	root, err := repofs.FindRoot(p.Dir)
	if err != nil {
		return bake.Spec{}, err
	}
	bs := bake.Spec{
		Root:       root,
		Base:       s.StringOr(inBase, p.Image.Base),
		Entrypoint: p.Image.Entrypoint,
		Cmd:        p.Image.Cmd,
		Env:        p.Image.Env,
		Labels:     p.Image.Labels,
		User:       p.Image.User,
		Revision:   ci.SHA,
		Version:    s.StringOr(inRelease, ci.Tag),
		Source:     source(ctx, s, p.Dir, ci),
		Platforms:  s.List(inPlatforms),
	}
	for _, l := range p.Image.Layers {
		mode, _ := l.FileMode()
		bs.Layers = append(bs.Layers, bake.File{Source: p.Path(l.From), Target: l.To, Mode: mode})
	}
	if st := p.Static; st != nil {
		// The same rules as the bake itself, before configrev reads the
		// files: its own refusals cannot say where a link leads.
		if err := root.Check(ctx, p.Path(st.Dir), repofs.RefuseLinks); err != nil {
			return bs, fmt.Errorf("static configuration: %w", err)
		}
		rev, err := configrev.Dir(p.Path(st.Dir))
		if err != nil {
			return bs, fmt.Errorf("static configuration: %w", err)
		}
		bs.Static = &bake.File{Source: p.Path(st.Dir), Target: st.Path}
		bs.ConfigRevision = rev
	}
	created, err := creationTime(ctx, s, p.Dir)
	if err != nil {
		return bs, err
	}
	bs.Created = created
	return bs, nil
}

// creationTime is SOURCE_DATE_EPOCH, else the commit time: never the clock,
// so the same commit bakes the same bytes.
func creationTime(ctx context.Context, s *step.Context, dir string) (time.Time, error) {
	if v := s.Getenv("SOURCE_DATE_EPOCH"); v != "" {
		sec, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH %q is not a number of seconds since 1970", v)
		}
		return time.Unix(sec, 0).UTC(), nil
	}
	t, err := release.Git{Dir: dir}.CommitTime(ctx)
	if err != nil {
		return time.Time{}, fmt.Errorf("cannot tell a reproducible creation time: set SOURCE_DATE_EPOCH or run inside a Git checkout (%w)", err)
	}
	return t, nil
}

// source is the repository URL, without credentials.
func source(ctx context.Context, s *step.Context, dir string, ci step.CI) string {
	switch {
	case ci.Provider == step.ProviderGitHub && ci.Repository != "":
		return ci.ServerURL + "/" + ci.Repository
	case ci.Provider == step.ProviderGitLab && s.Getenv("CI_PROJECT_URL") != "":
		return s.Getenv("CI_PROJECT_URL")
	}
	return release.Git{Dir: dir}.OriginURL(ctx)
}

func ifBaseChanged(ctx context.Context, s *step.Context, repo name.Repository, layout string, reg registry.Options) error {
	if layout != "" {
		return errors.New("if-base-changed reads the current image from the registry; it cannot be combined with oci-layout")
	}
	ropts := reg.Remote(ctx)
	cur := s.String(inCurrent)
	if cur == "" {
		tag, err := release.Git{Dir: filepath.Dir(s.String(step.SpecInput))}.LatestTag(ctx)
		if err != nil {
			return errors.New("if-base-changed needs the current image: pass current (a tag such as v1.4.2, or a full reference)")
		}
		cur = tag
	}
	ref, err := name.ParseReference(cur, reg.NameOptions()...)
	if !strings.ContainsAny(cur, "/:@") {
		ref, err = repo.Tag(cur), nil
	}
	if err != nil {
		return fmt.Errorf("current %q: %w", cur, err)
	}
	check, err := bake.CheckBase(ref, ropts, reg.NameOptions()...)
	if err != nil {
		return err
	}
	rev := ""
	if !check.Changed() {
		s.Logf("bake-image: base %s unchanged (%s); nothing to do", check.BaseName, check.Latest)
		res := &bake.Result{Digest: check.Current.Digest, BaseName: check.BaseName, BaseDigest: check.Latest}
		report(s, res, repo, labelOf(check), false)
		return nil
	}
	s.Logf("bake-image: base %s moved %s → %s; rebasing %s", check.BaseName, check.Recorded, check.Latest, ref)
	res, err := bake.Rebase(check, ropts, reg.NameOptions()...)
	if err != nil {
		return err
	}
	if _, err := bake.Push(res, repo, ropts); err != nil {
		return err
	}
	rev = labelOf(check)
	report(s, res, repo, rev, true)
	return nil
}

// labelOf returns the config revision recorded in the checked image.
func labelOf(c *bake.BaseCheck) string {
	res := &bake.Result{}
	if c.Current.MediaType.IsIndex() {
		res.Index, _ = c.Current.ImageIndex()
	} else {
		res.Image, _ = c.Current.Image()
	}
	labels, err := res.Labels()
	if err != nil {
		return ""
	}
	return labels[bake.KeyConfigRevision]
}
