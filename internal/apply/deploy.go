package apply

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"golang.org/x/mod/semver"
)

// Deployment is one environment to put in the cluster.
type Deployment struct {
	// Pipeline and Env name the owner: what driftless keeps in the
	// namespace (ApplySet, Lease, releases) is keyed by both.
	Pipeline  string
	Env       string
	Namespace string
	// Manifests are the rendered objects, as recorded in the release.
	Manifests []byte
	Digest    string
	GitSHA    string
	Version   string
	// ImageRepos are the names the pipeline's image goes by. Releases
	// recorded before names carried the pipeline are adopted when their
	// manifests run one of them.
	ImageRepos []string
	// Override is the reason a freeze window was overridden, recorded in
	// the release.
	Override string
	// Keep are kinds never pruned.
	Keep []string
	// Timeout bounds the whole health wait.
	Timeout time.Duration
	// Holder identifies this run on the Lease (the CI run URL).
	Holder      string
	LockTimeout time.Duration
	// Rollback re-applies the release before the last deployed one
	// instead of Manifests.
	Rollback bool
	Now      func() time.Time
}

// Owner is whose ApplySet, Lease and releases the deployment uses.
func (d Deployment) Owner() Owner {
	return Owner{Pipeline: d.Pipeline, Env: d.Env, Namespace: d.Namespace}
}

// Outcome is what a deployment did.
type Outcome struct {
	Results  []Result
	Revision int
	Previous int
	Changed  bool
	// RolledBack is set when health failed and the previous release was
	// re-applied.
	RolledBack bool
	// DriftCorrected names the objects a re-apply of the live release put
	// back; no new release is recorded for that.
	DriftCorrected []string
	// Since is the time of the live release's record: when it was
	// deployed (a re-apply of the live release keeps that time). Waves
	// count a bake from it.
	Since time.Time
	// LegacyLeft names objects of the ApplySet driftless used before
	// names carried the pipeline that these manifests do not contain: they
	// were left alone, never pruned through the rename.
	LegacyLeft []string
}

// RolloutError is a deployment whose health check failed; it says which
// release failed, why, and whether the previous release was restored.
type RolloutError struct {
	// Release is the revision recorded as failed, Version its version.
	Release int
	Version string
	Health  error
	// RolledBack is the revision restored (0: none to restore).
	RolledBack        int
	RolledBackVersion string
	RollbackOK        bool
	Rollback          error
	// Pods is what the failed workloads' pods said (events, the end of
	// their logs, Secret values masked), read before the rollback.
	Pods []PodReport
}

func (e *RolloutError) Error() string {
	failed := fmt.Sprintf("release %d", e.Release)
	if e.Version != "" {
		failed += " (" + e.Version + ")"
	}
	restored := fmt.Sprintf("release %d", e.RolledBack)
	if e.RolledBackVersion != "" {
		restored += " (" + e.RolledBackVersion + ")"
	}
	switch {
	case e.RolledBack == 0:
		return fmt.Sprintf("rollout of %s failed and there is no earlier release to roll back to: %v", failed, e.Health)
	case e.RollbackOK:
		return fmt.Sprintf("rollout of %s failed: %v; rolled back: %s was restored and is healthy", failed, e.Health, restored)
	}
	return fmt.Sprintf("rollout of %s failed: %v; rolling back to %s failed too: %v", failed, e.Health, restored, e.Rollback)
}

func (e *RolloutError) Unwrap() error { return e.Health }

// OutdatedError refuses a release older than the one live: two runs
// started together serialise on the Lease, but the older must not land
// after the newer (GitLab's "prevent outdated deployment jobs").
// Going back is a rollback's job.
type OutdatedError struct {
	Owner        Owner
	Version      string
	Live         string
	LiveRevision int
}

func (e *OutdatedError) Error() string {
	return fmt.Sprintf("%s: release %s is older than %s, live as release %d (a newer run deployed it first); nothing was applied: to go back on purpose, use rollback", e.Owner, e.Version, e.Live, e.LiveRevision)
}

// older reports whether version a is a lower semantic version than b;
// versions that are not semver (with or without a leading v) are never
// older.
func older(a, b string) bool {
	canon := func(v string) string {
		if !strings.HasPrefix(v, "v") {
			v = "v" + v
		}
		return v
	}
	a, b = canon(a), canon(b)
	return semver.IsValid(a) && semver.IsValid(b) && semver.Compare(a, b) < 0
}

