package subscription

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// Status is where a subscription is in its life.
type Status string

// The statuses of a subscription.
const (
	Pending  Status = "pending"
	Active   Status = "active"
	Rejected Status = "rejected"
)

// Request asks for a subscription of User to API on Plan.
type Request struct {
	User string `json:"user"`
	API  string `json:"api"`
	Plan string `json:"plan"`
}

// Subscription is a stored subscription.
type Subscription struct {
	ID     string `json:"id"`
	User   string `json:"user"`
	API    string `json:"api"`
	Plan   string `json:"plan"`
	Status Status `json:"status"`
	// RequestRevision is the configuration revision of the API instance
	// that accepted the request.
	RequestRevision string `json:"requestRevision"`
	// ConfigRevision is the configuration revision of the worker that
	// approved (or rejected) the subscription; empty while pending.
	ConfigRevision string `json:"configRevision,omitempty"`
	// Reason says why a subscription was rejected.
	Reason    string    `json:"reason,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	DecidedAt time.Time `json:"decidedAt,omitzero"`
}

// ErrNotFound is returned for an id that names no subscription.
var ErrNotFound = errors.New("subscription not found")

// ErrDecided is returned when deciding a subscription that is no longer
// pending, for instance one a previous worker decided before it was stopped.
var ErrDecided = errors.New("subscription already decided")

// NewClient returns a Redis client for the plain, single Redis server that
// pssp-api runs beside. Close it when done.
func NewClient(addr string) *redis.Client {
	return redis.NewClient(&redis.Options{
		Addr: addr,
		// A plain Redis server has no maintenance notifications; asking
		// for them only fills the log.
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	})
}

// Store keeps subscriptions in Redis.
type Store struct {
	rdb    *redis.Client
	prefix string
	now    func() time.Time
	decide *redis.Script
}

// Option configures a Store.
type Option func(*Store)

// WithPrefix puts every key under prefix instead of "pssp:", so that tests
// can share one server.
func WithPrefix(prefix string) Option { return func(s *Store) { s.prefix = prefix } }

// WithClock replaces time.Now.
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// New returns a Store that keeps subscriptions in rdb.
func New(rdb *redis.Client, opts ...Option) *Store {
	s := &Store{
		rdb:    rdb,
		prefix: "pssp:",
		now:    time.Now,
		// Deciding must be atomic: two workers, or a worker restarted
		// mid-job, must not both decide the same subscription.
		decide: redis.NewScript(`
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return 0 end
if status ~= 'pending' then return 1 end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'configRevision', ARGV[2], 'decidedAt', ARGV[3], 'reason', ARGV[4])
return 2
`),
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

func (s *Store) key(id string) string { return s.prefix + "subscription:" + id }
func (s *Store) queue() string        { return s.prefix + "queue" }

// Create stores a pending subscription for r, accepted under the
// configuration revision revision, and queues it for the worker. The caller
// has checked r against the static configuration.
func (s *Store) Create(ctx context.Context, r Request, revision string) (Subscription, error) {
	sub := Subscription{
		ID:              rand.Text(),
		User:            r.User,
		API:             r.API,
		Plan:            r.Plan,
		Status:          Pending,
		RequestRevision: revision,
		CreatedAt:       s.now().UTC(),
	}
	// Both or neither: a stored subscription that is never queued would
	// stay pending forever.
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, s.key(sub.ID),
			"id", sub.ID,
			"user", sub.User,
			"api", sub.API,
			"plan", sub.Plan,
			"status", string(sub.Status),
			"requestRevision", sub.RequestRevision,
			"createdAt", sub.CreatedAt.Format(time.RFC3339Nano),
		)
		p.LPush(ctx, s.queue(), sub.ID)
		return nil
	})
	if err != nil {
		return Subscription{}, fmt.Errorf("storing subscription of %q to %q: %w", r.User, r.API, err)
	}
	return sub, nil
}

// Get returns the subscription id, or ErrNotFound.
func (s *Store) Get(ctx context.Context, id string) (Subscription, error) {
	m, err := s.rdb.HGetAll(ctx, s.key(id)).Result()
	if err != nil {
		return Subscription{}, fmt.Errorf("reading subscription %q: %w", id, err)
	}
	if len(m) == 0 {
		return Subscription{}, fmt.Errorf("reading subscription %q: %w", id, ErrNotFound)
	}
	sub := Subscription{
		ID:              m["id"],
		User:            m["user"],
		API:             m["api"],
		Plan:            m["plan"],
		Status:          Status(m["status"]),
		RequestRevision: m["requestRevision"],
		ConfigRevision:  m["configRevision"],
		Reason:          m["reason"],
	}
	if sub.CreatedAt, err = parseTime(m["createdAt"]); err != nil {
		return Subscription{}, fmt.Errorf("reading subscription %q: createdAt: %w", id, err)
	}
	if sub.DecidedAt, err = parseTime(m["decidedAt"]); err != nil {
		return Subscription{}, fmt.Errorf("reading subscription %q: decidedAt: %w", id, err)
	}
	return sub, nil
}

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return time.Parse(time.RFC3339Nano, s)
}

// Next waits up to timeout for a queued subscription and returns its id;
// ok is false when none came. The timeout bounds how long a worker takes to
// notice it should stop, since a blocked BRPOP does not see its context
// being cancelled.
func (s *Store) Next(ctx context.Context, timeout time.Duration) (id string, ok bool, err error) {
	kv, err := s.rdb.BRPop(ctx, timeout, s.queue()).Result()
	switch {
	case errors.Is(err, redis.Nil):
		return "", false, nil
	case err != nil:
		return "", false, fmt.Errorf("waiting for queued subscriptions: %w", err)
	}
	// BRPOP answers [key, value].
	if len(kv) != 2 {
		return "", false, fmt.Errorf("waiting for queued subscriptions: unexpected reply %q", kv)
	}
	return kv[1], true, nil
}

// Activate marks the pending subscription id active, approved under the
// configuration revision revision.
func (s *Store) Activate(ctx context.Context, id, revision string) (Subscription, error) {
	return s.decideAs(ctx, id, Active, revision, "")
}

// Reject marks the pending subscription id rejected under the configuration
// revision revision, for reason.
func (s *Store) Reject(ctx context.Context, id, revision, reason string) (Subscription, error) {
	return s.decideAs(ctx, id, Rejected, revision, reason)
}

func (s *Store) decideAs(ctx context.Context, id string, status Status, revision, reason string) (Subscription, error) {
	at := s.now().UTC().Format(time.RFC3339Nano)
	res, err := s.decide.Run(ctx, s.rdb, []string{s.key(id)}, string(status), revision, at, reason).Int()
	if err != nil {
		return Subscription{}, fmt.Errorf("marking subscription %q %s: %w", id, status, err)
	}
	switch res {
	case 0:
		return Subscription{}, fmt.Errorf("marking subscription %q %s: %w", id, status, ErrNotFound)
	case 1:
		sub, err := s.Get(ctx, id)
		if err != nil {
			return Subscription{}, err
		}
		return sub, fmt.Errorf("marking subscription %q %s: %w: it is %s", id, status, ErrDecided, sub.Status)
	}
	return s.Get(ctx, id)
}

// ValidID reports whether id has the shape of the ids Create makes (26
// characters of the RFC 4648 base32 alphabet), so callers can refuse
// anything else before it reaches Redis.
func ValidID(id string) bool {
	if len(id) != 26 {
		return false
	}
	for _, c := range []byte(id) {
		if (c < 'A' || c > 'Z') && (c < '2' || c > '7') {
			return false
		}
	}
	return true
}
