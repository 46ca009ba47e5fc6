package waves

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/driftless-dev/driftless/internal/apply"
	"github.com/driftless-dev/driftless/internal/kube"
	"github.com/driftless-dev/driftless/internal/spec"
)

// Policy is what a failing wave rolls back.
type Policy string

// Policies, as the spec's onFailure names them.
const (
	// RollbackFailed rolls back the clusters whose rollout failed (apply
	// does that itself); the wave's healthy clusters keep the release.
	RollbackFailed Policy = "rollback-failed"
	// RollbackWave rolls back every cluster of the failing wave.
	RollbackWave Policy = "rollback-wave"
)

// Wave is a group of clusters deployed together.
type Wave struct {
	Name     string
	Clusters []Cluster
	// Parallelism is how many clusters are deployed at once; 0 means all.
	Parallelism int
	// Bake is how long every cluster of the wave must have held the
	// release before the next wave starts.
	Bake time.Duration
}

// Cluster is how to reach one cluster.
type Cluster struct {
	Name string
	// Kubeconfig is the cluster's kubeconfig file; when empty,
	// Options.Kubeconfig, else Options.KubeconfigEnv (KUBECONFIG).
	Kubeconfig string
	// Context is the kubeconfig context; the current one when empty.
	Context string
	// URL is the service's base URL in this cluster (smoke-test's).
	URL string
}

// FromSpec returns env's waves, kubeconfig paths resolved against the
// spec's directory.
func FromSpec(p *spec.Pipeline, env *spec.Environment) []Wave {
	var out []Wave
	for _, w := range env.Waves {
		wave := Wave{Name: w.Name, Parallelism: w.Parallelism, Bake: w.Bake.Duration}
		for _, c := range w.Clusters {
			wave.Clusters = append(wave.Clusters, Cluster{Name: c.Name, Kubeconfig: p.Path(c.Kubeconfig), Context: c.Context, URL: c.URL})
		}
		out = append(out, wave)
	}
	return out
}

// Options say how clusters are reached and deployed.
type Options struct {
	// Kubeconfig and KubeconfigEnv are the step's kubeconfig input and
	// KUBECONFIG, for clusters that name no kubeconfig file.
	Kubeconfig, KubeconfigEnv string
	// UserAgent names the step to each API server.
	UserAgent string
	OnFailure Policy
	// Applier holds the settings each cluster's applier copies (force
	// recreate, workers, poll interval, lease duration, cancel grace);
	// its clients and log are set per cluster.
	Applier apply.Applier
	// Wave, when set, deploys only that wave; Cluster, when set, only that
	// cluster. The waves before it are read, never written: each of their
	// clusters must hold the release, for at least the wave's bake time.
	Wave, Cluster string
	// Connect reaches a cluster; ConnectCluster (kube.Connect, then
	// Check) when nil.
	Connect func(ctx context.Context, c Cluster, o Options) (*kube.Clients, error)
	// Logf prints progress; lines about one cluster start with its name.
	Logf func(format string, args ...any)
	// BakeCheck bounds the health check at the end of a bake: a wave still
	// healthy answers at once, one that is not has this long to recover;
	// DefaultBakeCheck when zero.
	BakeCheck time.Duration
}

func (o Options) logf(format string, args ...any) {
	if o.Logf != nil {
		o.Logf(format, args...)
	}
}

// ConnectCluster connects to c as kube.Connect does and asks its API
// server for its version, so an unreachable cluster is named before
// anything is written.
func ConnectCluster(ctx context.Context, c Cluster, o Options) (*kube.Clients, error) {
	kubeconfig, env := c.Kubeconfig, ""
	if kubeconfig == "" {
		kubeconfig, env = o.Kubeconfig, o.KubeconfigEnv
	}
	clients, err := kube.Connect(kubeconfig, env, c.Context, o.UserAgent)
	if err != nil {
		return nil, err
	}
	if err := clients.Check(ctx); err != nil {
		return nil, err
	}
	return clients, nil
}

// target is one cluster of the plan.
type target struct {
	wave    int
	cluster Cluster
	clients *kube.Clients
	applier *apply.Applier
	plan    *apply.Plan
	// held is the live release of a cluster of an earlier wave, which
	// is read only.
	held *apply.ReleaseRecord
}

func (t *target) where() string {
	if t.clients == nil {
		return ""
	}
	return t.clients.Where
}

// Plan is a deployment checked against every cluster, ready to run.
type Plan struct {
	waves []Wave
	d     apply.Deployment
	o     Options
	// targets holds each wave's clusters, in the spec's order; first is
	// the first wave deployed (earlier waves are only read).
	targets [][]*target
	first   int
}

