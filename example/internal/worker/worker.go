package worker

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/driftless-dev/driftless/example/internal/static"
	"github.com/driftless-dev/driftless/example/internal/subscription"
)

// Queue is where the worker takes subscriptions from; subscription.Store is
// the real one.
type Queue interface {
	Next(ctx context.Context, timeout time.Duration) (id string, ok bool, err error)
	Get(ctx context.Context, id string) (subscription.Subscription, error)
	Activate(ctx context.Context, id, revision string) (subscription.Subscription, error)
	Reject(ctx context.Context, id, revision, reason string) (subscription.Subscription, error)
}

// Worker decides queued subscriptions.
type Worker struct {
	Queue  Queue
	Config *static.Config
	Log    *slog.Logger
	// Poll bounds how long one wait for the queue lasts, and so how long
	// the worker takes to notice it should stop. Zero means 2s.
	Poll time.Duration
	// Retry is the pause after the queue failed, for instance while Redis
	// restarts. Zero means 1s.
	Retry time.Duration
}

// jobTimeout bounds the work on one subscription once taken from the queue.
const jobTimeout = 10 * time.Second

// Run decides subscriptions until ctx is done, then returns nil. Failures to
// reach the queue are logged and retried: Redis restarting must not take
// the worker down with it.
func (w *Worker) Run(ctx context.Context) error {
	poll, retry := w.Poll, w.Retry
	if poll <= 0 {
		poll = 2 * time.Second
	}
	if retry <= 0 {
		retry = time.Second
	}
	w.Log.Info("worker started", "configRevision", w.Config.Revision)
	for ctx.Err() == nil {
		id, ok, err := w.Queue.Next(ctx, poll)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			w.Log.Error("reading the queue failed; retrying", "in", retry, "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(retry):
			}
			continue
		}
		if !ok {
			continue
		}
		// The id is off the queue now: finish the job even if a shutdown
		// starts, or it would stay pending for ever.
		jctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), jobTimeout)
		w.decide(jctx, id)
		cancel()
	}
	w.Log.Info("worker stopped")
	return nil
}

// decide decides one subscription and logs one line about it.
func (w *Worker) decide(ctx context.Context, id string) {
	sub, err := w.Queue.Get(ctx, id)
	if err != nil {
		w.Log.Error("subscription skipped", "id", id, "err", err)
		return
	}
	rev := w.Config.Revision
	if cerr := w.Config.CheckRequest(sub.API, sub.Plan); cerr != nil {
		sub, err = w.Queue.Reject(ctx, id, rev, strings.ReplaceAll(cerr.Error(), "\n", "; "))
	} else {
		sub, err = w.Queue.Activate(ctx, id, rev)
	}
	switch {
	case errors.Is(err, subscription.ErrDecided):
		w.Log.Warn("subscription skipped: already decided", "id", id, "status", sub.Status, "configRevision", sub.ConfigRevision)
	case err != nil:
		w.Log.Error("subscription failed", "id", id, "err", err)
	case sub.Status == subscription.Rejected:
		w.Log.Info("subscription rejected", "id", id, "user", sub.User, "api", sub.API, "plan", sub.Plan, "configRevision", rev, "reason", sub.Reason)
	default:
		w.Log.Info("subscription activated", "id", id, "user", sub.User, "api", sub.API, "plan", sub.Plan, "configRevision", rev)
	}
}
