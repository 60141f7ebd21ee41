package session

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/dealctx/dealctx/internal/postgres"
	"github.com/redis/go-redis/v9"
	"github.com/sony/gobreaker/v2"
)

// TieredOptions tune a TieredStore; zero fields take the defaults.
type TieredOptions struct {
	// OpBudget bounds one Redis operation on a request's path (150ms).
	OpBudget time.Duration
	// MaintainBudget bounds one background probe or replay batch (1s).
	MaintainBudget time.Duration
	// Tick is how often the background loop pings Redis and replays queued
	// invalidations (500ms).
	Tick time.Duration
	// OpenFor is how long the breaker stays open before a probe (1s).
	OpenFor time.Duration
	// TripAfter is how many consecutive Redis failures open the breaker (3).
	TripAfter uint32
}

func (o *TieredOptions) defaults() {
	if o.OpBudget <= 0 {
		o.OpBudget = 150 * time.Millisecond
	}
	if o.MaintainBudget <= 0 {
		o.MaintainBudget = time.Second
	}
	if o.Tick <= 0 {
		o.Tick = 500 * time.Millisecond
	}
	if o.OpenFor <= 0 {
		o.OpenFor = time.Second
	}
	if o.TripAfter == 0 {
		o.TripAfter = 3
	}
}

// replayBatch is how many queued invalidations one replay step handles.
const replayBatch = 500

// TieredStore keeps sessions in PostgreSQL (the record) with Redis as the
// fast path. Reads try Redis and fall back to PostgreSQL on a miss or an
// error, refilling Redis; writes go to PostgreSQL first, then Redis. Redis
// errors never reach the caller: a circuit breaker opens after repeated
// failures, and while Redis is not trusted the store uses PostgreSQL alone.
//
// Every change Redis could not take (a destroyed session, a write) is queued
// in PostgreSQL's session_invalidations table. After an outage, reads use
// Redis again only once probes succeeded, the whole queue was replayed, and
// a grace period (OpenFor + 2 Ticks) passed with Redis reachable, replaying
// on every tick, so other processes recover and stop queueing first. While
// trusted, every process replays the queue each Tick, so changes queued by a
// process that cannot reach Redis at all reach it within about one Tick.
type TieredStore struct {
	pg     *PostgresStore
	rs     *RedisStore
	db     *postgres.DB
	rdb    *redis.Client
	cb     *gobreaker.CircuitBreaker[struct{}]
	logger *slog.Logger
	opts   TieredOptions

	// mu orders trust changes: the breaker leaving the closed state bumps
	// gen and clears trusted; a replay sets trusted only if gen is unchanged.
	mu      sync.Mutex
	gen     uint64
	trusted atomic.Bool
	// closedSince is when maintain first found Redis usable again after the
	// breaker left the closed state in generation closedGen; only maintain
	// touches them.
	closedSince time.Time
	closedGen   uint64

	fallbacks atomic.Uint64
	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	started   atomic.Bool
}

// NewTieredStore returns a tiered store. Redis is not trusted until Start's
// first probe has replayed any queued invalidations.
func NewTieredStore(pg *PostgresStore, rs *RedisStore, db *postgres.DB, rdb *redis.Client, logger *slog.Logger, opts TieredOptions) *TieredStore {
	opts.defaults()
	t := &TieredStore{pg: pg, rs: rs, db: db, rdb: rdb, logger: logger, opts: opts,
		stop: make(chan struct{}), done: make(chan struct{})}
	t.cb = gobreaker.NewCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        "session-redis",
		MaxRequests: 1,
		Interval:    0,
		Timeout:     opts.OpenFor,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= opts.TripAfter },
		IsExcluded: func(err error) bool {
			var c *canceledError
			return errors.As(err, &c)
		},
		OnStateChange: t.stateChanged,
	})
	return t
}

// Start probes Redis once within ctx (replaying queued invalidations), then
// keeps probing and replaying in the background until Close.
func (t *TieredStore) Start(ctx context.Context) {
	t.maintain(ctx)
	t.started.Store(true)
	go t.loop()
}

// Close stops the background loop.
func (t *TieredStore) Close() {
	t.closeOnce.Do(func() {
		close(t.stop)
		if t.started.Load() {
			<-t.done
		}
	})
}