// RefusedError is a deployment refused before anything was written.
type RefusedError struct {
	Owner    Owner
	Problems []error
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("%s: nothing was applied: %v", e.Owner, errors.Join(e.Problems...))
}

func (e *RefusedError) Unwrap() []error { return e.Problems }

// Plan is a deployment checked against the cluster without writing:
// every object parsed, its kind served (or defined by a CRD it brings),
// its namespace set and present, not another owner's, and accepted by the
// API server in a server-side dry run where one can run yet.
type Plan struct {
	d       Deployment
	owner   Owner
	history []*ReleaseRecord
	prev    *ReleaseRecord
	target  *ReleaseRecord // the release a rollback restores
	rel     *ReleaseRecord
	objs    []*unstructured.Unstructured
	checked map[string]planned
	// snapshot holds the live release's Secret values, read before this
	// run wrote anything: in memory only, for a rollback in this run.
	snapshot map[string]map[string][]byte
	// nsMissing is set when the environment's namespace does not exist:
	// its objects are dry-run once it does, before anything else.
	nsMissing bool
}

// Objects are the objects the plan applies.
func (p *Plan) Objects() []*unstructured.Unstructured { return p.objs }

// Release is what the plan records: the version and digest deployed.
func (p *Plan) Release() *ReleaseRecord { return p.rel }

// Deploy prepares d and runs it.
func (a *Applier) Deploy(ctx context.Context, d Deployment) (*Outcome, error) {
	p, err := a.Prepare(ctx, d)
	if err != nil {
		return nil, err
	}
	return a.Run(ctx, p)
}

// Prepare checks d against the cluster and writes nothing. It returns
// *RefusedError when an object, its namespace or its kind would make the
// deployment fail part-way.
func (a *Applier) Prepare(ctx context.Context, d Deployment) (*Plan, error) {
	if d.Now == nil {
		d.Now = time.Now
	}
	o := d.Owner()
	var problems []error
	if err := o.check(); err != nil {
		problems = append(problems, err)
	}
	if d.Timeout <= 0 {
		problems = append(problems, fmt.Errorf("the health timeout is %s: give a positive duration (e.g. 5m)", d.Timeout))
	}
	if d.LockTimeout < 0 {
		problems = append(problems, fmt.Errorf("the lock timeout is %s: give a duration of 0 or more", d.LockTimeout))
	}
	if len(problems) > 0 {
		return nil, &RefusedError{Owner: o, Problems: problems}
	}
	p := &Plan{d: d, owner: o}
	if err := a.readHistory(ctx, p); err != nil {
		return nil, err
	}
	objs, err := Parse(p.rel.Manifests)
	if err != nil {
		return nil, &RefusedError{Owner: o, Problems: []error{fmt.Errorf("reading the manifests: %w", err)}}
	}
	// A recorded release holds no Secret values: a rollback applies the
	// live ones.
	if err := a.restoreSecrets(ctx, objs, nil); err != nil {
		return nil, &RefusedError{Owner: o, Problems: []error{err}}
	}
	o.ApplySet().Label(objs)
	p.objs = objs
	if err := a.check(ctx, p); err != nil {
		return nil, err
	}
	return p, nil
}

// readHistory reads the owner's releases and decides what is deployed.
func (a *Applier) readHistory(ctx context.Context, p *Plan) error {
	history, err := History(ctx, a.C, p.owner, p.d.ImageRepos)
	if err != nil {
		return err
	}
	p.history, p.prev = history, LastDeployed(history)
	d := p.d
	p.rel = &ReleaseRecord{Status: StatusDeployed, Digest: d.Digest, GitSHA: d.GitSHA, Version: d.Version, Override: d.Override, Manifests: d.Manifests}
	if !d.Rollback {
		if p.prev != nil && older(d.Version, p.prev.Version) {
			return &OutdatedError{Owner: p.owner, Version: d.Version, Live: p.prev.Version, LiveRevision: p.prev.Revision}
		}
		return nil
	}
	target := rollbackTarget(history, p.prev)
	if target == nil {
		return &RefusedError{Owner: p.owner, Problems: []error{errors.New("nothing to roll back to: the environment has no deployed release before the live one")}}
	}
	p.target = target
	p.rel = &ReleaseRecord{Status: StatusDeployed, Digest: target.Digest, GitSHA: target.GitSHA, Version: target.Version, Manifests: target.Manifests, RollbackOf: target.Revision}
	return nil
}

