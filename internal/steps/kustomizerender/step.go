package kustomizerender

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/driftless-dev/driftless/internal/access"
	"github.com/driftless-dev/driftless/internal/configrev"
	"github.com/driftless-dev/driftless/internal/render"
	"github.com/driftless-dev/driftless/internal/spec"
	"github.com/driftless-dev/driftless/internal/step"
)

// The step's own inputs.
var (
	inEnv            = step.Input{Name: "env", Description: "Comma-separated environments to render; all when empty.", Kind: step.List}
	inImage          = step.Input{Name: "image", Description: "The pipeline's image pinned by digest (repo@sha256:...), normally bake-image's image output."}
	inOut            = step.Input{Name: "out", Description: "Directory to write <env>.yaml files to.", Default: "out"}
	inRelease        = step.Input{Name: "release", Description: "Release version recorded on every object; defaults to the Git tag being built."}
	inGitSha         = step.Input{Name: "git-sha", Description: "Commit recorded on every object; defaults to the commit being built."}
	inConfigRevision = step.Input{Name: "config-revision", Description: "Configuration revision recorded on every object; defaults to the hash of the spec's static.dir, computed as the service computes it."}
)

var Definition = step.Definition{
	Name:    "kustomize-render",
	Summary: "Render each environment's overlay or Helm chart with the image pinned by digest, one file per environment.",
	// The registry inputs reach the registries of OCI charts.
	Inputs: append([]step.Input{
		inEnv, inImage, inOut, inRelease, inGitSha, inConfigRevision,
	}, access.RegistryInputs...),
	Outputs: []step.Output{
		{Name: "rendered", Description: "JSON object: environment → {file, sha256, objects}."},
		{Name: "manifests", Description: "The written file, when one environment was rendered: apply-env's manifests input (a dotenv from this step feeds it as DRIFTLESS_MANIFESTS)."},
		{Name: "sha256", Description: "The sha256 of that file, when one environment was rendered."},
	},
}

type writtenFile struct {
	File    string `json:"file"`
	SHA256  string `json:"sha256"`
	Objects int    `json:"objects"`
}

func Run(ctx context.Context, s *step.Context) error {
	// Outside CI, telling the commit and tag runs git: let it run while the
	// spec loads and the configuration revision is computed.
	ciDone := make(chan step.CI, 1)
	go func() { ciDone <- s.CI(ctx) }()
	p, err := spec.Load(s.String(step.SpecInput))
	if err != nil {
		return err
	}
	var envs []*spec.Environment
	if names := s.List(inEnv); len(names) > 0 {
		for _, n := range names {
			e, err := p.Environment(n)
			if err != nil {
				return err
			}
			envs = append(envs, e)
		}
	} else {
		for i := range p.Environments {
			envs = append(envs, &p.Environments[i])
		}
	}
	ci := <-ciDone
	opts := render.Options{
		Image:          s.String(inImage),
		Version:        s.StringOr(inRelease, ci.Tag),
		GitSHA:         s.StringOr(inGitSha, ci.SHA),
		ConfigRevision: s.String(inConfigRevision),
		Registry:       access.Registry(s, ci, Definition.Name),
	}
	if opts.ConfigRevision == "" && p.Static != nil {
		if opts.ConfigRevision, err = configrev.Dir(p.Path(p.Static.Dir)); err != nil {
			return fmt.Errorf("computing the configuration revision of %q: %w", p.Static.Dir, err)
		}
	}
	// Every environment is rendered and checked before any file is
	// written: a refusal leaves no environment half-updated.
	// Environments render concurrently (kustomize's work is CPU-bound and
	// independent per overlay); results keep the spec's order.
	results := make([]*render.Result, len(envs))
	errs := make([]error, len(envs))
	var wg sync.WaitGroup
	for i, e := range envs {
		wg.Go(func() { results[i], errs[i] = render.EnvironmentContext(ctx, p, e, opts) })
	}
	wg.Wait()
	var rendered []*render.Result
	var refused, broken []error
	for i, err := range errs {
		var fe *render.FloatingImagesError
		switch {
		case errors.As(err, &fe):
			refused = append(refused, err)
		case err != nil:
			broken = append(broken, err)
		default:
			rendered = append(rendered, results[i])
		}
	}
	if len(broken) > 0 {
		return fmt.Errorf("%w; nothing was written", errors.Join(append(broken, refused...)...))
	}
	if len(refused) > 0 {
		return step.Failed(fmt.Errorf("%w; nothing was written", errors.Join(refused...)))
	}
	out := s.String(inOut)
	written := map[string]writtenFile{}
	for _, res := range rendered {
		path, err := res.Write(out)
		if err != nil {
			return err
		}
		if !s.JSON() {
			fmt.Fprintln(s.Stdout, path)
		}
		for _, h := range res.Dropped {
			s.Logf("kustomize-render: %s: chart test hook %s left out (chart.testHooks: drop)", res.Env, h)
		}
		s.Logf("kustomize-render: %s: %d object(s) → %s (sha256 %s)", res.Env, len(res.Objects), path, res.SHA256)
		written[res.Env] = writtenFile{File: path, SHA256: res.SHA256, Objects: len(res.Objects)}
		if len(envs) == 1 {
			s.SetOutput("manifests", path)
			s.SetOutput("sha256", res.SHA256)
		}
	}
	b, err := json.Marshal(written)
	if err != nil {
		return err
	}
	s.SetOutput("rendered", string(b))
	s.Summary(summary(opts, rendered, written))
	for i := 1; i < len(rendered); i++ {
		logDiff(s, rendered[i-1], rendered[i])
	}
	return nil
}

