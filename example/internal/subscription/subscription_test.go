package subscription_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/driftless-dev/driftless/example/internal/redistest"
	"github.com/driftless-dev/driftless/example/internal/subscription"
)

const (
	rev1 = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	rev2 = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
)

var (
	t0 = time.Date(2025, 3, 1, 12, 0, 0, 123456789, time.UTC)
	t1 = t0.Add(time.Minute)
)

func newStore(t *testing.T, addr string, now func() time.Time) *subscription.Store {
	t.Helper()
	rdb := subscription.NewClient(addr)
	t.Cleanup(func() { rdb.Close() })
	// One prefix per test, so tests share the server but not the data.
	return subscription.New(rdb, subscription.WithPrefix(t.Name()+":"), subscription.WithClock(now))
}

func TestLifecycle(t *testing.T) {
	t.Parallel()
	addr := redistest.Start(t)

	tests := []struct {
		name   string
		decide func(s *subscription.Store, id string) (subscription.Subscription, error)
		want   subscription.Subscription
	}{
		{
			name: "activate",
			decide: func(s *subscription.Store, id string) (subscription.Subscription, error) {
				return s.Activate(t.Context(), id, rev2)
			},
			want: subscription.Subscription{
				User: "ada", API: "orders", Plan: "gold", Status: subscription.Active,
				RequestRevision: rev1, ConfigRevision: rev2, CreatedAt: t0, DecidedAt: t1,
			},
		},
		{
			name: "reject",
			decide: func(s *subscription.Store, id string) (subscription.Subscription, error) {
				return s.Reject(t.Context(), id, rev2, "plan gone")
			},
			want: subscription.Subscription{
				User: "ada", API: "orders", Plan: "gold", Status: subscription.Rejected,
				RequestRevision: rev1, ConfigRevision: rev2, Reason: "plan gone", CreatedAt: t0, DecidedAt: t1,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			now := t0
			s := newStore(t, addr, func() time.Time { return now })
			ctx := t.Context()

			created, err := s.Create(ctx, subscription.Request{User: "ada", API: "orders", Plan: "gold"}, rev1)
			if err != nil {
				t.Fatal(err)
			}
			if !subscription.ValidID(created.ID) {
				t.Errorf("Create() id %q is not a ValidID", created.ID)
			}
			pending := subscription.Subscription{
				ID: created.ID, User: "ada", API: "orders", Plan: "gold",
				Status: subscription.Pending, RequestRevision: rev1, CreatedAt: t0,
			}
			if diff := cmp.Diff(pending, created); diff != "" {
				t.Errorf("Create() (-want +got):\n%s", diff)
			}
			got, err := s.Get(ctx, created.ID)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(pending, got); diff != "" {
				t.Errorf("Get() after Create (-want +got):\n%s", diff)
			}

			id, ok, err := s.Next(ctx, time.Second)
			if err != nil || !ok || id != created.ID {
				t.Fatalf("Next() = %q, %v, %v; want %q, true, nil", id, ok, err, created.ID)
			}

			now = t1
			decided, err := tt.decide(s, id)
			if err != nil {
				t.Fatal(err)
			}
			want := tt.want
			want.ID = id
			if diff := cmp.Diff(want, decided); diff != "" {
				t.Errorf("decide (-want +got):\n%s", diff)
			}

			// A second decision changes nothing and says why.
			now = t1.Add(time.Hour)
			again, err := s.Activate(ctx, id, rev1)
			if !errors.Is(err, subscription.ErrDecided) {
				t.Errorf("Activate() again error = %v, want ErrDecided", err)
			}
			if diff := cmp.Diff(want, again); diff != "" {
				t.Errorf("Activate() again (-want +got):\n%s", diff)
			}

			// The queue is empty now.
			if id, ok, err := s.Next(ctx, 100*time.Millisecond); err != nil || ok {
				t.Errorf("Next() on empty queue = %q, %v, %v; want \"\", false, nil", id, ok, err)
			}
		})
	}
}

func TestNotFound(t *testing.T) {
	t.Parallel()
	s := newStore(t, redistest.Start(t), time.Now)
	const id = "AAAAAAAAAAAAAAAAAAAAAAAAAA"
	if _, err := s.Get(t.Context(), id); !errors.Is(err, subscription.ErrNotFound) {
		t.Errorf("Get() error = %v, want ErrNotFound", err)
	}
	if _, err := s.Activate(t.Context(), id, rev1); !errors.Is(err, subscription.ErrNotFound) {
		t.Errorf("Activate() error = %v, want ErrNotFound", err)
	}
}

func TestQueueOrder(t *testing.T) {
	t.Parallel()
	s := newStore(t, redistest.Start(t), time.Now)
	ctx := t.Context()
	var want []string
	for _, user := range []string{"a", "b", "c"} {
		sub, err := s.Create(ctx, subscription.Request{User: user, API: "orders", Plan: "free"}, rev1)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, sub.ID)
	}
	var got []string
	for range want {
		id, ok, err := s.Next(ctx, time.Second)
		if err != nil || !ok {
			t.Fatalf("Next() = %q, %v, %v", id, ok, err)
		}
		got = append(got, id)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("queue order, first in first out (-want +got):\n%s", diff)
	}
}

func TestUnreachable(t *testing.T) {
	t.Parallel()
	// Nothing listens on port 1 of 127.0.0.1.
	s := newStore(t, "127.0.0.1:1", time.Now)
	_, err := s.Create(t.Context(), subscription.Request{User: "a", API: "b", Plan: "c"}, rev1)
	if err == nil || errors.Is(err, subscription.ErrNotFound) {
		t.Errorf("Create() error = %v, want a connection error", err)
	}
}

func TestValidID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		id   string
		want bool
	}{
		{"ABCDEFGHIJKLMNOPQRSTUVWXYZ", true},
		{"234567ABCDEFGHIJKLMNOPQRST", true},
		{"", false},
		{"ABCDEFGHIJKLMNOPQRSTUVWXY", false},
		{"abcdefghijklmnopqrstuvwxyz", false},
		{"ABCDEFGHIJKLMNOPQRSTUVWXY1", false},
		{"ABCDEFGHIJKLMNOPQRSTUVWXY*", false},
	}
	for _, tt := range tests {
		if got := subscription.ValidID(tt.id); got != tt.want {
			t.Errorf("ValidID(%q) = %v, want %v", tt.id, got, tt.want)
		}
	}
}