// Run applies a prepared plan: lock, staged apply, health, prune, record.
// When health fails it re-applies the last deployed release and returns
// *RolloutError. If the Lease cannot be renewed the deployment stops with
// *LeaseLostError.
func (a *Applier) Run(ctx context.Context, p *Plan) (*Outcome, error) {
	d, o := p.d, p.owner
	createdNS, err := a.ensureNamespace(ctx, d.Namespace)
	if err != nil {
		return nil, err
	}
	lock, err := Acquire(ctx, a.C, o, LockOptions{Holder: d.Holder, Timeout: d.LockTimeout, Duration: a.LeaseDuration, Logf: a.logf})
	if err != nil {
		a.undoNamespace(createdNS, d.Namespace)
		return nil, err
	}
	// What was checked before the lock may have changed while another run
	// held it; objects of a namespace that did not exist could not be
	// dry-run at all. Check again before the first write that matters.
	if lock.Waited || createdNS || p.nsMissing {
		rollbackOf := p.rel.RollbackOf
		err := a.readHistory(ctx, p)
		if err == nil && p.rel.RollbackOf != rollbackOf {
			err = &RefusedError{Owner: o, Problems: []error{fmt.Errorf("the release history changed while waiting for Lease/%s/%s: run the rollback again", o.Namespace, o.LeaseName())}}
		}
		if err == nil {
			err = a.check(ctx, p)
		}
		if err != nil {
			if lock.Created {
				lock.Discard()
			} else {
				lock.Release()
			}
			a.undoNamespace(createdNS, d.Namespace)
			return nil, err
		}
	}
	defer lock.Release()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		select {
		case <-lock.Lost():
			cancel(lock.Err())
		case <-ctx.Done():
		}
	}()
	out, err := a.run(ctx, p)
	if lost := lock.Err(); lost != nil && err != nil {
		err = fmt.Errorf("%w (while: %v)", lost, err)
	}
	return out, err
}

func (a *Applier) run(ctx context.Context, p *Plan) (*Outcome, error) {
	d, o, rel, prev := p.d, p.owner, p.rel, p.prev
	if err := Adopt(ctx, a.C, o, p.history); err != nil {
		return nil, err
	}
	out := &Outcome{}
	if prev != nil {
		out.Previous = prev.Revision
	}
	if p.target != nil {
		a.logf("apply-env: rolling back %s from release %d to release %d (%s)", o, prev.Revision, p.target.Revision, p.target.Version)
	}
	// The values the live release's Secrets have now, in memory only, so
	// that rolling back in this run restores them exactly.
	if prev != nil {
		prevObjs, err := prev.Objects()
		if err != nil {
			return out, fmt.Errorf("reading release %d: %w", prev.Revision, err)
		}
		if p.snapshot, err = a.secretSnapshot(ctx, prevObjs); err != nil {
			return out, err
		}
	}
	set := o.ApplySet()
	results, err := a.rollout(ctx, set, p.objs, p.checked, d)
	out.Results = results
	out.Changed = changed(results)
	var lost *LeaseLostError
	if err != nil && ctx.Err() != nil && !errors.As(context.Cause(ctx), &lost) {
		// Cancelled mid-rollout (a cancelled CI job): put the last
		// deployed release back within the grace period, record the
		// outcome, and say what is live.
		return out, a.cancelled(ctx, p, err)
	}
	if err != nil {
		var he *HealthError
		if !errors.As(err, &he) {
			return out, err // an apply error: nothing pruned, nothing recorded
		}
		rel.Status, rel.Time = StatusFailed, d.Now()
		rev, rerr := Record(ctx, a.C, o, rel, p.history)
		if rerr != nil {
			a.logf("apply-env: %v", rerr)
		}
		re := &RolloutError{Release: rev, Version: rel.Version, Health: err, Pods: a.diagnose(ctx, he, p.objs)}
		if prev == nil || d.Rollback {
			return out, re
		}
		re.RolledBack, re.RolledBackVersion = prev.Revision, prev.Version
		a.logf("apply-env: %v; rolling back to release %d (%s)", err, prev.Revision, prev.Version)
		prevObjs, perr := prev.Objects()
		if perr == nil {
			perr = a.restoreSecrets(ctx, prevObjs, p.snapshot)
		}
		if perr == nil {
			_, perr = a.rollout(ctx, set, prevObjs, nil, d)
		}
		re.RollbackOK, re.Rollback = perr == nil, perr
		out.RolledBack = perr == nil
		return out, re
	}
	if left, err := a.retireLegacy(ctx, o); err != nil {
		a.logf("apply-env: warning: %v", err)
	} else if len(left) > 0 {
		out.LegacyLeft = left
		a.logf("apply-env: %d object(s) of the former ApplySet %s are not in these manifests and were left alone (delete them by hand if they are this pipeline's): %v", len(left), o.legacyApplySet().Name, left)
	}
	stored, err := redact(rel.Manifests)
	if err != nil {
		return out, err
	}
	if prev != nil && !d.Rollback && prev.Digest == rel.Digest && bytes.Equal(prev.Manifests, stored) {
		// A re-apply of the live release is not a new release; what it
		// put back is recorded on the release itself.
		out.Revision, out.Since = prev.Revision, prev.Time
		if out.Changed {
			for _, r := range results {
				if r.Change != Unchanged {
					out.DriftCorrected = append(out.DriftCorrected, r.Object+" "+string(r.Change))
				}
			}
			if err := markDriftCorrected(ctx, a.C, o, prev, d.Now(), out.DriftCorrected); err != nil {
				return out, err
			}
		}
		return out, nil
	}
	rel.Time = d.Now()
	rev, err := Record(ctx, a.C, o, rel, p.history)
	if err != nil {
		return out, err
	}
	out.Revision, out.Since = rev, rel.Time
	return out, nil
}

