package applyenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/driftless-dev/driftless/internal/githubapi"
	"github.com/driftless-dev/driftless/internal/meta"
	"github.com/driftless-dev/driftless/internal/prcomment"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/driftless-dev/driftless/internal/access"
	"github.com/driftless-dev/driftless/internal/apply"
	"github.com/driftless-dev/driftless/internal/bake"
	"github.com/driftless-dev/driftless/internal/configrev"
	"github.com/driftless-dev/driftless/internal/evidence"
	"github.com/driftless-dev/driftless/internal/gate"
	"github.com/driftless-dev/driftless/internal/githubdeploy"
	"github.com/driftless-dev/driftless/internal/kube"
	"github.com/driftless-dev/driftless/internal/registry"
	"github.com/driftless-dev/driftless/internal/release"
	"github.com/driftless-dev/driftless/internal/render"
	"github.com/driftless-dev/driftless/internal/spec"
	"github.com/driftless-dev/driftless/internal/step"
)

// The step's own inputs.
var (
	inEnv            = step.Input{Name: "env", Description: "The environment to deploy (a name from the spec)."}
	inManifests      = step.Input{Name: "manifests", Description: "The rendered environment (kustomize-render's file); rendered from the spec with image when empty."}
	inImage          = step.Input{Name: "image", Description: "The image pinned by digest (repo@sha256:...), to render with when manifests is empty."}
	inRelease        = step.Input{Name: "release", Description: "Version recorded in the release; defaults to the one recorded in the manifests, else the Git tag being built."}
	inTimeout        = step.Input{Name: "timeout", Description: "How long to wait for the environment to become healthy; defaults to the environment's timeout in the spec.", Kind: step.Duration}
	inLockTimeout    = step.Input{Name: "lock-timeout", Description: "How long to wait for another deployment of the environment to finish.", Default: "5m", Kind: step.Duration, ZeroOK: true}
	inDryRun         = step.Input{Name: "dry-run", Description: "Server-side dry run: print what would change (Secret values masked) and change nothing; exits 1 when something would change.", Kind: step.Bool, Default: "false"}
	inRollback       = step.Input{Name: "rollback", Description: "Re-apply the release before the last deployed one.", Kind: step.Bool, Default: "false"}
	inForceRecreate  = step.Input{Name: "force-recreate", Description: "Delete and recreate objects whose change touches an immutable field (never PersistentVolumeClaims).", Kind: step.Bool, Default: "false"}
	inOverrideFreeze = step.Input{Name: "override-freeze", Description: "Deploy inside a freeze window; the reason given is recorded in the release."}
	inCiEnvironment  = step.Input{Name: "ci-environment", Description: "The GitHub or GitLab environment the job runs in, when its name differs from the driftless environment's (GitHub exposes no variable for it)."}
	inWave           = step.Input{Name: "wave", Description: "With waves: deploy only this wave (one CI job per wave); every cluster of the waves before it must hold the release, for at least its bake time, and is only read."}
	inCluster        = step.Input{Name: "cluster", Description: "With waves: deploy only this cluster (one CI job per cluster); every cluster of the waves before its own must hold the release, for at least its bake time, and is only read."}
)

var Definition = step.Definition{
	Name:    "apply-env",
	Summary: "Apply a rendered environment to a cluster: staged server-side apply, health, prune, release history, rollback.",
	Inputs: append(append([]step.Input{
		inEnv, inManifests, inImage, inRelease, inTimeout, inLockTimeout, inDryRun, inRollback, inForceRecreate, inOverrideFreeze, inCiEnvironment, inWave, inCluster,
	}, kube.Inputs...), access.RegistryInputs...),
	Outputs: []step.Output{
		{Name: "revision", Description: "The release revision now deployed (unchanged on a re-apply that changed nothing); with waves, cluster=revision for each cluster deployed, comma-separated (revisions are per cluster)."},
		{Name: "changed", Description: "true when any object was created, configured, recreated or pruned (with dry-run: would be)."},
		{Name: "previous_revision", Description: "The release deployed before this run, 0 if none; with waves, cluster=revision for each cluster deployed."},
		{Name: "rolled_back", Description: "true when the rollout failed and the previous release was restored (with waves: in any cluster)."},
		{Name: "failed_clusters", Description: "With waves: the clusters whose rollout failed, comma-separated; empty when none did."},
	},
}