// Prepare connects to every cluster of every wave and checks d against
// each (apply.Prepare), writing nothing. An unreachable cluster gives
// *UnreachableError naming every one; a cluster that refuses the
// deployment gives its apply error, wrapped in *ClusterError.
func Prepare(ctx context.Context, waves []Wave, d apply.Deployment, o Options) (*Plan, error) {
	if d.Now == nil {
		d.Now = time.Now
	}
	if o.OnFailure == "" {
		o.OnFailure = RollbackFailed
	}
	if o.Connect == nil {
		o.Connect = ConnectCluster
	}
	if len(waves) == 0 {
		return nil, errors.New("the environment has no waves")
	}
	p := &Plan{waves: waves, d: d, o: o, targets: make([][]*target, len(waves))}
	if err := p.choose(); err != nil {
		return nil, err
	}
	var all []*target
	for _, ts := range p.targets {
		all = append(all, ts...)
	}
	errs := make([]error, len(all))
	forEach(len(all), connectWorkers, func(i int) {
		t := all[i]
		t.clients, errs[i] = o.Connect(ctx, t.cluster, o)
		if errs[i] != nil {
			errs[i] = &ClusterError{Wave: waves[t.wave].Name, Cluster: t.cluster.Name, Err: errs[i]}
		}
	})
	if ue := unreachable(errs); ue != nil {
		return nil, ue
	}
	if err := sameServer(all, waves); err != nil {
		return nil, err
	}
	for _, t := range all {
		t.applier = p.applierFor(t)
	}
	// Earlier waves are read; the clusters to deploy are checked.
	forEach(len(all), connectWorkers, func(i int) {
		t := all[i]
		if t.wave < p.first {
			errs[i] = p.readHeld(ctx, t)
		} else {
			t.plan, errs[i] = t.applier.Prepare(ctx, d)
		}
		if errs[i] != nil {
			errs[i] = &ClusterError{Wave: waves[t.wave].Name, Cluster: t.cluster.Name, Where: t.where(), Err: errs[i]}
		}
	})
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return p, nil
}

// connectWorkers bounds how many clusters are connected to, and checked,
// at once.
const connectWorkers = 8

// choose keeps the wave, or the cluster, Options ask for.
func (p *Plan) choose() error {
	o := p.o
	var names, clusters []string
	wave, cluster := -1, ""
	for i, w := range p.waves {
		names = append(names, w.Name)
		if w.Name == o.Wave {
			wave = i
		}
		for _, c := range w.Clusters {
			clusters = append(clusters, c.Name)
			if c.Name == o.Cluster {
				if o.Wave != "" && w.Name != o.Wave {
					return fmt.Errorf("cluster %q is in wave %q, not in wave %q", c.Name, w.Name, o.Wave)
				}
				wave, cluster = i, c.Name
			}
		}
	}
	switch {
	case o.Cluster != "" && cluster == "":
		return fmt.Errorf("cluster %q is not in the environment's waves; valid clusters: %s", o.Cluster, strings.Join(clusters, ", "))
	case o.Wave != "" && wave < 0:
		return fmt.Errorf("wave %q is not in the environment; valid waves: %s", o.Wave, strings.Join(names, ", "))
	case wave < 0:
		wave = 0
	}
	p.first = wave
	last := len(p.waves) - 1
	if o.Wave != "" || o.Cluster != "" {
		last = wave
	}
	for i, w := range p.waves[:last+1] {
		// A rollback goes back wherever it is asked to: it needs no
		// earlier wave to hold anything.
		if i < wave && p.d.Rollback {
			continue
		}
		for _, c := range w.Clusters {
			if cluster != "" && i == wave && c.Name != cluster {
				continue
			}
			p.targets[i] = append(p.targets[i], &target{wave: i, cluster: c})
		}
	}
	return nil
}

// applierFor is the applier of one cluster: Options' settings, the
// cluster's clients, log lines that name it.
func (p *Plan) applierFor(t *target) *apply.Applier {
	a := p.o.Applier
	a.C = t.clients
	name := t.cluster.Name
	a.Logf = func(format string, args ...any) {
		p.o.logf("[%s] %s", name, fmt.Sprintf(format, args...))
	}
	return &a
}