// DefaultCancelGrace is how long a cancelled deployment takes to put the
// last deployed release back: GitHub Actions sends SIGINT, then SIGTERM
// 7.5 s later, then kills the job 2.5 s after that.
const DefaultCancelGrace = 5 * time.Second

// CancelledError is a deployment cancelled mid-rollout: it says which
// release was cut short and what is live now.
type CancelledError struct {
	Release, RolledBack int
	Version             string
	RolledBackVersion   string
	// Restored is set when the last deployed release was re-applied
	// (without waiting for its health: there is no time for that).
	Restored bool
	// Err is why restoring failed, when it did.
	Err   error
	Grace time.Duration
}

func (e *CancelledError) Error() string {
	cut := fmt.Sprintf("cancelled during the rollout of release %d (%s)", e.Release, e.Version)
	switch {
	case e.RolledBack == 0:
		return cut + ": there is no earlier release to put back; what was applied of it is live (see the objects above); run apply-env again to finish it, or deploy another release"
	case e.Restored:
		return fmt.Sprintf("%s: release %d (%s) was re-applied within the %s grace period; its health was not awaited: check it with apply-env's dry-run or kubectl rollout status", cut, e.RolledBack, e.RolledBackVersion, e.Grace)
	}
	return fmt.Sprintf("%s: re-applying release %d (%s) within the %s grace period failed: %v; what is live is a mix of both: run apply-env rollback (or deploy again) as soon as possible", cut, e.RolledBack, e.RolledBackVersion, e.Grace, e.Err)
}

func (e *CancelledError) Unwrap() error { return context.Canceled }