func Run(ctx context.Context, s *step.Context) error {
	apply.Warm()
	p, err := spec.Load(s.String(step.SpecInput))
	if err != nil {
		return err
	}
	env, err := p.Environment(s.String(inEnv))
	if err != nil {
		return fmt.Errorf("input %q: %w", "env", err)
	}
	ci := s.CI(ctx)
	manifests, err := manifestsFor(ctx, s, p, env, ci)
	if err != nil {
		return err
	}
	objs, err := apply.Parse(manifests)
	if err != nil {
		return fmt.Errorf("reading the manifests of %q: %w", env.Name, err)
	}
	timeout := env.Timeout.Duration
	if s.IsSet(inTimeout) {
		timeout = s.Duration(inTimeout)
	}
	lockTimeout := s.Duration(inLockTimeout)
	if len(env.Waves) > 0 {
		return runWaves(ctx, s, p, env, ci, manifests, objs, timeout, lockTimeout)
	}
	if s.IsSet(inWave) || s.IsSet(inCluster) {
		return fmt.Errorf("inputs %q and %q choose among an environment's waves, and environment %q has none", inWave.Name, inCluster.Name, env.Name)
	}
	clients, err := kube.ForStep(ctx, s, Definition.Name)
	if err != nil {
		return err
	}
	a := &apply.Applier{C: clients, ForceRecreate: s.Bool(inForceRecreate), Logf: s.Logf}

	if s.Bool(inDryRun) {
		return dryRun(ctx, s, a, p, env, objs)
	}

	d, image, err := deploymentFor(s, p, env, ci, manifests, objs, timeout, lockTimeout)
	if err != nil {
		return err
	}
	// Everything is checked before anything is written: the objects
	// against the cluster (Prepare), then the promotion gates.
	plan, err := a.Prepare(ctx, d)
	var oe *apply.OutdatedError
	if errors.As(err, &oe) {
		return step.Failed(err)
	}
	if err != nil {
		return err
	}
	if env.Promotion != nil && !d.Rollback {
		override, err := checkGates(ctx, s, p, env, ci, d, image)
		if err != nil {
			return err
		}
		plan.Release().Override = override
	}
	var gh *githubdeploy.Tracker
	if ci.Provider == step.ProviderGitHub && !d.Rollback {
		gh = githubdeploy.Track(ctx, githubdeploy.TrackOptions{
			Step: Definition.Name, APIURL: s.Getenv("GITHUB_API_URL"), Token: access.GitHubToken(s), Repository: ci.Repository,
			Request: githubdeploy.Request{Environment: firstNonEmpty(s.String(inCiEnvironment), env.Name), SHA: ci.SHA, Digest: d.Digest, Version: d.Version, Description: "driftless apply-env " + d.Version, RunID: s.Getenv("GITHUB_RUN_ID")},
			Status:  githubdeploy.Status{EnvironmentURL: env.URL, LogURL: ci.RunURL}, Start: true, Logf: s.Logf,
		})
	}
	end := s.Group(fmt.Sprintf("apply-env: deploying %d object(s) to %s (namespace %s)", len(objs), env.Name, env.Namespace))
	out, err := a.Run(ctx, plan)
	end()
	if err != nil {
		gh.Finish(ctx, githubdeploy.StateFailure, s.MaskString(err.Error()))
	} else {
		gh.Finish(ctx, githubdeploy.StateSuccess, "deployed")
	}
	if out != nil {
		s.SetOutput("changed", strconv.FormatBool(out.Changed))
		s.SetOutput("previous_revision", strconv.Itoa(out.Previous))
		s.SetOutput("rolled_back", strconv.FormatBool(out.RolledBack))
		rev := out.Revision
		if out.RolledBack {
			rev = out.Previous
		}
		s.SetOutput("revision", strconv.Itoa(rev))
		s.Summary(summary(env, d, ci, out, err))
	}
	var re *apply.RolloutError
	var le *apply.LockedError
	var ie *apply.ImmutableError
	var ce *apply.CancelledError
	switch {
	case errors.As(err, &re), errors.As(err, &le), errors.As(err, &ie), errors.As(err, &oe), errors.As(err, &ce):
		return step.Failed(err)
	case err != nil:
		return err
	}
	s.Logf("apply-env: %s is at release %d (%s)", env.Name, out.Revision, d.Version)
	return nil
}