// readHeld reads what an earlier wave's cluster has live, and refuses
// unless it is this release.
func (p *Plan) readHeld(ctx context.Context, t *target) error {
	history, err := apply.History(ctx, t.clients, p.d.Owner(), p.d.ImageRepos)
	if err != nil {
		return err
	}
	live := apply.LastDeployed(history)
	ok, err := live.Holds(p.d)
	if err != nil {
		return err
	}
	if !ok {
		return &NotHeldError{Wave: p.waves[t.wave].Name, Cluster: t.cluster.Name, Version: p.d.Version, Live: live, Next: p.waves[p.first].Name}
	}
	t.held = live
	return nil
}

// SetOverride records reason (a freeze window overridden) in the release
// of every cluster.
func (p *Plan) SetOverride(reason string) {
	p.d.Override = reason
	for _, ts := range p.targets {
		for _, t := range ts {
			if t.plan != nil {
				t.plan.Release().Override = reason
			}
		}
	}
}

// Clusters is the number of clusters the plan deploys.
func (p *Plan) Clusters() int {
	n := 0
	for _, ts := range p.targets[p.first:] {
		n += len(ts)
	}
	return n
}

// Run deploys the waves in order. It stops at the first wave in which a
// cluster fails, with *WaveError; the report says what happened in every
// cluster, also then.
func (p *Plan) Run(ctx context.Context) (*Report, error) {
	rep := p.report()
	for i := range p.waves {
		if i < p.first {
			continue
		}
		if len(p.targets[i]) == 0 {
			break // past the selected wave
		}
		if i > 0 {
			if err := p.bake(ctx, i-1, rep); err != nil {
				return rep, err
			}
		}
		if i > p.first {
			// History may have moved in this wave's clusters while the
			// earlier waves ran and baked: check them again now.
			if err := p.prepareWave(ctx, i, rep); err != nil {
				return rep, err
			}
		}
		wr := &rep.Waves[i]
		wr.Started = p.d.Now()
		p.o.logf("waves: wave %q: deploying %s to %d cluster(s)%s", wr.Name, p.d.Version, len(p.targets[i]), parallelNote(p.waves[i], len(p.targets[i])))
		if failed := p.runWave(ctx, i, wr); failed {
			wr.Finished = p.d.Now()
			if p.o.OnFailure == RollbackWave {
				p.rollbackWave(ctx, i, wr)
			}
			return rep, p.waveError(i, rep)
		}
		wr.Finished = p.d.Now()
		p.o.logf("waves: wave %q is healthy in %d cluster(s) after %s", wr.Name, len(p.targets[i]), wr.Finished.Sub(wr.Started).Round(time.Millisecond))
	}
	return rep, nil
}

func parallelNote(w Wave, n int) string {
	if w.Parallelism > 0 && w.Parallelism < n {
		return fmt.Sprintf(", %d at a time", w.Parallelism)
	}
	return ""
}

// report is the report before anything ran: every cluster not started,
// the earlier waves' clusters as held.
func (p *Plan) report() *Report {
	rep := &Report{Version: p.d.Version, Digest: p.d.Digest, Namespace: p.d.Namespace}
	for i, w := range p.waves {
		wr := WaveReport{Name: w.Name, Bake: w.Bake}
		for _, t := range p.targets[i] {
			cr := ClusterReport{Wave: w.Name, Cluster: t.cluster.Name, Where: t.where(), Result: NotStarted}
			if t.held != nil {
				cr.Result, cr.Revision, cr.Since = Held, t.held.Revision, t.held.Time
			}
			wr.Clusters = append(wr.Clusters, cr)
		}
		rep.Waves = append(rep.Waves, wr)
	}
	return rep
}

// bake waits until every cluster of wave i has held the release for the
// wave's bake time, counted from each cluster's release record.
func (p *Plan) bake(ctx context.Context, i int, rep *Report) error {
	w, wr := p.waves[i], &rep.Waves[i]
	if w.Bake <= 0 {
		return nil
	}
	var since time.Time
	for _, c := range wr.Clusters {
		if c.Since.IsZero() {
			// A release recorded without a time: count from now.
			since = p.d.Now()
			break
		}
		if c.Since.After(since) {
			since = c.Since
		}
	}
	if since.IsZero() {
		return nil // no cluster of the wave deployed (a selected cluster's wave)
	}
	wr.BakedSince = since
	wait := w.Bake - p.d.Now().Sub(since)
	if wait <= 0 {
		p.o.logf("waves: wave %q has held %s since %s, at least its bake time %s: not waiting again", w.Name, p.d.Version, since.UTC().Format(time.RFC3339), w.Bake)
		return p.stillHealthy(ctx, i, rep)
	}
	p.o.logf("waves: baking wave %q for %s (its bake time %s, counted from %s) before the next wave starts", w.Name, wait.Round(time.Millisecond), w.Bake, since.UTC().Format(time.RFC3339))
	wr.BakeWaited = wait
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return fmt.Errorf("waves: stopped while baking wave %q; later waves were not touched: %w", w.Name, context.Cause(ctx))
	case <-timer.C:
		return p.stillHealthy(ctx, i, rep)
	}
}

