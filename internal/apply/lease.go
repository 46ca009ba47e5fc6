package apply

import (
	"context"
	"fmt"
	"time"

	"github.com/driftless-dev/driftless/internal/kube"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DefaultLeaseDuration is how long a lease holds without renewal: a
// runner killed mid-deploy blocks the environment at most this long.
const DefaultLeaseDuration = 60 * time.Second

// LockOptions say who takes a Lease and how.
type LockOptions struct {
	// Holder identifies the run (the CI run URL).
	Holder string
	// Timeout is how long to wait while another run holds the lease.
	Timeout time.Duration
	// Duration is how long the lease holds without renewal;
	// DefaultLeaseDuration when zero.
	Duration time.Duration
	// Logf prints progress.
	Logf func(format string, args ...any)
}

// LockedError says another deployment holds the environment.
type LockedError struct {
	Lease   string
	Holder  string
	Expires time.Time
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("another deployment holds Lease/%s: %s (until %s unless renewed); wait for it, or raise lock-timeout", e.Lease, e.Holder, e.Expires.UTC().Format(time.RFC3339))
}

// LeaseLostError stops a deployment whose Lease could not be renewed or
// was taken over: two runs must never write to one environment at once.
type LeaseLostError struct {
	Lease string
	// Holder is who holds the Lease now, when another run took it over.
	Holder string
	// Err is why renewing failed, when it did.
	Err error
}

func (e *LeaseLostError) Error() string {
	if e.Holder != "" {
		return fmt.Sprintf("lost Lease/%s to %s: the deployment stopped so that two runs never write at once", e.Lease, e.Holder)
	}
	return fmt.Sprintf("could not renew Lease/%s before it expired: %v; the deployment stopped so that two runs never write at once", e.Lease, e.Err)
}

func (e *LeaseLostError) Unwrap() error { return e.Err }

// Lock is a held lease.
type Lock struct {
	c        *kube.Clients
	lease    *coordinationv1.Lease // as last written by us
	holder   string
	duration time.Duration
	logf     func(string, ...any)
	stop     chan struct{}
	stopped  chan struct{}
	lost     chan struct{}
	err      error
	// Waited is set when another run held the lease first.
	Waited bool
	// Created is set when the Lease did not exist before.
	Created bool
}

// Acquire takes the owner's Lease for holder, waiting up to timeout while
// another holder renews it. The lease is renewed in the background until
// Release; Lost is closed if that fails.
func Acquire(ctx context.Context, c *kube.Clients, o Owner, opts LockOptions) (*Lock, error) {
	holder, timeout, duration, logf := opts.Holder, opts.Timeout, opts.Duration, opts.Logf
	if duration <= 0 {
		duration = DefaultLeaseDuration
	}
	if logf == nil {
		logf = func(string, ...any) {}
	}
	namespace, name := o.Namespace, o.LeaseName()
	leases := c.Kube.CoordinationV1().Leases(namespace)
	deadline := time.Now().Add(timeout)
	said := false
	for {
		now := metav1.NewMicroTime(time.Now())
		secs := int32(max(duration/time.Second, 1))
		l, err := leases.Get(ctx, name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			l, err = leases.Create(ctx, &coordinationv1.Lease{
				ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: map[string]string{LabelPipeline: o.Pipeline, LabelEnvironment: o.Env}},
				Spec:       coordinationv1.LeaseSpec{HolderIdentity: &holder, LeaseDurationSeconds: &secs, AcquireTime: &now, RenewTime: &now},
			}, metav1.CreateOptions{FieldManager: FieldManager})
			if err == nil {
				lock := start(c, l, holder, duration, logf)
				lock.Created, lock.Waited = true, said
				return lock, nil
			}
			if !apierrors.IsAlreadyExists(err) {
				return nil, fmt.Errorf("creating Lease/%s/%s: %w", namespace, name, err)
			}
			continue
		case err != nil:
			return nil, fmt.Errorf("reading Lease/%s/%s: %w", namespace, name, err)
		}
		expires := expiry(l)
		cur := ""
		if l.Spec.HolderIdentity != nil {
			cur = *l.Spec.HolderIdentity
		}
		if cur == "" || cur == holder || time.Now().After(expires) {
			l.Spec.HolderIdentity, l.Spec.LeaseDurationSeconds, l.Spec.AcquireTime, l.Spec.RenewTime = &holder, &secs, &now, &now
			if got, err := leases.Update(ctx, l, metav1.UpdateOptions{FieldManager: FieldManager}); err == nil {
				if cur != "" && cur != holder {
					logf("apply-env: took over Lease/%s/%s from %s, which expired at %s", namespace, name, cur, expires.UTC().Format(time.RFC3339))
				}
				lock := start(c, got, holder, duration, logf)
				lock.Waited = said
				return lock, nil
			} else if !apierrors.IsConflict(err) {
				return nil, fmt.Errorf("taking Lease/%s/%s: %w", namespace, name, err)
			}
			continue
		}
		if time.Now().After(deadline) {
			return nil, &LockedError{Lease: namespace + "/" + name, Holder: cur, Expires: expires}
		}
		if !said {
			logf("apply-env: waiting for Lease/%s/%s held by %s (lock-timeout %s)", namespace, name, cur, timeout)
			said = true
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func expiry(l *coordinationv1.Lease) time.Time {
	if l.Spec.RenewTime == nil || l.Spec.LeaseDurationSeconds == nil {
		return time.Time{}
	}
	return l.Spec.RenewTime.Add(time.Duration(*l.Spec.LeaseDurationSeconds) * time.Second)
}

func start(c *kube.Clients, l *coordinationv1.Lease, holder string, duration time.Duration, logf func(string, ...any)) *Lock {
	lock := &Lock{c: c, lease: l, holder: holder, duration: duration, logf: logf, stop: make(chan struct{}), stopped: make(chan struct{}), lost: make(chan struct{})}
	go lock.renew()
	return lock
}

// Lost is closed when the lease could not be renewed in time or another
// run took it over; Err then says why.
func (l *Lock) Lost() <-chan struct{} { return l.lost }

// Err is why the lease was lost, or nil.
func (l *Lock) Err() error {
	select {
	case <-l.lost:
		return l.err
	default:
		return nil
	}
}

func (l *Lock) id() string { return l.lease.Namespace + "/" + l.lease.Name }

// renew renews the lease every sixth of its duration. It gives up, and
// closes Lost, when another holder took it over (an update that conflicts
// with someone else's write) or when two thirds of the duration passed
// without a successful renewal: well before another run could take it.
func (l *Lock) renew() {
	defer close(l.stopped)
	t := time.NewTicker(l.duration / 6)
	defer t.Stop()
	leases := l.c.Kube.CoordinationV1().Leases(l.lease.Namespace)
	last := time.Now()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), l.duration/6)
		next := l.lease.DeepCopy()
		now := metav1.NewMicroTime(time.Now())
		next.Spec.RenewTime = &now
		got, err := leases.Update(ctx, next, metav1.UpdateOptions{FieldManager: FieldManager})
		if apierrors.IsConflict(err) {
			// Someone else wrote the lease: it is ours only if we still
			// hold it by name.
			if cur, gerr := leases.Get(ctx, l.lease.Name, metav1.GetOptions{}); gerr == nil {
				holder := ""
				if cur.Spec.HolderIdentity != nil {
					holder = *cur.Spec.HolderIdentity
				}
				if holder != l.holder {
					cancel()
					l.err = &LeaseLostError{Lease: l.id(), Holder: holder}
					close(l.lost)
					return
				}
				cur.Spec.RenewTime = &now
				got, err = leases.Update(ctx, cur, metav1.UpdateOptions{FieldManager: FieldManager})
			} else {
				err = gerr
			}
		}
		cancel()
		if err == nil {
			l.lease, last = got, time.Now()
			continue
		}
		if time.Since(last) > l.duration*2/3 {
			l.err = &LeaseLostError{Lease: l.id(), Err: err}
			close(l.lost)
			return
		}
	}
}

