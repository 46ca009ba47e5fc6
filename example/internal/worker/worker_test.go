package worker_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/driftless-dev/driftless/example/internal/redistest"
	"github.com/driftless-dev/driftless/example/internal/static"
	"github.com/driftless-dev/driftless/example/internal/subscription"
	"github.com/driftless-dev/driftless/example/internal/worker"
)

// otherRev stands for the revision of an older configuration that accepted
// a request the current one may no longer allow.
const otherRev = "sha256:0000000000000000000000000000000000000000000000000000000000000000"

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestWorker(t *testing.T) {
	t.Parallel()
	cfg, err := static.Load("../../static")
	if err != nil {
		t.Fatal(err)
	}
	rdb := subscription.NewClient(redistest.Start(t))
	t.Cleanup(func() { rdb.Close() })
	store := subscription.New(rdb)
	ctx := t.Context()

	reqs := []struct {
		req        subscription.Request
		wantStatus subscription.Status
		wantReason string
	}{
		{req: subscription.Request{User: "ada", API: "orders", Plan: "gold"}, wantStatus: subscription.Active},
		{req: subscription.Request{User: "bob", API: "catalog", Plan: "free"}, wantStatus: subscription.Active},
		// Accepted under another configuration; this one has no such API.
		{
			req:        subscription.Request{User: "eve", API: "payroll", Plan: "gold"},
			wantStatus: subscription.Rejected,
			wantReason: `unknown api "payroll": want one of "billing", "catalog", "orders"`,
		},
		{
			req:        subscription.Request{User: "mal", API: "billing", Plan: "free"},
			wantStatus: subscription.Rejected,
			wantReason: `plan "free" is not offered for api "billing": want one of "gold"`,
		},
	}
	var ids []string
	for _, r := range reqs {
		sub, err := store.Create(ctx, r.req, otherRev)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, sub.ID)
	}

	logs := &syncBuffer{}
	w := &worker.Worker{
		Queue:  store,
		Config: cfg,
		Log:    slog.New(slog.NewTextHandler(logs, nil)),
		Poll:   time.Second,
	}
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(wctx) }()

	deadline := time.Now().Add(10 * time.Second)
	for i, id := range ids {
		for {
			sub, err := store.Get(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if sub.Status != subscription.Pending {
				want := subscription.Subscription{
					ID: id, User: reqs[i].req.User, API: reqs[i].req.API, Plan: reqs[i].req.Plan,
					Status: reqs[i].wantStatus, Reason: reqs[i].wantReason,
					RequestRevision: otherRev, ConfigRevision: cfg.Revision,
					CreatedAt: sub.CreatedAt, DecidedAt: sub.DecidedAt,
				}
				if diff := cmp.Diff(want, sub); diff != "" {
					t.Errorf("subscription of %s (-want +got):\n%s", reqs[i].req.User, diff)
				}
				if sub.DecidedAt.Before(sub.CreatedAt) {
					t.Errorf("decidedAt %v before createdAt %v", sub.DecidedAt, sub.CreatedAt)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("subscription %s still pending after 10s; worker log:\n%s", id, logs)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run() = %v, want nil after cancel", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run() did not return within 5s of cancel")
	}

	// One line per job.
	var got []string
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "msg=\"subscription ") {
			for _, word := range []string{"activated", "rejected"} {
				if strings.Contains(line, "msg=\"subscription "+word+"\"") {
					got = append(got, word)
				}
			}
			if !strings.Contains(line, "configRevision="+cfg.Revision) {
				t.Errorf("log line without the configuration revision: %s", line)
			}
		}
	}
	if diff := cmp.Diff([]string{"activated", "activated", "rejected", "rejected"}, got); diff != "" {
		t.Errorf("log lines (-want +got):\n%s\nlog:\n%s", diff, logs)
	}
}

func TestWorkerQueueDown(t *testing.T) {
	t.Parallel()
	cfg, err := static.Load("../../static")
	if err != nil {
		t.Fatal(err)
	}
	// Nothing listens on port 1 of 127.0.0.1.
	rdb := subscription.NewClient("127.0.0.1:1")
	t.Cleanup(func() { rdb.Close() })
	logs := &syncBuffer{}
	w := &worker.Worker{
		Queue:  subscription.New(rdb),
		Config: cfg,
		Log:    slog.New(slog.NewTextHandler(logs, nil)),
		Poll:   time.Second,
		Retry:  10 * time.Millisecond,
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	if err := w.Run(ctx); err != nil {
		t.Errorf("Run() = %v, want nil: a failing queue is retried until stopped", err)
	}
	if !strings.Contains(logs.String(), "reading the queue failed; retrying") {
		t.Errorf("log does not report the failing queue:\n%s", logs)
	}
}