func (t *TieredStore) loop() {
	defer close(t.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-t.stop
		cancel()
	}()
	tick := time.NewTicker(t.opts.Tick)
	defer tick.Stop()
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		t.maintain(ctx)
		if n%120 == 0 {
			if _, err := t.db.DeleteExpiredSessionInvalidations(ctx); err != nil {
				t.logger.Debug("session store: expired invalidations not deleted", "err", err)
			}
		}
	}
}

// stateChanged runs under the breaker's lock whenever its state changes.
func (t *TieredStore) stateChanged(_ string, from, to gobreaker.State) {
	if to != gobreaker.StateClosed {
		t.mu.Lock()
		t.gen++
		t.trusted.Store(false)
		t.mu.Unlock()
	}
	switch {
	case from == gobreaker.StateClosed && to == gobreaker.StateOpen:
		t.logger.Warn("session store: redis circuit open; serving sessions from postgres alone")
	case to == gobreaker.StateClosed:
		t.logger.Info("session store: redis circuit closed")
	}
}

// maintain probes Redis and replays queued invalidations; when Redis was
// not trusted and both succeed, it trusts Redis again.
func (t *TieredStore) maintain(ctx context.Context) {
	t.mu.Lock()
	gen, wasTrusted := t.gen, t.trusted.Load()
	t.mu.Unlock()
	ping := func(ctx context.Context) error { return t.rdb.Ping(ctx).Err() }
	if err := t.redisDo(ctx, t.opts.MaintainBudget, ping); err != nil {
		return
	}
	if err := t.replay(ctx); err != nil {
		t.logger.Debug("session store: replay of invalidations incomplete", "err", err)
		return
	}
	if wasTrusted {
		return
	}
	// After an outage, wait out a grace period with the breaker closed,
	// replaying on every tick: by its end every other process that can reach
	// Redis has probed it too and writes to it again, so what they queued
	// meanwhile has been replayed. At start there is nothing to wait for.
	if gen > 0 {
		if t.closedGen != gen || t.closedSince.IsZero() {
			t.closedGen, t.closedSince = gen, time.Now()
		}
		if time.Since(t.closedSince) < t.grace() {
			return
		}
	}
	t.mu.Lock()
	if t.gen == gen && !t.trusted.Load() {
		t.trusted.Store(true)
		if gen > 0 {
			t.logger.Info("session store: redis trusted again (pending invalidations replayed)")
		}
	}
	t.mu.Unlock()
}

// grace is how long Redis must stay reachable after an outage before reads
// use it again: one open period, for other processes to probe, and two
// ticks, to replay what they queued.
func (t *TieredStore) grace() time.Duration { return t.opts.OpenFor + 2*t.opts.Tick }

// replay applies every queued invalidation to Redis, batch by batch, and
// removes what it applied.
func (t *TieredStore) replay(ctx context.Context) error {
	for {
		batch, err := t.db.PendingSessionInvalidations(ctx, replayBatch)
		if err != nil || len(batch) == 0 {
			return err
		}
		err = t.redisDo(ctx, t.opts.MaintainBudget, func(ctx context.Context) error {
			pipe := t.rdb.Pipeline()
			for _, inv := range batch {
				key := t.rs.Key(inv.Token)
				if inv.Revoke {
					pipe.Set(ctx, key, tombstone, max(time.Until(inv.Expiry), time.Second))
				} else {
					evictScript.Eval(ctx, pipe, []string{key}, tombstone)
				}
			}
			_, err := pipe.Exec(ctx)
			return err
		})
		if err != nil {
			return err
		}
		if err := t.db.DeleteSessionInvalidations(ctx, batch); err != nil {
			return err
		}
		if len(batch) < replayBatch {
			return nil
		}
	}
}

// canceledError is a Redis failure caused by the caller giving up; it does
// not count against Redis.
type canceledError struct{ err error }

func (e *canceledError) Error() string { return e.err.Error() }
func (e *canceledError) Unwrap() error { return e.err }

// redisDo runs op through the breaker within budget.
func (t *TieredStore) redisDo(ctx context.Context, budget time.Duration, op func(context.Context) error) error {
	_, err := t.cb.Execute(func() (struct{}, error) {
		octx, cancel := context.WithTimeout(ctx, budget)
		defer cancel()
		err := op(octx)
		if err != nil && ctx.Err() != nil {
			return struct{}{}, &canceledError{err}
		}
		return struct{}{}, err
	})
	return err
}