// DefaultBakeCheck is how long a wave that is unhealthy at the end of its
// bake has to recover before the rollout stops.
const DefaultBakeCheck = 30 * time.Second

// stillHealthy checks, at the end of wave i's bake, that every one of its
// clusters is still healthy: a release that degrades while it bakes (a
// crash loop that starts late, pods that stop being ready) stops the
// rollout before the next wave, and the clusters it degraded in roll back
// (with rollback-wave, the whole wave).
func (p *Plan) stillHealthy(ctx context.Context, i int, rep *Report) error {
	objs, err := apply.Parse(p.d.Manifests)
	if err != nil || len(objs) == 0 {
		return err
	}
	ts, wr := p.targets[i], &rep.Waves[i]
	errs := make([]error, len(ts))
	forEach(len(ts), connectWorkers, func(j int) {
		if ts[j].applier == nil {
			return
		}
		cctx, cancel := context.WithTimeout(ctx, cmp.Or(p.o.BakeCheck, DefaultBakeCheck))
		defer cancel()
		// Wait judges, and never changes, the objects it is given.
		errs[j] = ts[j].applier.Wait(cctx, objs, nil)
	})
	if ctx.Err() != nil {
		return fmt.Errorf("waves: stopped while checking wave %q after its bake; later waves were not touched: %w", wr.Name, context.Cause(ctx))
	}
	var bad []int
	for j, err := range errs {
		if err != nil {
			cr := &wr.Clusters[j]
			cr.Result, cr.Err = Failed, fmt.Errorf("unhealthy at the end of the bake (%s): %w", p.waves[i].Bake, err)
			p.o.logf("waves: [%s] %v", ts[j].cluster.Name, cr.Err)
			bad = append(bad, j)
		}
	}
	if len(bad) == 0 {
		p.o.logf("waves: wave %q is still healthy after its bake", wr.Name)
		return nil
	}
	p.rollback(ctx, i, wr, bad, "failed its bake")
	for _, j := range bad {
		cr := &wr.Clusters[j]
		switch {
		case cr.RollbackErr != nil:
			cr.Err = fmt.Errorf("%w; rolling it back failed: %v", cr.Err, cr.RollbackErr)
		case cr.RolledBackTo > 0:
			cr.Err = fmt.Errorf("%w; rolled back to release %d", cr.Err, cr.RolledBackTo)
		}
	}
	if p.o.OnFailure == RollbackWave {
		p.rollbackWave(ctx, i, wr)
	}
	return p.waveError(i, rep)
}

// prepareWave checks wave i's clusters again before its first write.
func (p *Plan) prepareWave(ctx context.Context, i int, rep *Report) error {
	ts := p.targets[i]
	errs := make([]error, len(ts))
	forEach(len(ts), connectWorkers, func(j int) {
		ts[j].plan, errs[j] = ts[j].applier.Prepare(ctx, p.d)
	})
	wr := &rep.Waves[i]
	failed := false
	for j, err := range errs {
		if err != nil {
			wr.Clusters[j].Result, wr.Clusters[j].Err = Refused, err
			failed = true
		}
	}
	if failed {
		return p.waveError(i, rep)
	}
	return nil
}

// runWave deploys wave i's clusters, Parallelism at a time, and says
// whether one failed. Once one has failed, no further cluster starts.
func (p *Plan) runWave(ctx context.Context, i int, wr *WaveReport) bool {
	ts := p.targets[i]
	par := p.waves[i].Parallelism
	if par <= 0 || par > len(ts) {
		par = len(ts)
	}
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	var mu sync.Mutex
	failed := false
	for j, t := range ts {
		sem <- struct{}{}
		mu.Lock()
		stop := failed || ctx.Err() != nil
		mu.Unlock()
		if stop {
			<-sem
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			cr := &wr.Clusters[j]
			cr.Started = p.d.Now()
			out, err := t.applier.Run(ctx, t.plan)
			cr.Duration = p.d.Now().Sub(cr.Started)
			cr.fill(out, err)
			if err != nil {
				mu.Lock()
				failed = true
				mu.Unlock()
				p.o.logf("waves: [%s] failed after %s: %v", t.cluster.Name, cr.Duration.Round(time.Millisecond), err)
				return
			}
			p.o.logf("waves: [%s] %s at release %d after %s", t.cluster.Name, cr.Result, cr.Revision, cr.Duration.Round(time.Millisecond))
		}()
	}
	wg.Wait()
	return failed
}