// deploymentFor is the deployment of the manifests: which release they
// are (what the inputs say, else what kustomize-render recorded on the
// objects, else the CI context), checked to run the pipeline's image.
// It returns the image too.
func deploymentFor(s *step.Context, p *spec.Pipeline, env *spec.Environment, ci step.CI, manifests []byte, objs []*unstructured.Unstructured, timeout, lockTimeout time.Duration) (apply.Deployment, string, error) {
	recorded := recordedRelease(objs)
	rel, _ := meta.Resolve(
		meta.Source{Name: "inputs", Release: meta.Release{Version: s.String(inRelease), Image: s.String(inImage)}},
		meta.Source{Name: "the manifests", Release: recorded},
		meta.Source{Name: "the CI context", Release: meta.Release{Version: ci.Tag, GitSHA: ci.SHA}},
	)
	image := rel.Image
	if !s.Bool(inRollback) {
		if err := checkImage(p, env, objs, image, recorded.Image); err != nil {
			return apply.Deployment{}, "", err
		}
	}
	holder := ci.RunURL
	if holder == "" {
		host, _ := os.Hostname()
		holder = fmt.Sprintf("%s@%s (pid %d)", ci.Actor, host, os.Getpid())
	}
	return apply.Deployment{
		Pipeline: p.Name, Env: env.Name, Namespace: env.Namespace, Manifests: manifests,
		Digest:     rel.Digest(),
		GitSHA:     rel.GitSHA,
		Version:    rel.Version,
		ImageRepos: imageRepos(p, image),
		Keep:       env.Keep, Timeout: timeout, Holder: holder, LockTimeout: lockTimeout,
		Rollback: s.Bool(inRollback),
	}, image, nil
}

// checkGates evaluates every promotion gate before anything is written and
// refuses (exit 1) if one fails. It returns the freeze override reason to
// record in the release.
func checkGates(ctx context.Context, s *step.Context, p *spec.Pipeline, env *spec.Environment, ci step.CI, d apply.Deployment, image string) (string, error) {
	dg, err := name.NewDigest(image)
	if err != nil {
		return "", fmt.Errorf("checking the promotion gates of %q needs the image pinned by digest (input image, or the driftless.dev/image annotation kustomize-render records): %q: %w", env.Name, image, err)
	}
	reg := access.Registry(s, ci, Definition.Name)
	var verifier *evidence.Verifier
	if keys := env.Promotion.PublicKeys; len(keys) > 0 {
		paths := make([]string, len(keys))
		for i, k := range keys {
			paths[i] = p.Path(k)
		}
		if verifier, err = evidence.LoadVerifier(paths...); err != nil {
			return "", err
		}
	}
	in := gate.Input{
		Pipeline: p, Environment: env, Digest: dg, Version: d.Version, CI: ci, Getenv: s.Getenv,
		Evidence: evidence.Store{Options: reg.Remote(ctx), Explain: reg.Explain}, Verifier: verifier,
		CIEnvironment: s.String(inCiEnvironment), Override: gate.Override{Reason: s.String(inOverrideFreeze)},
	}
	if ci.Provider == step.ProviderGitHub {
		gh, err := githubapi.New(s.Getenv("GITHUB_API_URL"), reg.GitHubToken, nil)
		if err != nil {
			return "", err
		}
		in.GitHub = gate.GitHubAPI{Client: gh}
	}
	if ci.Tag == "" && d.Version != "" && env.Promotion.GitTag == "required" {
		// Not a tag's pipeline but a named release: a rebuild (the
		// scheduled rebase onto a new base). gitTag: required then asks
		// that the tag names the commit the image was built from.
		rb, err := rebuildFacts(ctx, dg, d.Version, reg, filepath.Dir(p.File))
		if err != nil {
			return "", reg.Explain(err)
		}
		in.Rebuild = rb
	}
	rep := gate.Evaluate(ctx, in)
	fmt.Fprint(s.Stderr, rep.Text())
	s.Summary(rep.Markdown())
	if err := rep.Err(); err != nil {
		return "", step.Failed(fmt.Errorf("%w; nothing was applied", err))
	}
	for _, r := range rep.Results {
		if r.Override != "" {
			return r.Override, nil
		}
	}
	return "", nil
}

// rebuildFacts reads what the gitTag gate checks of a rebuild: the commit
// the release tag points at, and the revision the image records.
func rebuildFacts(ctx context.Context, dg name.Digest, version string, reg registry.Options, dir string) (*gate.Rebuild, error) {
	rb := &gate.Rebuild{}
	rb.TagCommit, _ = release.Git{Dir: dir}.TagCommit(ctx, version)
	desc, err := remote.Get(dg, reg.Remote(ctx)...)
	if err != nil {
		return nil, fmt.Errorf("reading %s for its revision: %w", dg, err)
	}
	res := &bake.Result{}
	if desc.MediaType.IsIndex() {
		res.Index, err = desc.ImageIndex()
	} else {
		res.Image, err = desc.Image()
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", dg, err)
	}
	labels, err := res.Labels()
	if err != nil {
		return nil, fmt.Errorf("reading the labels of %s: %w", dg, err)
	}
	rb.ImageRevision = labels[bake.KeyRevision]
	return rb, nil
}

