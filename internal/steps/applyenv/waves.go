package applyenv

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/driftless-dev/driftless/internal/access"
	"github.com/driftless-dev/driftless/internal/apply"
	"github.com/driftless-dev/driftless/internal/githubdeploy"
	"github.com/driftless-dev/driftless/internal/kube"
	"github.com/driftless-dev/driftless/internal/spec"
	"github.com/driftless-dev/driftless/internal/step"
	"github.com/driftless-dev/driftless/internal/waves"
)

// runWaves deploys an environment that lists waves of clusters: every
// cluster is reached and checked first, the gates run once, then the
// waves run in order (package waves).
func runWaves(ctx context.Context, s *step.Context, p *spec.Pipeline, env *spec.Environment, ci step.CI, manifests []byte, objs []*unstructured.Unstructured, timeout, lockTimeout time.Duration) error {
	if s.IsSet(kube.ContextInput) {
		return fmt.Errorf("input %q names one cluster, and environment %q names the context of each of its clusters under waves in %s; leave it out (input %q deploys one of them)", kube.ContextInput.Name, env.Name, p.File, inCluster.Name)
	}
	o := waves.Options{
		Kubeconfig: s.String(kube.KubeconfigInput), KubeconfigEnv: s.Getenv("KUBECONFIG"),
		UserAgent: "driftless-" + Definition.Name + "/" + step.Version(),
		OnFailure: waves.Policy(env.OnFailure),
		Applier:   apply.Applier{ForceRecreate: s.Bool(inForceRecreate)},
		Wave:      s.String(inWave), Cluster: s.String(inCluster),
		Logf: s.Logf,
	}
	ws := waves.FromSpec(p, env)
	if s.Bool(inDryRun) {
		return dryRunWaves(ctx, s, p, env, ws, o, objs)
	}
	d, image, err := deploymentFor(s, p, env, ci, manifests, objs, timeout, lockTimeout)
	if err != nil {
		return err
	}
	// Every cluster is reached and checked before anything is written
	// anywhere, then the promotion gates run, once for the environment.
	plan, err := waves.Prepare(ctx, ws, d, o)
	var oe *apply.OutdatedError
	var nh *waves.NotHeldError
	if errors.As(err, &oe) || errors.As(err, &nh) {
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
		plan.SetOverride(override)
	}
	var gh *githubdeploy.Tracker
	if ci.Provider == step.ProviderGitHub && !d.Rollback {
		gh = githubdeploy.Track(ctx, githubdeploy.TrackOptions{
			Step: Definition.Name, APIURL: s.Getenv("GITHUB_API_URL"), Token: access.GitHubToken(s), Repository: ci.Repository,
			Request: githubdeploy.Request{Environment: firstNonEmpty(s.String(inCiEnvironment), env.Name), SHA: ci.SHA, Digest: d.Digest, Version: d.Version, Description: "driftless apply-env " + d.Version, RunID: s.Getenv("GITHUB_RUN_ID")},
			Status:  githubdeploy.Status{EnvironmentURL: env.URL, LogURL: ci.RunURL}, Start: true, Logf: s.Logf,
		})
	}
	end := s.Group(fmt.Sprintf("apply-env: deploying %d object(s) to %s (namespace %s) in %d cluster(s), wave by wave", len(objs), env.Name, env.Namespace, plan.Clusters()))
	rep, err := plan.Run(ctx)
	end()
	if err != nil {
		gh.Finish(ctx, githubdeploy.StateFailure, s.MaskString(err.Error()))
	} else {
		gh.Finish(ctx, githubdeploy.StateSuccess, "deployed")
	}
	setWaveOutputs(s, rep)
	s.Summary(wavesSummary(env, d, ci, rep, err))
	if err != nil {
		// Something may have been written: the rollout failed.
		return step.Failed(err)
	}
	s.Logf("apply-env: %s is at %s in every cluster of %d wave(s)", env.Name, d.Version, len(rep.Waves))
	return nil
}

