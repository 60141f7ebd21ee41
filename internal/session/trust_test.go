package session

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/dealctx/dealctx/internal/config"
	"github.com/dealctx/dealctx/internal/postgres/pgtest"
	"github.com/dealctx/dealctx/internal/testserver"
)

// Two deployments share one PostgreSQL but not their Redis: each replays
// only the invalidations queued for its own Redis, so neither takes (and
// deletes) the other's.
func TestPendingInvalidationsStayWithTheirRedis(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	ra, rb := testserver.StartRedis(t), testserver.StartRedis(t)
	cfgA := config.Config{RedisURL: ra.URL(), RedisKeyPrefix: "dealctx:", RedisTopology: config.TopologySingle}
	cfgB := config.Config{RedisURL: rb.URL(), RedisKeyPrefix: "dealctx:", RedisTopology: config.TopologySingle}
	targetA, targetB := RedisTarget(cfgA), RedisTarget(cfgB)
	if targetA == targetB || targetA == "" {
		t.Fatalf("targets: got %q and %q, want two different ones", targetA, targetB)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	open := func(cfg config.Config, target string) (*TieredStore, *RedisStore) {
		addr := ra.Addr()
		if cfg.RedisURL == rb.URL() {
			addr = rb.Addr()
		}
		rs := NewRedisStore(newRedis(t, addr), cfg.RedisKeyPrefix, lifetime)
		opts := fastOpts
		opts.Target = target
		return NewTieredStore(NewPostgresStore(db, lifetime), rs, logger, opts), rs
	}
	ctx := context.Background()
	tok := newToken(t)
	b, expiry := payload(t, 7, 1)
	// Deployment A's Redis cached the session, then A queued its revocation
	// while its Redis was unreachable.
	_, rsA := open(cfgA, targetA)
	if err := rsA.commit(ctx, tok, b, expiry, 0); err != nil {
		t.Fatal(err)
	}
	if err := db.RevokeSession(ctx, tok, lifetime); err != nil {
		t.Fatal(err)
	}
	if err := db.QueueSessionInvalidation(ctx, targetA, tok, true, time.Now().Add(lifetime)); err != nil {
		t.Fatal(err)
	}

	// Deployment B replays: A's row is not its to take.
	storeB, _ := open(cfgB, targetB)
	sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	storeB.Start(sctx)
	cancel()
	t.Cleanup(storeB.Close)
	if pending, err := db.PendingSessionInvalidations(ctx, targetA, 10); err != nil || len(pending) != 1 {
		t.Fatalf("A's queue after B replayed: got %d rows (%v), want 1", len(pending), err)
	}
	if _, l, _ := rsA.find(ctx, tok); l != live {
		t.Fatalf("A's Redis before A replays: got lookup %d, want the stale live copy", l)
	}

	// A replays its own row: the stale copy becomes a tombstone.
	storeA, _ := open(cfgA, targetA)
	sctx, cancel = context.WithTimeout(ctx, 2*time.Second)
	storeA.Start(sctx)
	cancel()
	t.Cleanup(storeA.Close)
	if _, l, _ := rsA.find(ctx, tok); l != revoked {
		t.Errorf("A's Redis after A replayed: got lookup %d, want a tombstone", l)
	}
	if _, found, err := storeA.FindCtx(ctx, tok); err != nil || found {
		t.Errorf("A reads the revoked session: got found=%v err=%v, want not found", found, err)
	}
	if pending, _ := db.PendingSessionInvalidations(ctx, targetA, 10); len(pending) != 0 {
		t.Errorf("A's queue after A replayed: got %d rows, want none", len(pending))
	}
}