// manifestsFor reads the rendered file, or renders the environment.
func manifestsFor(ctx context.Context, s *step.Context, p *spec.Pipeline, env *spec.Environment, ci step.CI) ([]byte, error) {
	if f := s.String(inManifests); f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("reading the manifests: %w", err)
		}
		return b, nil
	}
	if s.Bool(inRollback) {
		return nil, nil
	}
	opts := render.Options{Image: s.String(inImage), Version: s.StringOr(inRelease, ci.Tag), GitSHA: ci.SHA, Registry: access.Registry(s, ci, Definition.Name)}
	if p.Static != nil {
		rev, err := configrev.Dir(p.Path(p.Static.Dir))
		if err != nil {
			return nil, err
		}
		opts.ConfigRevision = rev
	}
	res, err := render.EnvironmentContext(ctx, p, env, opts)
	var fe *render.FloatingImagesError
	if errors.As(err, &fe) {
		return nil, step.Failed(err)
	}
	if err != nil {
		return nil, err
	}
	for _, h := range res.Dropped {
		s.Logf("apply-env: %s: chart test hook %s left out (chart.testHooks: drop)", env.Name, h)
	}
	return res.YAML, nil
}

// checkImage refuses manifests in which the pipeline's image is not what
// runs: no container runs it, or one runs another digest than the image
// recorded (or given as input). Manifests rendered elsewhere are held to
// the same rule as kustomize-render's.
func checkImage(p *spec.Pipeline, env *spec.Environment, objs []*unstructured.Unstructured, image, recorded string) error {
	if recorded != "" && image != recorded {
		return fmt.Errorf("input image %q is not the image the manifests record (%s=%q): render the manifests with that image, or leave the input empty", image, meta.AnnotationImage, recorded)
	}
	if image == "" {
		return fmt.Errorf("environment %q: the manifests record no image (%s) and input image is empty: give the image pinned by digest, as kustomize-render records it", env.Name, meta.AnnotationImage)
	}
	dg, err := name.NewDigest(image)
	if err != nil {
		return fmt.Errorf("image %q is not pinned by digest: want repo@sha256:<64 hex>, as bake-image outputs: %w", image, err)
	}
	rendered := make([]render.Object, len(objs))
	for i, u := range objs {
		rendered[i] = render.Object{APIVersion: u.GetAPIVersion(), Kind: u.GetKind(), Namespace: u.GetNamespace(), Name: u.GetName(), Content: u.Object}
	}
	return render.CheckPipelineImage(env.Name, rendered, imageRepos(p, image), dg.DigestStr())
}

// imageRepos are the names the pipeline's image goes by: the spec's, and
// the repository of the image as recorded.
func imageRepos(p *spec.Pipeline, image string) []string {
	repos := render.PipelineRepos(p)
	if i := strings.LastIndex(image, "@"); i > 0 && !slices.Contains(repos, image[:i]) {
		repos = append(repos, image[:i])
	}
	return repos
}

// commentOnPullRequest posts the dry run on the pull request being built,
// as one comment per pipeline and environment that later runs edit in
// place. Outside a GitHub pull request, or without a token, it does
// nothing; a failure is a warning (the summary has the same text).
func commentOnPullRequest(ctx context.Context, s *step.Context, key, markdown string) {
	ci := s.CI(ctx)
	pr := prcomment.PullRequest(ci.Ref)
	if ci.Provider != step.ProviderGitHub || pr == 0 || (ci.EventName != "pull_request" && ci.EventName != "pull_request_target") {
		return
	}
	token := access.GitHubToken(s)
	owner, repo, err := githubapi.SplitRepository(ci.Repository)
	if err != nil || token == "" {
		s.Logf("apply-env: the dry run is not commented on pull request #%d: no github-token or GITHUB_REPOSITORY", pr)
		return
	}
	gh, err := githubapi.New(s.Getenv("GITHUB_API_URL"), token, nil)
	if err == nil {
		var url string
		url, _, err = prcomment.Upsert(ctx, gh, owner, repo, pr, key, s.MaskString(markdown))
		if err == nil {
			s.Logf("apply-env: dry run commented on pull request #%d: %s", pr, url)
			return
		}
	}
	s.Logf("apply-env: warning: commenting the dry run on pull request #%d: %v (it needs permissions: pull-requests: write)", pr, err)
}

