// Package redisepoch tells whether the Redis a process talks to is the one
// its copies were written to. Redis can come back older than it was: a
// restart from a snapshot, a restore from a backup, a failover to a replica
// that had not received the last writes. Each of those brings a new identity
// (the server's run_id and its replication id), and the first process to
// meet a new identity records it in PostgreSQL with an epoch one past the
// highest. Every copy a process writes to Redis is stamped with the epoch it
// knew; a copy whose stamp is not the current epoch is distrusted and read
// again from PostgreSQL (the record). The epoch lives in PostgreSQL because
// an epoch kept in Redis would come back from the past with the data.
//
// A Tracker checks the identity on every new connection (go-redis's
// OnConnect, before the connection serves its first command, so the command
// that dialled already sees the new epoch) and about once a second (Run),
// which also picks up a bump made by another process or an operator.
package redisepoch

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dealctx/dealctx/internal/postgres"
	"github.com/redis/go-redis/v9"
)

// CheckEvery is how often Run re-reads the identity and the epoch.
const CheckEvery = time.Second

// Tracker keeps one process's view of a Redis target's epoch.
type Tracker struct {
	db     *postgres.DB
	target string
	logger *slog.Logger

	epoch atomic.Uint64

	mu    sync.Mutex
	known map[string]bool // identities this process has reconciled
	last  string          // the identity most recently met, for the log
}

// New returns a Tracker for target (session.RedisTarget: one deployment's
// Redis and key prefix). Its epoch is 0, unknown, until the first
// connection or Check.
func New(db *postgres.DB, target string, logger *slog.Logger) *Tracker {
	return &Tracker{db: db, target: target, logger: logger, known: make(map[string]bool)}
}

// Epoch returns the current epoch; 0 means unknown, and no copy is to be
// trusted.
func (t *Tracker) Epoch() uint64 {
	if t == nil {
		return 0
	}
	return t.epoch.Load()
}

// OnConnect is go-redis's OnConnect hook: it reads the new connection's
// server identity and, when this process has not met it, reconciles it with
// PostgreSQL before the connection is used. An error (PostgreSQL or Redis
// unreachable) keeps the connection from being used. Sentinel connections
// are not data servers and pass unchecked.
func (t *Tracker) OnConnect(ctx context.Context, cn *redis.Conn) error {
	// The request path hands go-redis contexts that carry a deadline
	// without a timer (session's budgetCtx); PostgreSQL's driver cancels on
	// Done, so the deadline is made a real one for this rare path.
	if d, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, d)
		defer cancel()
	}
	info, err := cn.Info(ctx, "server", "replication").Result()
	if err != nil {
		return fmt.Errorf("redis identity: %w", err)
	}
	id, ok := identity(info)
	if !ok {
		return nil
	}
	return t.observe(ctx, id)
}

// Check re-reads the identity of every data node rdb serves from and the
// epoch PostgreSQL holds: the safety net for a change without a new
// connection (a replica promoted in place) and for bumps by others.
func (t *Tracker) Check(ctx context.Context, rdb redis.UniversalClient) error {
	var infos []string
	switch c := rdb.(type) {
	case *redis.ClusterClient:
		var mu sync.Mutex
		err := c.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
			info, err := n.Info(ctx, "server", "replication").Result()
			mu.Lock()
			infos = append(infos, info)
			mu.Unlock()
			return err
		})
		if err != nil {
			return err
		}
	default:
		info, err := rdb.Info(ctx, "server", "replication").Result()
		if err != nil {
			return err
		}
		infos = append(infos, info)
	}
	for _, info := range infos {
		if id, ok := identity(info); ok {
			if err := t.observe(ctx, id); err != nil {
				return err
			}
		}
	}
	e, err := t.db.RedisEpoch(ctx, t.target)
	if err != nil {
		return err
	}
	t.raise(e)
	return nil
}

// Run calls Check every CheckEvery until ctx ends; failures are retried at
// the next tick (a Redis that cannot be reached has nothing to trust).
func (t *Tracker) Run(ctx context.Context, rdb redis.UniversalClient) {
	tick := time.NewTicker(CheckEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		cctx, cancel := context.WithTimeout(ctx, CheckEvery)
		if err := t.Check(cctx, rdb); err != nil && ctx.Err() == nil {
			t.logger.Debug("redis epoch: check failed", "err", err)
		}
		cancel()
	}
}

// Bump moves the target's epoch past every copy written so far (`api
// access reset --all`): each process distrusts them within CheckEvery, this
// one at once.
func (t *Tracker) Bump(ctx context.Context) error {
	e, err := t.db.BumpRedisEpoch(ctx, t.target)
	if err != nil {
		return err
	}
	t.raise(e)
	return nil
}

// observe reconciles id with PostgreSQL unless this process already has.
func (t *Tracker) observe(ctx context.Context, id string) error {
	t.mu.Lock()
	known, last := t.known[id], t.last
	t.mu.Unlock()
	if known && t.epoch.Load() != 0 {
		return nil
	}
	e, err := t.db.ObserveRedisIdentity(ctx, t.target, id)
	if err != nil {
		return fmt.Errorf("redis identity: %w", err)
	}
	t.mu.Lock()
	t.known[id] = true
	t.last = id
	t.mu.Unlock()
	before := t.epoch.Load()
	t.raise(e)
	if last != "" && last != id && !known {
		t.logger.Warn("redis identity changed; copies distrusted until re-read from postgres",
			"previous", last, "current", id, "epoch_before", before, "epoch", t.epoch.Load())
	}
	return nil
}

// raise moves the epoch up to e; it never moves down.
func (t *Tracker) raise(e uint64) {
	for {
		cur := t.epoch.Load()
		if e <= cur || t.epoch.CompareAndSwap(cur, e) {
			return
		}
	}
}

// identity returns "run_id/master_replid" from INFO's server and
// replication sections; ok is false for a Sentinel, or when INFO names
// neither (nothing to tell servers apart by).
func identity(info string) (id string, ok bool) {
	var runID, replID, mode string
	for line := range strings.SplitSeq(info, "\n") {
		k, v, found := strings.Cut(strings.TrimSpace(line), ":")
		if !found {
			continue
		}
		switch k {
		case "run_id":
			runID = v
		case "master_replid":
			replID = v
		case "redis_mode":
			mode = v
		}
	}
	if mode == "sentinel" || runID == "" {
		return "", false
	}
	return runID + "/" + replID, true
}