func setWaveOutputs(s *step.Context, rep *waves.Report) {
	var revs, prevs, failed []string
	rolledBack := false
	for _, w := range rep.Waves {
		for _, c := range w.Clusters {
			if c.Result == waves.NotStarted || c.Result == waves.Held || c.Result == waves.Refused {
				continue
			}
			rev := c.Revision
			if c.Result == waves.RolledBack {
				rev = c.RolledBackTo
			}
			revs = append(revs, c.Cluster+"="+strconv.Itoa(rev))
			prevs = append(prevs, c.Cluster+"="+strconv.Itoa(c.Previous))
			if c.Result == waves.Failed {
				failed = append(failed, c.Cluster)
			}
			if c.Result == waves.RolledBack || (c.Outcome != nil && c.Outcome.RolledBack) {
				rolledBack = true
			}
		}
	}
	s.SetOutput("revision", strings.Join(revs, ","))
	s.SetOutput("previous_revision", strings.Join(prevs, ","))
	s.SetOutput("changed", strconv.FormatBool(rep.Changed()))
	s.SetOutput("rolled_back", strconv.FormatBool(rolledBack))
	s.SetOutput("failed_clusters", strings.Join(failed, ","))
}

func wavesSummary(env *spec.Environment, d apply.Deployment, ci step.CI, rep *waves.Report, err error) string {
	var b strings.Builder
	health := "✅ healthy in every cluster"
	if err != nil {
		health = "❌ " + err.Error()
	}
	commit := commitCell(ci, d.GitSHA)
	fmt.Fprintf(&b, "### apply-env %s\n\n| | |\n|---|---|\n| namespace | `%s` |\n| digest | `%s` |\n| version | `%s` |\n| commit | %s |\n| health | %s |\n",
		env.Name, env.Namespace, d.Digest, d.Version, commit, strings.ReplaceAll(strings.ReplaceAll(health, "\n", " "), "|", "\\|"))
	if env.URL != "" {
		fmt.Fprintf(&b, "| environment | <%s> |\n", env.URL)
	}
	if ci.RunURL != "" {
		fmt.Fprintf(&b, "| run | [%s](%s) |\n", ci.RunURL, ci.RunURL)
	}
	b.WriteString("\n")
	b.WriteString(rep.Markdown())
	return b.String()
}

// dryRunWaves diffs the manifests against every cluster of the waves (or
// the wave or cluster asked for), changing nothing.
func dryRunWaves(ctx context.Context, s *step.Context, p *spec.Pipeline, env *spec.Environment, ws []waves.Wave, o waves.Options, objs []*unstructured.Unstructured) error {
	set := apply.Owner{Pipeline: p.Name, Env: env.Name, Namespace: env.Namespace}.ApplySet()
	var b strings.Builder
	fmt.Fprintf(&b, "### apply-env %s: dry run\n\n", env.Name)
	var unreachable []error
	total := 0
	for _, w := range ws {
		if o.Wave != "" && w.Name != o.Wave {
			continue
		}
		for _, c := range w.Clusters {
			if o.Cluster != "" && c.Name != o.Cluster {
				continue
			}
			clients, err := waves.ConnectCluster(ctx, c, o)
			if err != nil {
				unreachable = append(unreachable, &waves.ClusterError{Wave: w.Name, Cluster: c.Name, Err: err})
				continue
			}
			a := &apply.Applier{C: clients, Logf: s.Logf}
			diffs, err := a.Diff(ctx, set, objs)
			if err != nil {
				return &waves.ClusterError{Wave: w.Name, Cluster: c.Name, Where: clients.Where, Err: err}
			}
			fmt.Fprintf(&b, "#### wave %s, cluster %s\n\n| object | would be |\n|---|---|\n", w.Name, c.Name)
			for _, d := range diffs {
				fmt.Fprintf(&b, "| `%s` | %s |\n", d.Object, d.Change)
				if d.Change == apply.Unchanged {
					continue
				}
				total++
				s.Logf("[%s] %s would be %s", c.Name, d.Object, d.Change)
				if d.Diff != "" {
					s.Logf("%s", d.Diff)
				}
			}
			b.WriteString("\n")
		}
	}
	if len(unreachable) > 0 {
		return &waves.UnreachableError{Clusters: unreachable}
	}
	s.Summary(b.String())
	commentOnPullRequest(ctx, s, p.Name+"/"+env.Name, b.String())
	s.SetOutput("changed", strconv.FormatBool(total > 0))
	if total > 0 {
		return step.Failed(fmt.Errorf("dry run: %d change(s) across the clusters (pruning is not previewed)", total))
	}
	s.Logf("apply-env: dry run: nothing would change in any cluster")
	return nil
}
