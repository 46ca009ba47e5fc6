package smoketest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/driftless-dev/driftless/internal/access"
	"github.com/driftless-dev/driftless/internal/evidence"
	"github.com/driftless-dev/driftless/internal/githubdeploy"
	"github.com/driftless-dev/driftless/internal/kube"
	"github.com/driftless-dev/driftless/internal/meta"
	"github.com/driftless-dev/driftless/internal/registry"
	"github.com/driftless-dev/driftless/internal/smoke"
	"github.com/driftless-dev/driftless/internal/spec"
	"github.com/driftless-dev/driftless/internal/step"
	"github.com/driftless-dev/driftless/internal/waves"
)

// clusterCheck is one cluster of an environment in waves, checked.
type clusterCheck struct {
	wave, cluster string
	tg            *checkTarget
	kc            kubernetes.Interface
	rel           meta.Release
	rep           smoke.Report
}

// runClusters checks every cluster of an environment in waves (or of the
// wave asked for), each at its url or through its API server's service
// proxy, against the release live there; every cluster is reached before
// any check runs. Evidence is recorded once, for the environment, when
// every cluster passed and the last wave was among them.
func runClusters(ctx context.Context, s *step.Context, p *spec.Pipeline, env *spec.Environment, ci step.CI, sm *spec.Smoke, checks []smoke.Check, timeout time.Duration, given meta.Release, signer *evidence.Signer, reg registry.Options) error {
	if s.IsSet(kube.ContextInput) {
		return fmt.Errorf("input %q names one cluster, and environment %q names the context of each of its clusters under waves in %s; leave it out (input %q checks one wave)", kube.ContextInput.Name, env.Name, p.File, inWave.Name)
	}
	ws := waves.FromSpec(p, env)
	wave := s.String(inWave)
	var names []string
	found := wave == ""
	for _, w := range ws {
		names = append(names, w.Name)
		found = found || w.Name == wave
	}
	if !found {
		return fmt.Errorf("input %q: wave %q is not in environment %q; valid waves: %s", inWave.Name, wave, env.Name, strings.Join(names, ", "))
	}
	last := wave == "" || wave == ws[len(ws)-1].Name
	o := waves.Options{Kubeconfig: s.String(kube.KubeconfigInput), KubeconfigEnv: s.Getenv("KUBECONFIG"), UserAgent: "driftless-" + Definition.Name + "/" + step.Version()}

	// Every cluster is reached first: an unreachable one means the step
	// could not run, whatever the others would answer.
	var all []*clusterCheck
	var unreachable []error
	for _, w := range ws {
		if wave != "" && w.Name != wave {
			continue
		}
		for _, c := range w.Clusters {
			cc, err := reachCluster(ctx, s, env, sm, w.Name, c, o)
			if err != nil {
				unreachable = append(unreachable, &waves.ClusterError{Wave: w.Name, Cluster: c.Name, Err: err})
				continue
			}
			all = append(all, cc)
		}
	}
	if len(unreachable) > 0 {
		return &waves.UnreachableError{Clusters: unreachable}
	}

	r := &smoke.Runner{Logf: func(format string, args ...any) { s.Logf("smoke-test: "+format, args...) }}
	merged := smoke.Report{Environment: env.Name, Target: fmt.Sprintf("%d cluster(s)", len(all))}
	var failed []string
	for _, cc := range all {
		rel, err := expected(ctx, s, p, env, ci, given, cc.tg, cc.kc)
		if err != nil {
			return &waves.ClusterError{Wave: cc.wave, Cluster: cc.cluster, Err: err}
		}
		cc.rel = rel
		cs, err := releaseChecks(s, rel, checks)
		if errors.Is(err, errNothingToVerify) {
			return fmt.Errorf("cluster %q: %w", cc.cluster, err)
		}
		if err != nil {
			return err
		}
		s.Logf("smoke-test: checking %s in cluster %s (wave %s) at %s: %d check(s), deadline %s", env.Name, cc.cluster, cc.wave, cc.tg.Description, len(cs), timeout)
		rep := r.Run(ctx, smoke.Suite{Environment: env.Name + "/" + cc.cluster, Target: cc.tg.Target, Checks: cs, Timeout: timeout})
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("smoke-test of %s interrupted: %w", env.Name, err)
		}
		cc.rep = rep.Mask(s.MaskString)
		printResults(s, &cc.rep)
		if merged.Started.IsZero() {
			merged.Started = cc.rep.Started
		}
		merged.Elapsed += cc.rep.Elapsed
		for _, res := range cc.rep.Results {
			res.Name = cc.cluster + ": " + res.Name
			merged.Results = append(merged.Results, res)
		}
		if cc.rep.Failed() > 0 {
			failed = append(failed, cc.cluster)
		}
	}
	s.SetOutput("passed", strconv.Itoa(merged.Passed()))
	s.SetOutput("failed", strconv.Itoa(merged.Failed()))
	if err := writeJUnit(s, &merged); err != nil {
		return err
	}
	rel := all[0].rel
	var differ []string
	for _, cc := range all[1:] {
		if cc.rel.Version != rel.Version || cc.rel.ConfigRevision != rel.ConfigRevision || cc.rel.Image != rel.Image {
			differ = append(differ, fmt.Sprintf("%s runs %s (%s), %s runs %s (%s)", all[0].cluster, rel.Version, rel.Image, cc.cluster, cc.rel.Version, cc.rel.Image))
		}
	}
	var gh *githubdeploy.Tracker
	if ci.Provider == step.ProviderGitHub {
		gh = githubdeploy.Track(ctx, githubdeploy.TrackOptions{
			Step: Definition.Name, APIURL: s.Getenv("GITHUB_API_URL"), Token: access.GitHubToken(s), Repository: ci.Repository,
			Request: githubdeploy.Request{Environment: firstNonEmpty(s.String(inCiEnvironment), env.Name), SHA: firstNonEmpty(ci.SHA, rel.GitSHA), Digest: rel.Digest(), Version: rel.Version,
				Description: "driftless smoke-test " + rel.Version, RunID: s.Getenv("GITHUB_RUN_ID")},
			Status: githubdeploy.Status{EnvironmentURL: env.URL, LogURL: ci.RunURL}, Logf: s.Logf,
		})
	}
	if len(failed) > 0 || len(differ) > 0 {
		s.Summary(clustersSummary(env, all, ""))
		var why []string
		if len(failed) > 0 {
			why = append(why, fmt.Sprintf("%d of %d check(s) failed in cluster(s) %s", merged.Failed(), len(merged.Results), strings.Join(failed, ", ")))
		}
		if len(differ) > 0 {
			why = append(why, "the clusters do not run one release: "+strings.Join(differ, "; "))
		}
		msg := fmt.Sprintf("%s: %s; see the results above", env.Name, strings.Join(why, "; "))
		gh.Finish(ctx, githubdeploy.StateFailure, "smoke-test: "+msg)
		return step.Failed(fmt.Errorf("%s", msg))
	}
	ref := ""
	var err error
	if last {
		ref, err = record(ctx, s, env, ci, rel, &merged, signer, reg)
	} else {
		s.Logf("smoke-test: evidence not recorded: wave %q is not the environment's last; it is recorded when the last wave passes", wave)
	}
	s.Summary(clustersSummary(env, all, ref))
	gh.Finish(ctx, githubdeploy.StateSuccess, fmt.Sprintf("smoke-test: %d checks passed in %d cluster(s)", merged.Passed(), len(all)))
	if err != nil {
		return err
	}
	s.Logf("smoke-test: %s verified in %d cluster(s): %d check(s) passed", env.Name, len(all), merged.Passed())
	return nil
}

