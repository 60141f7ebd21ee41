package session

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/dealctx/dealctx/internal/postgres"
)

// TieredStore keeps sessions in PostgreSQL (the record) with Redis as the
// fast path. Reads try Redis and fall back to PostgreSQL on a miss or an
// error, refilling Redis; writes go to PostgreSQL first, then Redis. Redis
// errors never reach the caller: a circuit breaker opens after repeated
// failures, and while Redis is not trusted the store uses PostgreSQL alone
// (trust.go).
//
// Every change Redis could not take (a destroyed session, a write) is queued
// in PostgreSQL's session_invalidations table under this Redis's target.
// After an outage, reads use Redis again only once probes succeeded, the
// whole queue was replayed, and a grace period (OpenFor + 2 Ticks) passed
// with Redis reachable, replaying on every tick, so other processes recover
// and stop queueing first. While trusted, every process replays the queue
// each Tick, so changes queued by a process that cannot reach Redis at all
// reach it within about one Tick.
type TieredStore struct {
	pg *PostgresStore
	rs *RedisStore
	*trust
	fallbacks atomic.Uint64
}

// NewTieredStore returns a tiered store over the PostgreSQL record and the
// Redis cache. Redis is not trusted until Start's first probe has replayed
// any queued invalidations.
func NewTieredStore(pg *PostgresStore, rs *RedisStore, logger *slog.Logger, opts TieredOptions) *TieredStore {
	return &TieredStore{pg: pg, rs: rs, trust: newTrust(pg.db, rs, logger, opts)}
}

// Fallbacks counts reads served by PostgreSQL because Redis was not trusted
// or failed.
func (t *TieredStore) Fallbacks() uint64 { return t.fallbacks.Load() }

// FindCtx returns a live session's data, from Redis when it can.
func (t *TieredStore) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	// The epoch before the record is read: a refill never carries a newer
	// stamp than the data it holds.
	epoch := t.rs.currentEpoch()
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
			// Missing or unverified (stamped before Redis went back in
			// time, or by an older release): the record decides.
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
		if deadline, _, derr := (Codec{}).Decode(b); derr == nil {
			_ = t.redisDo(ctx, t.opts.OpBudget, func(ctx context.Context) error { return t.rs.commit(ctx, token, b, deadline, epoch) })
		}
	}
	return b, true, nil
}

// CommitCtx writes the session to PostgreSQL, then to Redis (whenever the
// breaker lets it, trusted or not: fresh data is never harmful); a write
// Redis could not take is queued as an eviction. Inside Manager.InTx the
// PostgreSQL write joins the caller's transaction and Redis waits for its
// commit.
func (t *TieredStore) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	epoch := t.rs.currentEpoch()
	written, err := t.pg.commitWritten(ctx, token, b, expiry)
	if err != nil {
		return err
	}
	// Redis after the record: after the caller's transaction when the
	// record joined one (Manager.InTx).
	return afterCommit(ctx, func(ctx context.Context) error {
		if !written {
			// A tombstone refused the write. Whoever destroyed the session
			// made sure Redis will hold a tombstone too; repeat it when we can.
			_ = t.redisDo(ctx, t.opts.OpBudget, func(ctx context.Context) error { return t.rs.revoke(ctx, t.rs.rdb, token) })
			return nil
		}
		if t.redisDo(ctx, t.opts.OpBudget, func(ctx context.Context) error { return t.rs.commit(ctx, token, b, expiry, epoch) }) == nil {
			return nil
		}
		return t.queue(ctx, []string{token}, false, expiry)
	})
}

// DeleteCtx destroys the session: a tombstone in PostgreSQL, then in Redis;
// a revocation Redis could not take is queued.
func (t *TieredStore) DeleteCtx(ctx context.Context, token string) error {
	return t.revokeAll(ctx, []string{token})
}

// revokeAll tombstones the tokens in PostgreSQL, then in Redis (one
// pipeline); revocations Redis could not take are queued.
func (t *TieredStore) revokeAll(ctx context.Context, tokens []string) error {
	if err := t.pg.revokeAll(ctx, tokens); err != nil {
		return err
	}
	if t.redisDo(ctx, t.opts.OpBudget, func(ctx context.Context) error { return t.rs.revokeAll(ctx, tokens) }) == nil {
		return nil
	}
	return t.queue(ctx, tokens, true, time.Now().Add(t.pg.TombstoneTTL))
}

// userTokens lists the user's tokens from the record.
func (t *TieredStore) userTokens(ctx context.Context, userID int64) ([]string, error) {
	return t.pg.userTokens(ctx, userID)
}

// userSessions lists the user's live sessions from the record.
func (t *TieredStore) userSessions(ctx context.Context, userID int64) ([]postgres.StoredSession, error) {
	return t.pg.userSessions(ctx, userID)
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