// shortSHA is the first 12 characters of a commit, as links show it.
func shortSHA(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

// recordedRelease reads the release kustomize-render recorded on the
// objects.
func recordedRelease(objs []*unstructured.Unstructured) meta.Release {
	for _, u := range objs {
		if r := meta.Recorded(u.GetAnnotations()); r.Image != "" || r.Version != "" {
			return r
		}
	}
	return meta.Release{}
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

func dryRun(ctx context.Context, s *step.Context, a *apply.Applier, p *spec.Pipeline, env *spec.Environment, objs []*unstructured.Unstructured) error {
	set := apply.Owner{Pipeline: p.Name, Env: env.Name, Namespace: env.Namespace}.ApplySet()
	diffs, err := a.Diff(ctx, set, objs)
	if err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "### apply-env %s: dry run\n\n| object | would be |\n|---|---|\n", env.Name)
	n := 0
	for _, d := range diffs {
		fmt.Fprintf(&b, "| `%s` | %s |\n", d.Object, d.Change)
		if d.Change == apply.Unchanged {
			continue
		}
		n++
		s.Logf("%s would be %s", d.Object, d.Change)
		if d.Diff != "" {
			s.Logf("%s", d.Diff)
		}
	}
	for _, d := range diffs {
		if d.Diff != "" {
			fmt.Fprintf(&b, "\n<details><summary>%s</summary>\n\n```diff\n%s\n```\n</details>\n", d.Object, d.Diff)
		}
	}
	s.Summary(b.String())
	commentOnPullRequest(ctx, s, p.Name+"/"+env.Name, b.String())
	s.SetOutput("changed", strconv.FormatBool(n > 0))
	if n > 0 {
		return step.Failed(fmt.Errorf("dry run: %d object(s) would change (pruning is not previewed)", n))
	}
	s.Logf("apply-env: dry run: nothing would change")
	return nil
}

// commitCell is the summary's commit: linked on GitHub and GitLab, the
// full SHA elsewhere.
func commitCell(ci step.CI, sha string) string {
	if u := ci.CommitURL(sha); u != "" {
		return "[`" + shortSHA(sha) + "`](" + u + ")"
	}
	return "`" + sha + "`"
}

func summary(env *spec.Environment, d apply.Deployment, ci step.CI, out *apply.Outcome, err error) string {
	var b strings.Builder
	health := "✅ healthy"
	if err != nil {
		health = "❌ " + err.Error()
	}
	commit := commitCell(ci, d.GitSHA)
	fmt.Fprintf(&b, "### apply-env %s\n\n| | |\n|---|---|\n| namespace | `%s` |\n| digest | `%s` |\n| version | `%s` |\n| commit | %s |\n| release | %d |\n| previous release | %d |\n| health | %s |\n",
		env.Name, env.Namespace, d.Digest, d.Version, commit, out.Revision, out.Previous, strings.ReplaceAll(health, "|", "\\|"))
	if env.URL != "" {
		fmt.Fprintf(&b, "| environment | <%s> |\n", env.URL)
	}
	if ci.RunURL != "" {
		fmt.Fprintf(&b, "| run | [%s](%s) |\n", ci.RunURL, ci.RunURL)
	}
	b.WriteString("\n")
	counts := map[apply.Change]int{}
	for _, r := range out.Results {
		counts[r.Change]++
	}
	fmt.Fprintf(&b, "| created | configured | unchanged | recreated | pruned |\n|---:|---:|---:|---:|---:|\n| %d | %d | %d | %d | %d |\n\n",
		counts[apply.Created], counts[apply.Configured], counts[apply.Unchanged], counts[apply.Recreated], counts[apply.Pruned])
	if len(out.DriftCorrected) > 0 {
		fmt.Fprintf(&b, "Release %d was already live; this run put back what had drifted (recorded on the release, no new release): %s\n\n", out.Revision, strings.Join(out.DriftCorrected, ", "))
	}
	if len(out.LegacyLeft) > 0 {
		fmt.Fprintf(&b, "Left alone, never pruned through the rename of driftless's ApplySet (delete them by hand if they are this pipeline's): %s\n\n", strings.Join(out.LegacyLeft, ", "))
	}
	// What changed, object by object; unchanged objects are only counted
	// (500 rows of "unchanged" hide the three that matter).
	header := false
	for _, r := range out.Results {
		if r.Change == apply.Unchanged {
			continue
		}
		if !header {
			b.WriteString("| object | change |\n|---|---|\n")
			header = true
		}
		fmt.Fprintf(&b, "| `%s` | %s |\n", r.Object, r.Change)
	}
	var re *apply.RolloutError
	if errors.As(err, &re) && len(re.Pods) > 0 {
		b.WriteString("\n" + podReports(re.Pods))
	}
	return b.String()
}