// Release gives the lease up so the next deployment need not wait.
func (l *Lock) Release() {
	close(l.stop)
	<-l.stopped
	if l.Err() != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cur, err := l.c.Kube.CoordinationV1().Leases(l.lease.Namespace).Get(ctx, l.lease.Name, metav1.GetOptions{})
	if err == nil {
		if cur.Spec.HolderIdentity == nil || *cur.Spec.HolderIdentity != l.holder {
			return
		}
		empty := ""
		cur.Spec.HolderIdentity = &empty
		_, err = l.c.Kube.CoordinationV1().Leases(l.lease.Namespace).Update(ctx, cur, metav1.UpdateOptions{FieldManager: FieldManager})
	}
	if err != nil && !apierrors.IsNotFound(err) {
		l.logf("apply-env: could not release Lease/%s: %v; a run of another holder waits until it expires at %s (a retry of this job, the same holder, takes it at once)",
			l.id(), err, expiry(l.lease).UTC().Format(time.RFC3339))
	}
}

// Discard deletes a Lease this run created, for a deployment refused
// before anything else was written: a refusal leaves nothing behind.
func (l *Lock) Discard() {
	close(l.stop)
	<-l.stopped
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	uid := l.lease.UID
	_ = l.c.Kube.CoordinationV1().Leases(l.lease.Namespace).Delete(ctx, l.lease.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
}