// reachCluster connects to one cluster and picks its target: its url,
// else the smoke Service through its API server. With a url the cluster
// only tells what to expect, so an unreachable one is a warning then.
func reachCluster(ctx context.Context, s *step.Context, env *spec.Environment, sm *spec.Smoke, wave string, c waves.Cluster, o waves.Options) (*clusterCheck, error) {
	clients, err := waves.ConnectCluster(ctx, c, o)
	cc := &clusterCheck{wave: wave, cluster: c.Name}
	if c.URL != "" {
		tg, terr := smoke.URLTarget(c.URL)
		if terr != nil {
			return nil, terr
		}
		cc.tg = &checkTarget{Target: tg, External: c.URL}
		if err != nil {
			s.Logf("smoke-test: warning: cluster %q: %v; expecting what the inputs and the CI context say", c.Name, err)
			return cc, nil
		}
		cc.kc = clients.Kube
		return cc, nil
	}
	if err != nil {
		return nil, err
	}
	service := firstNonEmpty(s.String(inService), sm.Service)
	if service == "" {
		return nil, fmt.Errorf("the cluster has no url in the spec's waves and environment %q no smoke.service (name:port) to reach through its API server; give one of them", env.Name)
	}
	svc, err := smoke.ServiceName(service)
	if err != nil {
		return nil, err
	}
	tg, err := smoke.ServiceTarget(clients.Config, env.Namespace, service)
	if err != nil {
		return nil, err
	}
	if _, err := clients.Kube.CoreV1().Services(env.Namespace).Get(ctx, svc, metav1.GetOptions{}); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("Service/%s/%s not found in %s: is smoke.service (%q) right, and was the environment deployed there?", env.Namespace, svc, clients.Where, service)
		}
		return nil, fmt.Errorf("reading Service/%s/%s from %s: %w", env.Namespace, svc, clients.Where, err)
	}
	cc.tg, cc.kc = &checkTarget{Target: tg}, clients.Kube
	return cc, nil
}

func clustersSummary(env *spec.Environment, all []*clusterCheck, evidenceRef string) string {
	var b strings.Builder
	passed, total := 0, 0
	for _, cc := range all {
		passed += cc.rep.Passed()
		total += len(cc.rep.Results)
	}
	verdict := fmt.Sprintf("✅ %d passed in %d cluster(s)", passed, len(all))
	if passed < total {
		verdict = fmt.Sprintf("❌ %d of %d failed", total-passed, total)
	}
	ev := "not recorded"
	if evidenceRef != "" {
		ev = "`" + evidenceRef + "`"
	}
	fmt.Fprintf(&b, "### smoke-test %s: %s\n\nEvidence: %s\n\n| wave | cluster | target | version | result |\n|---|---|---|---|---|\n", env.Name, verdict, ev)
	for _, cc := range all {
		result := fmt.Sprintf("✅ %d passed", cc.rep.Passed())
		if cc.rep.Failed() > 0 {
			result = fmt.Sprintf("❌ %d of %d failed", cc.rep.Failed(), len(cc.rep.Results))
		}
		version := cc.rel.Version
		if version == "" {
			version = "unknown"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | `%s` | %s |\n", cc.wave, cc.cluster, cc.tg.Description, version, result)
	}
	for _, cc := range all {
		fmt.Fprintf(&b, "\n#### %s (wave %s)\n\n%s", cc.cluster, cc.wave, cc.rep.Markdown())
	}
	b.WriteString("\n")
	return b.String()
}
