package render

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/driftless-dev/driftless/internal/imageref"
	"github.com/driftless-dev/driftless/internal/spec"
)

// PipelineRepos are the names by which manifests may refer to the
// pipeline's image: image.name (what the manifests call it) and
// image.repository.
func PipelineRepos(p *spec.Pipeline) []string {
	return uniq(p.ImageName(), p.Image.Repository)
}

// RunsPipelineImage reports whether image, as written in a container, is
// the pipeline's image under one of repos (ignoring its tag or digest).
func RunsPipelineImage(image string, repos []string) bool {
	return imageref.Runs(image, repos)
}

// ImageUseError refuses an environment in which the pipeline's image is
// not what runs: no container uses it, or a container runs it at another
// digest than the one recorded.
type ImageUseError struct {
	Env string
	// Names are the names the pipeline's image is known by (image.name,
	// image.repository).
	Names []string
	// Found are the distinct images the environment's containers run.
	Found []string
	// Digest is the digest the environment should run (empty when the
	// check ran before baking, as validate-config's does).
	Digest string
	// Mismatched are the containers that run the pipeline's image at
	// another digest (or none) than Digest.
	Mismatched []ImageProblem
}

func (e *ImageUseError) Error() string {
	var b strings.Builder
	if len(e.Mismatched) > 0 {
		fmt.Fprintf(&b, "environment %q: %d container(s) do not run the recorded image digest %s", e.Env, len(e.Mismatched), e.Digest)
		for _, p := range e.Mismatched {
			fmt.Fprintf(&b, "\n  %s container %q runs %q", p.Object, p.Container, p.Image)
		}
		return b.String()
	}
	fmt.Fprintf(&b, "environment %q: no container runs the pipeline's image (%s)", e.Env, quoteAll(e.Names))
	if len(e.Found) == 0 {
		b.WriteString("; it has no containers at all: an environment must run the image it deploys")
		return b.String()
	}
	fmt.Fprintf(&b, "; its containers run %s", quoteAll(e.Found))
	if s := e.Suggest(); s != "" {
		fmt.Fprintf(&b, "; set image.name in the spec to %q, the name the manifests use", s)
	} else {
		b.WriteString("; set image.name in the spec to the name the manifests give the service's image")
	}
	return b.String()
}

// Suggest returns the found image (without tag or digest) most likely
// meant as the pipeline's image: the one within two edits of one of Names,
// else whose last path element is a Name's, else the only image found.
func (e *ImageUseError) Suggest() string {
	var repos []string
	for _, f := range e.Found {
		r, _, _ := imageref.Split(f)
		repos = uniq(append(repos, r)...)
	}
	for _, n := range e.Names {
		if s := spec.Suggest(n, repos); s != "" {
			return s
		}
		for _, r := range repos {
			if path.Base(r) == path.Base(n) {
				return r
			}
		}
	}
	if len(repos) == 1 {
		return repos[0]
	}
	return ""
}

func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}

// CheckPipelineImage checks that at least one container of objs runs the
// pipeline's image (one of repos) and, when digest is set (sha256:...),
// that every container running it runs exactly that digest. It returns
// *ImageUseError otherwise: what is pinned and recorded must be what runs.
func CheckPipelineImage(env string, objs []Object, repos []string, digest string) error {
	e := &ImageUseError{Env: env, Names: repos, Digest: digest}
	uses := 0
	for _, o := range objs {
		for _, c := range Containers(o.Content) {
			if c.Image != "" && !slices.Contains(e.Found, c.Image) {
				e.Found = append(e.Found, c.Image)
			}
			if !RunsPipelineImage(c.Image, repos) {
				continue
			}
			uses++
			if _, _, d := imageref.Split(c.Image); digest != "" && d != digest {
				e.Mismatched = append(e.Mismatched, ImageProblem{Object: o.ID(), Container: c.Name, Image: c.Image})
			}
		}
	}
	if uses == 0 || len(e.Mismatched) > 0 {
		slices.Sort(e.Found)
		return e
	}
	return nil
}
