package session

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

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
	// Target names the Redis this store caches in (RedisTarget); queued
	// invalidations carry it and only its own are replayed ("").
	Target string
}

// defaultOpBudget bounds one Redis operation on a request's path.
const defaultOpBudget = 150 * time.Millisecond

func (o *TieredOptions) defaults() {
	if o.OpBudget <= 0 {
		o.OpBudget = defaultOpBudget
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

// trust decides when the tiered store may use Redis: a circuit breaker over
// every Redis operation, a background probe, and the replay of the
// invalidations queued while Redis could not take them.
type trust struct {
	db     *postgres.DB
	rs     *RedisStore
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

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	started   atomic.Bool

	// beforeTrust, when set, must succeed before Redis is trusted again
	// after an outage (the access generations' relay: copies revoked while
	// Redis was away land before any copy is believed).
	beforeTrust atomic.Pointer[func(context.Context) error]
	// onFailure, when set, is told of every Redis failure (the access
	// generations' copies: a bump committed meanwhile may be missing).
	onFailure atomic.Pointer[func()]
}

func newTrust(db *postgres.DB, rs *RedisStore, logger *slog.Logger, opts TieredOptions) *trust {
	opts.defaults()
	t := &trust{db: db, rs: rs, logger: logger, opts: opts, stop: make(chan struct{}), done: make(chan struct{})}
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
func (t *trust) Start(ctx context.Context) {
	t.maintain(ctx)
	t.started.Store(true)
	go t.loop()
}

// Close stops the background loop.
func (t *trust) Close() {
	t.closeOnce.Do(func() {
		close(t.stop)
		if t.started.Load() {
			<-t.done
		}
	})
}

func (t *trust) loop() {
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
func (t *trust) stateChanged(_ string, from, to gobreaker.State) {
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
func (t *trust) maintain(ctx context.Context) {
	t.mu.Lock()
	gen, wasTrusted := t.gen, t.trusted.Load()
	t.mu.Unlock()
	ping := func(ctx context.Context) error { return t.rs.rdb.Ping(ctx).Err() }
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
	if f := t.beforeTrust.Load(); f != nil {
		if err := (*f)(ctx); err != nil {
			t.logger.Debug("session store: redis not trusted yet (relay before trust failed)", "err", err)
			return
		}
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
func (t *trust) grace() time.Duration { return t.opts.OpenFor + 2*t.opts.Tick }

// replay applies every invalidation queued for this Redis, batch by batch,
// in one pipeline per batch, through RedisStore's own revoke and evict, and
// removes what it applied.
func (t *trust) replay(ctx context.Context) error {
	for {
		batch, err := t.db.PendingSessionInvalidations(ctx, t.opts.Target, replayBatch)
		if err != nil || len(batch) == 0 {
			return err
		}
		err = t.redisDo(ctx, t.opts.MaintainBudget, func(ctx context.Context) error {
			_, err := t.rs.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
				for _, inv := range batch {
					// Queued: Pipelined reports the results.
					if inv.Revoke {
						_ = t.rs.revoke(ctx, p, inv.Token)
					} else {
						_ = t.rs.evict(ctx, p, inv.Token)
					}
				}
				return nil
			})
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

// queue records invalidations Redis did not take; every process replays
// the queue before it trusts Redis again, and each tick while it does.
func (t *trust) queue(ctx context.Context, tokens []string, revoke bool, expiry time.Time) error {
	return t.db.QueueSessionInvalidations(ctx, t.opts.Target, tokens, revoke, expiry)
}

// canceledError is a Redis failure caused by the caller giving up; it does
// not count against Redis.
type canceledError struct{ err error }

func (e *canceledError) Error() string { return e.err.Error() }
func (e *canceledError) Unwrap() error { return e.err }

// redisDo runs op through the breaker within budget. op must call only
// Redis: the budget is a deadline go-redis enforces (budgetCtx), not a
// cancel that other clients, PostgreSQL's among them, would watch.
func (t *trust) redisDo(ctx context.Context, budget time.Duration, op func(context.Context) error) error {
	_, err := t.cb.Execute(func() (struct{}, error) {
		err := op(budgetCtx{ctx, time.Now().Add(budget)})
		if err != nil && ctx.Err() != nil {
			return struct{}{}, &canceledError{err}
		}
		return struct{}{}, err
	})
	var canceled *canceledError
	if err != nil && !errors.As(err, &canceled) {
		if f := t.onFailure.Load(); f != nil {
			(*f)()
		}
	}
	return err
}

// budgetCtx is a context whose deadline is no later than at and which is
// otherwise its parent's: no timer and no cancel function, which
// context.WithTimeout would cost on every request. The clients run with
// ContextTimeoutEnabled, so go-redis sets each socket read and write
// deadline from it: a stalled Redis ends the call at the budget, as a
// canceled context would. Waiting for a pooled connection watches the
// parent's Done and stays bounded by the client's PoolTimeout.
type budgetCtx struct {
	context.Context
	at time.Time
}

func (c budgetCtx) Deadline() (time.Time, bool) {
	if d, ok := c.Context.Deadline(); ok && d.Before(c.at) {
		return d, true
	}
	return c.at, true
}

// Trusted reports whether requests may use Redis now: the breaker is closed
// and every queued invalidation seen since it last opened was replayed.
func (t *trust) Trusted() bool { return t.trusted.Load() }

// BreakerState is "closed" when Redis is trusted, "open" while the breaker
// is open, and "half-open" while a probe or the replay is pending.
func (t *trust) BreakerState() string {
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