// rollbackWave re-applies, in each cluster of failed wave i that took the
// release, the release before it (as apply-env's rollback does).
func (p *Plan) rollbackWave(ctx context.Context, i int, wr *WaveReport) {
	var todo []int
	for j := range p.targets[i] {
		if r := wr.Clusters[j].Result; r == Deployed || r == Unchanged || r == Held {
			todo = append(todo, j)
		}
	}
	if len(todo) > 0 {
		p.o.logf("waves: onFailure rollback-wave: rolling back the %d healthy cluster(s) of wave %q", len(todo), wr.Name)
	}
	p.rollback(ctx, i, wr, todo, "with its wave")
}

// rollback re-applies, in the clusters todo of wave i, the release before
// the one deployed; why says why in the log.
func (p *Plan) rollback(ctx context.Context, i int, wr *WaveReport, todo []int, why string) {
	ts := p.targets[i]
	d := p.d
	d.Rollback, d.Manifests, d.Override = true, nil, ""
	if len(todo) == 0 {
		return
	}
	par := p.waves[i].Parallelism
	if par <= 0 {
		par = len(todo)
	}
	forEach(len(todo), par, func(k int) {
		t, cr := ts[todo[k]], &wr.Clusters[todo[k]]
		if t.applier == nil {
			return
		}
		start := p.d.Now()
		plan, err := t.applier.Prepare(ctx, d)
		var out *apply.Outcome
		if err == nil {
			out, err = t.applier.Run(ctx, plan)
		}
		cr.RollbackDuration = p.d.Now().Sub(start)
		if err != nil {
			cr.RollbackErr = err
			p.o.logf("waves: [%s] rolling back (%s) failed: %v", t.cluster.Name, why, err)
			return
		}
		if cr.Err == nil {
			cr.Result = RolledBack
		}
		cr.RolledBackTo = out.Revision
		p.o.logf("waves: [%s] rolled back (%s): release %d after %s", t.cluster.Name, why, out.Revision, cr.RollbackDuration.Round(time.Millisecond))
	})
}

func (p *Plan) waveError(i int, rep *Report) *WaveError {
	we := &WaveError{Wave: p.waves[i].Name, Policy: p.o.OnFailure}
	for j := range rep.Waves[i].Clusters {
		cr := &rep.Waves[i].Clusters[j]
		if cr.Err != nil {
			we.Failed = append(we.Failed, cr)
		}
		if cr.Result == RolledBack || cr.RollbackErr != nil {
			we.RolledBack = append(we.RolledBack, cr)
		}
	}
	for _, w := range p.waves[i+1:] {
		we.Untouched = append(we.Untouched, w.Name)
	}
	return we
}

// forEach runs f(0..n-1), at most workers at once.
func forEach(n, workers int, f func(i int)) {
	sem := make(chan struct{}, max(workers, 1))
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			f(i)
		}()
	}
	wg.Wait()
}

// unreachable joins the clusters that could not be reached, or nil.
func unreachable(errs []error) error {
	var bad []error
	for _, err := range errs {
		if err != nil {
			bad = append(bad, err)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return &UnreachableError{Clusters: bad}
}

// sameServer refuses two clusters that are one API server: they would
// share a Lease and a release history, and be deployed twice.
func sameServer(all []*target, waves []Wave) error {
	seen := map[string]*target{}
	var errs []error
	for _, t := range all {
		host := t.clients.Config.Host
		if prev, dup := seen[host]; dup {
			errs = append(errs, fmt.Errorf("clusters %q (wave %q) and %q (wave %q) are the same API server, %s: an environment's clusters must be different clusters (they would share one Lease and one release history); fix the context or kubeconfig of one of them; nothing was applied anywhere",
				prev.cluster.Name, waves[prev.wave].Name, t.cluster.Name, waves[t.wave].Name, host))
			continue
		}
		seen[host] = t
	}
	return errors.Join(errs...)
}

// names lists the names of clusters.
func names(crs []*ClusterReport) []string {
	var out []string
	for _, c := range crs {
		out = append(out, c.Cluster)
	}
	return slices.Clip(out)
}