// Trusted reports whether requests may use Redis now: the breaker is closed
// and every queued invalidation seen since it last opened was replayed.
func (t *TieredStore) Trusted() bool { return t.trusted.Load() }

// BreakerState is "closed" when Redis is trusted, "open" while the breaker
// is open, and "half-open" while a probe or the replay is pending.
func (t *TieredStore) BreakerState() string {
	switch t.cb.State() {
	case gobreaker.StateOpen:
		return "open"
	case gobreaker.StateHalfOpen:
		return "half-open"
	}
	if !t.Trusted() {
		return "half-open"
	}
	return "closed"
}

// Fallbacks counts reads served by PostgreSQL because Redis was not trusted
// or failed.
func (t *TieredStore) Fallbacks() uint64 { return t.fallbacks.Load() }

// FindCtx returns a live session's data, from Redis when it can.
func (t *TieredStore) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	refill := false
	if t.Trusted() {
		var b []byte
		var l lookup
		err := t.redisDo(ctx, t.opts.OpBudget, func(ctx context.Context) error {
			var err error
			b, l, err = t.rs.find(ctx, token)
			return err
		})
		if err == nil {
			switch l {
			case live:
				return b, true, nil
			case revoked:
				return nil, false, nil
			}
			refill = true
		}
	}
	if !refill {
		t.fallbacks.Add(1)
	}
	b, found, err := t.pg.FindCtx(ctx, token)
	if err != nil || !found {
		return nil, false, err
	}
	if refill {
		// A failed refill loses nothing: the next read falls back again.
		if deadline, _, derr := (scs.GobCodec{}).Decode(b); derr == nil {
			_ = t.redisDo(ctx, t.opts.OpBudget, func(ctx context.Context) error { return t.rs.commit(ctx, token, b, deadline) })
		}
	}
	return b, true, nil
}

// CommitCtx writes the session to PostgreSQL, then to Redis (whenever the
// breaker lets it, trusted or not: fresh data is never harmful); a write
// Redis could not take is queued as an eviction.
func (t *TieredStore) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	written, err := t.pg.CommitWritten(ctx, token, b, expiry)
	if err != nil {
		return err
	}
	if !written {
		// A tombstone refused the write. Whoever destroyed the session made
		// sure Redis will hold a tombstone too; repeat it when we can.
		_ = t.redisDo(ctx, t.opts.OpBudget, func(ctx context.Context) error { return t.rs.revoke(ctx, token) })
		return nil
	}
	if t.redisDo(ctx, t.opts.OpBudget, func(ctx context.Context) error { return t.rs.commit(ctx, token, b, expiry) }) == nil {
		return nil
	}
	return t.queue(ctx, token, false, expiry)
}

// DeleteCtx destroys the session: a tombstone in PostgreSQL, then in Redis;
// a revocation Redis could not take is queued.
func (t *TieredStore) DeleteCtx(ctx context.Context, token string) error {
	if err := t.pg.DeleteCtx(ctx, token); err != nil {
		return err
	}
	if t.redisDo(ctx, t.opts.OpBudget, func(ctx context.Context) error { return t.rs.revoke(ctx, token) }) == nil {
		return nil
	}
	return t.queue(ctx, token, true, time.Now().Add(t.pg.TombstoneTTL))
}

// queue records an invalidation Redis did not take; every process replays
// the queue before it trusts Redis again, and each tick while it does.
func (t *TieredStore) queue(ctx context.Context, token string, revoke bool, expiry time.Time) error {
	return t.db.QueueSessionInvalidation(ctx, token, revoke, expiry)
}

// Find implements scs.Store.
func (t *TieredStore) Find(token string) ([]byte, bool, error) {
	return t.FindCtx(context.Background(), token)
}

// Commit implements scs.Store.
func (t *TieredStore) Commit(token string, b []byte, expiry time.Time) error {
	return t.CommitCtx(context.Background(), token, b, expiry)
}

// Delete implements scs.Store.
func (t *TieredStore) Delete(token string) error {
	return t.DeleteCtx(context.Background(), token)
}