// cancelled handles a rollout cut short by its context: within the grace
// period it re-applies the last deployed release (stage by stage, without
// waiting for health) and records the cut-short release as cancelled.
func (a *Applier) cancelled(ctx context.Context, p *Plan, cause error) error {
	grace := a.CancelGrace
	if grace <= 0 {
		grace = DefaultCancelGrace
	}
	gctx, stop := context.WithTimeout(context.WithoutCancel(ctx), grace)
	defer stop()
	rel, prev := p.rel, p.prev
	ce := &CancelledError{Version: rel.Version, Grace: grace}
	a.logf("apply-env: %v: cancelled mid-rollout", cause)
	if prev != nil && !p.d.Rollback {
		ce.RolledBack, ce.RolledBackVersion = prev.Revision, prev.Version
		objs, err := prev.Objects()
		if err == nil {
			err = a.restoreSecrets(gctx, objs, p.snapshot)
		}
		if err == nil {
			p.owner.ApplySet().Label(objs)
			for _, group := range Stages(objs) {
				if len(group) == 0 {
					continue
				}
				if _, _, err = a.applyStage(gctx, group, nil); err != nil {
					break
				}
			}
		}
		ce.Restored, ce.Err = err == nil, err
	}
	rel.Status, rel.Time = StatusCancelled, p.d.Now()
	if ce.Restored {
		rel.Note = fmt.Sprintf("cancelled mid-rollout; release %d re-applied (health not awaited)", prev.Revision)
	} else {
		rel.Note = "cancelled mid-rollout; partly applied"
	}
	rev, err := Record(gctx, a.C, p.owner, rel, p.history)
	if err != nil {
		a.logf("apply-env: recording the cancelled release: %v", err)
	}
	ce.Release = rev
	return ce
}

// rollout applies objs stage by stage, waits for health, then prunes.
// Objects the plan's dry run found unchanged, and still unchanged since,
// are not sent again.
func (a *Applier) rollout(ctx context.Context, set ApplySet, objs []*unstructured.Unstructured, checked map[string]planned, d Deployment) ([]Result, error) {
	set.Label(objs)
	if err := set.Begin(ctx, a.C, objs); err != nil {
		return nil, err
	}
	var results []Result
	seen := map[string]*unstructured.Unstructured{}
	for stage, group := range Stages(objs) {
		if len(group) == 0 {
			continue
		}
		a.logf("apply-env: applying %s (%d)", Stage(stage), len(group))
		done, answers, err := a.applyStage(ctx, group, checked)
		results = append(results, done...)
		if err != nil {
			return results, err
		}
		for id, u := range answers {
			seen[id] = u
		}
		if Stage(stage) == StageNamespaces {
			wctx, cancel := context.WithTimeout(ctx, d.Timeout)
			err := a.Wait(wctx, group, seen)
			cancel()
			if err != nil {
				return results, fmt.Errorf("waiting for namespaces and CRDs to be established: %w", err)
			}
		}
	}
	a.logf("apply-env: waiting for health (timeout %s)", d.Timeout)
	wctx, cancel := context.WithTimeout(ctx, d.Timeout)
	err := a.Wait(wctx, objs, seen)
	cancel()
	if err != nil {
		return results, err
	}
	pruned, err := a.Prune(ctx, set, objs, d.Keep)
	return append(results, pruned...), err
}

func changed(rs []Result) bool {
	for _, r := range rs {
		if r.Change != Unchanged {
			return true
		}
	}
	return false
}

// rollbackTarget is the release a rollback from cur restores: the
// deployed release before cur, where a rollback release counts as the
// release it restored, so repeated rollbacks walk back in time rather
// than flip between the last two releases.
func rollbackTarget(history []*ReleaseRecord, cur *ReleaseRecord) *ReleaseRecord {
	if cur == nil {
		return nil
	}
	at := cur.Revision
	if cur.RollbackOf != 0 {
		at = cur.RollbackOf
	}
	for _, r := range history {
		if r.Status == StatusDeployed && r.Revision < at && r.RollbackOf == 0 {
			return r
		}
	}
	return nil
}

// ensureNamespace creates the environment's namespace if it is missing
// (the Lease and the releases live there) and says whether it did.
func (a *Applier) ensureNamespace(ctx context.Context, ns string) (bool, error) {
	_, err := a.C.Kube.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if err == nil {
		return false, nil
	}
	if !apierrors.IsNotFound(err) {
		return false, fmt.Errorf("reading Namespace/%s: %w", ns, err)
	}
	_, err = a.C.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{FieldManager: FieldManager})
	if apierrors.IsAlreadyExists(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("creating Namespace/%s: %w", ns, err)
	}
	return true, nil
}

// undoNamespace deletes a namespace this run created, when the
// deployment was refused before anything went into it.
func (a *Applier) undoNamespace(created bool, ns string) {
	if !created {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.C.Kube.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		a.logf("apply-env: warning: removing Namespace/%s, created by this refused run: %v", ns, err)
	}
}