func kinds(r *render.Result) string {
	counts := map[string]int{}
	for _, o := range r.Objects {
		counts[o.Kind]++
	}
	var ks []string
	for k := range counts {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	var parts []string
	for _, k := range ks {
		parts = append(parts, fmt.Sprintf("%d %s", counts[k], k))
	}
	return strings.Join(parts, ", ")
}

func summary(opts render.Options, rendered []*render.Result, results map[string]writtenFile) string {
	var b strings.Builder
	fmt.Fprintf(&b, "### kustomize-render\n\n| | |\n|---|---|\n| image | `%s` |\n| version | `%s` |\n| git sha | `%s` |\n| config revision | `%s` |\n\n", opts.Image, opts.Version, opts.GitSHA, opts.ConfigRevision)
	b.WriteString("| environment | file | sha256 | objects |\n|---|---|---|---|\n")
	for _, r := range rendered {
		w := results[r.Env]
		fmt.Fprintf(&b, "| %s | `%s` | `%s` | %s |\n", r.Env, w.File, w.SHA256[:12], kinds(r))
	}
	for i := 1; i < len(rendered); i++ {
		a, c := rendered[i-1], rendered[i]
		fmt.Fprintf(&b, "\n#### %s → %s\n\n", a.Env, c.Env)
		diffs := render.Compare(a, c)
		if len(diffs) == 0 {
			b.WriteString("No differences besides the namespace.\n")
			continue
		}
		b.WriteString("| object | difference |\n|---|---|\n")
		for _, d := range diffs {
			what := strings.Join(d.Fields, "<br>")
			if d.OnlyIn != "" {
				what = "only in " + d.OnlyIn
			}
			fmt.Fprintf(&b, "| `%s` | %s |\n", d.Object, strings.ReplaceAll(what, "|", "\\|"))
		}
	}
	return b.String()
}

func logDiff(s *step.Context, a, c *render.Result) {
	for _, d := range render.Compare(a, c) {
		if d.OnlyIn != "" {
			s.Logf("  %s → %s: %s only in %s", a.Env, c.Env, d.Object, d.OnlyIn)
			continue
		}
		s.Logf("  %s → %s: %s: %s", a.Env, c.Env, d.Object, strings.Join(d.Fields, "; "))
	}
}
