package apply

import (
	"context"
	"fmt"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// LeaseDuration is how long a lease holds without renewal: a runner killed
// mid-deploy blocks the environment at most this long.
var LeaseDuration = 60 * time.Second

// LockedError says another deployment holds the environment.
type LockedError struct {
	Lease   string
	Holder  string
	Expires time.Time
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("another deployment holds Lease/%s: %s (until %s unless renewed); wait for it, or raise lock-timeout", e.Lease, e.Holder, e.Expires.UTC().Format(time.RFC3339))
}

// Lock is a held lease.
type Lock struct {
	c       *Clients
	ns      string
	name    string
	holder  string
	stop    chan struct{}
	stopped chan struct{}
}

// Acquire takes the environment's Lease for holder, waiting up to
// timeout while another holder renews it. The lease is renewed in the
// background until Release.
func Acquire(ctx context.Context, c *Clients, namespace, env, holder string, timeout time.Duration, logf func(string, ...any)) (*Lock, error) {
	name := "driftless-" + env
	leases := c.Kube.CoordinationV1().Leases(namespace)
	deadline := time.Now().Add(timeout)
	said := false
	for {
		now := metav1.NewMicroTime(time.Now())
		secs := int32(LeaseDuration / time.Second)
		l, err := leases.Get(ctx, name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			_, err = leases.Create(ctx, &coordinationv1.Lease{
				ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
				Spec:       coordinationv1.LeaseSpec{HolderIdentity: &holder, LeaseDurationSeconds: &secs, AcquireTime: &now, RenewTime: &now},
			}, metav1.CreateOptions{FieldManager: FieldManager})
			if err == nil {
				return start(c, namespace, name, holder), nil
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
			if _, err := leases.Update(ctx, l, metav1.UpdateOptions{FieldManager: FieldManager}); err == nil {
				if cur != "" && cur != holder {
					logf("apply-env: took over Lease/%s/%s from %s, which expired at %s", namespace, name, cur, expires.UTC().Format(time.RFC3339))
				}
				return start(c, namespace, name, holder), nil
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

func start(c *Clients, ns, name, holder string) *Lock {
	l := &Lock{c: c, ns: ns, name: name, holder: holder, stop: make(chan struct{}), stopped: make(chan struct{})}
	go l.renew()
	return l
}

func (l *Lock) renew() {
	defer close(l.stopped)
	t := time.NewTicker(LeaseDuration / 3)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if cur, err := l.c.Kube.CoordinationV1().Leases(l.ns).Get(ctx, l.name, metav1.GetOptions{}); err == nil && cur.Spec.HolderIdentity != nil && *cur.Spec.HolderIdentity == l.holder {
				now := metav1.NewMicroTime(time.Now())
				cur.Spec.RenewTime = &now
				_, _ = l.c.Kube.CoordinationV1().Leases(l.ns).Update(ctx, cur, metav1.UpdateOptions{FieldManager: FieldManager})
			}
			cancel()
		}
	}
}

// Release gives the lease up so the next deployment need not wait.
func (l *Lock) Release() {
	close(l.stop)
	<-l.stopped
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cur, err := l.c.Kube.CoordinationV1().Leases(l.ns).Get(ctx, l.name, metav1.GetOptions{})
	if err != nil || cur.Spec.HolderIdentity == nil || *cur.Spec.HolderIdentity != l.holder {
		return
	}
	empty := ""
	cur.Spec.HolderIdentity = &empty
	_, _ = l.c.Kube.CoordinationV1().Leases(l.ns).Update(ctx, cur, metav1.UpdateOptions{FieldManager: FieldManager})
}
