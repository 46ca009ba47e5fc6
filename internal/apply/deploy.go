package apply

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Deployment is one environment to put in the cluster.
type Deployment struct {
	Env       string
	Namespace string
	// Manifests are the rendered objects, as recorded in the release.
	Manifests []byte
	Digest    string
	GitSHA    string
	Version   string
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
	// Rollback re-applies the last deployed release instead of Manifests.
	Rollback bool
	Now      func() time.Time
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
}

// RolloutError is a deployment whose health check failed; the outcome
// says whether the previous release was restored.
type RolloutError struct {
	Health     error
	RolledBack int
	RollbackOK bool
	Rollback   error
}

func (e *RolloutError) Error() string {
	switch {
	case e.RolledBack == 0:
		return fmt.Sprintf("rollout failed and there is no earlier release to roll back to: %v", e.Health)
	case e.RollbackOK:
		return fmt.Sprintf("rollout failed; rolled back to release %d: %v", e.RolledBack, e.Health)
	}
	return fmt.Sprintf("rollout failed: %v; rolling back to release %d failed too: %v", e.Health, e.RolledBack, e.Rollback)
}

func (e *RolloutError) Unwrap() error { return e.Health }

// Deploy applies d: lock, staged apply, health, prune, record. When health
// fails it re-applies the last deployed release and returns *RolloutError.
func (a *Applier) Deploy(ctx context.Context, d Deployment) (*Outcome, error) {
	if d.Now == nil {
		d.Now = time.Now
	}
	if err := a.ensureNamespace(ctx, d.Namespace); err != nil {
		return nil, err
	}
	lock, err := Acquire(ctx, a.C, d.Namespace, d.Env, d.Holder, d.LockTimeout, a.logf)
	if err != nil {
		return nil, err
	}
	defer lock.Release()

	history, err := History(ctx, a.C, d.Namespace, d.Env)
	if err != nil {
		return nil, err
	}
	prev := LastDeployed(history)
	out := &Outcome{}
	if prev != nil {
		out.Previous = prev.Revision
	}
	rel := &Release{Status: StatusDeployed, Digest: d.Digest, GitSHA: d.GitSHA, Version: d.Version, Override: d.Override, Manifests: d.Manifests}
	if d.Rollback {
		target := previousOf(history, prev)
		if target == nil {
			return nil, errors.New("nothing to roll back to: the environment has fewer than two deployed releases")
		}
		a.logf("apply-env: rolling back %s from release %d to release %d (%s)", d.Env, prev.Revision, target.Revision, target.Version)
		rel = &Release{Status: StatusDeployed, Digest: target.Digest, GitSHA: target.GitSHA, Version: target.Version, Manifests: target.Manifests, RollbackOf: target.Revision}
	}
	objs, err := Parse(rel.Manifests)
	if err != nil {
		return nil, fmt.Errorf("reading the manifests: %w", err)
	}
	set := ApplySet{Name: "driftless-" + d.Env, Namespace: d.Namespace}
	results, err := a.rollout(ctx, set, objs, d)
	out.Results = results
	out.Changed = changed(results)
	if err != nil {
		var he *HealthError
		if !errors.As(err, &he) {
			return out, err // an apply error: nothing pruned, nothing recorded
		}
		rel.Status, rel.Time = StatusFailed, d.Now()
		if _, rerr := Record(ctx, a.C, d.Namespace, d.Env, rel, history); rerr != nil {
			a.logf("apply-env: %v", rerr)
		}
		re := &RolloutError{Health: err}
		if prev == nil || d.Rollback {
			return out, re
		}
		re.RolledBack = prev.Revision
		a.logf("apply-env: %v; rolling back to release %d (%s)", err, prev.Revision, prev.Version)
		prevObjs, perr := prev.Objects()
		if perr == nil {
			_, perr = a.rollout(ctx, set, prevObjs, d)
		}
		re.RollbackOK, re.Rollback = perr == nil, perr
		out.RolledBack = perr == nil
		return out, re
	}
	if !out.Changed && prev != nil && !d.Rollback && prev.Digest == rel.Digest && bytes.Equal(prev.Manifests, rel.Manifests) {
		out.Revision = prev.Revision // a re-apply that changed nothing is not a new release
		return out, nil
	}
	rel.Time = d.Now()
	rev, err := Record(ctx, a.C, d.Namespace, d.Env, rel, history)
	if err != nil {
		return out, err
	}
	out.Revision = rev
	return out, nil
}

// rollout applies objs stage by stage, waits for health, then prunes.
func (a *Applier) rollout(ctx context.Context, set ApplySet, objs []*unstructured.Unstructured, d Deployment) ([]Result, error) {
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
		done, answers, err := a.applyStage(ctx, group)
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

// previousOf is the deployed release before cur.
func previousOf(history []*Release, cur *Release) *Release {
	if cur == nil {
		return nil
	}
	for _, r := range history {
		if r.Status == StatusDeployed && r.Revision < cur.Revision {
			return r
		}
	}
	return nil
}

// ensureNamespace creates the environment's namespace if it is missing:
// the Lease and the releases live there.
func (a *Applier) ensureNamespace(ctx context.Context, ns string) error {
	_, err := a.C.Kube.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if err == nil {
		return nil
	}
	if !apierrors.IsNotFound(err) {
		return fmt.Errorf("reading Namespace/%s: %w", ns, err)
	}
	_, err = a.C.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{FieldManager: FieldManager})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating Namespace/%s: %w", ns, err)
	}
	return nil
}
