package redisepoch_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/dealctx/dealctx/internal/config"
	"github.com/dealctx/dealctx/internal/postgres"
	"github.com/dealctx/dealctx/internal/postgres/pgtest"
	"github.com/dealctx/dealctx/internal/redisclient"
	"github.com/dealctx/dealctx/internal/redisepoch"
	"github.com/dealctx/dealctx/internal/testserver"
	"github.com/redis/go-redis/v9"
)

// process is one api process's tracker and client on a shared Redis.
func process(t *testing.T, db *postgres.DB, url string) (*redisepoch.Tracker, redis.UniversalClient) {
	t.Helper()
	tr := redisepoch.New(db, "target-"+t.Name(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	rdb, err := redisclient.OpenChecked(config.Config{RedisURL: url, RedisTopology: config.TopologySingle},
		redisclient.RequestTimeouts, tr.OnConnect)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	return tr, rdb
}

// ping runs one command, tolerating the one failure a restart costs.
func ping(t *testing.T, rdb redis.UniversalClient) {
	t.Helper()
	var err error
	for range 5 {
		if err = rdb.Ping(context.Background()).Err(); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("ping: %v", err)
}

// Processes that meet the same Redis agree on its epoch without moving it;
// a restart moves it exactly once for all of them, and each learns it on
// its next new connection, before that connection serves a command.
func TestEpochMovesOnceWhenRedisComesBackAndNeverForNewProcesses(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	srv := testserver.StartRedis(t)
	a, rdbA := process(t, db, srv.URL())
	b, rdbB := process(t, db, srv.URL())
	if a.Epoch() != 0 {
		t.Fatalf("epoch before any connection: got %d, want 0 (unknown)", a.Epoch())
	}
	ping(t, rdbA)
	ping(t, rdbB)
	first := a.Epoch()
	if first == 0 || b.Epoch() != first {
		t.Fatalf("two processes on one Redis: got epochs %d and %d, want one non-zero epoch", first, b.Epoch())
	}
	c, rdbC := process(t, db, srv.URL())
	ping(t, rdbC)
	if c.Epoch() != first {
		t.Errorf("a process started later: got epoch %d, want %d (a new process is no reason to distrust Redis)", c.Epoch(), first)
	}

	srv.Kill()
	srv.Start()
	ping(t, rdbA)
	ping(t, rdbB)
	if a.Epoch() != first+1 || b.Epoch() != first+1 {
		t.Errorf("after a restart: got epochs %d and %d, want both %d", a.Epoch(), b.Epoch(), first+1)
	}
	// The third process learns it from its once-a-second check.
	if err := c.Check(context.Background(), rdbC); err != nil {
		t.Fatal(err)
	}
	if c.Epoch() != first+1 {
		t.Errorf("check after a restart: got epoch %d, want %d", c.Epoch(), first+1)
	}

	// An operator's bump reaches the others at their next check.
	if err := a.Bump(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := b.Check(context.Background(), rdbB); err != nil {
		t.Fatal(err)
	}
	if a.Epoch() != first+2 || b.Epoch() != first+2 {
		t.Errorf("after a bump: got epochs %d and %d, want both %d", a.Epoch(), b.Epoch(), first+2)
	}
}

// Without PostgreSQL a new Redis identity cannot be reconciled, so the
// connection is refused rather than trusted.
func TestNewConnectionIsRefusedWhenThePostgresEpochCannotBeRead(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	srv := testserver.StartRedis(t)
	a, rdb := process(t, db, srv.URL())
	db.Close()
	if err := rdb.Ping(context.Background()).Err(); err == nil {
		t.Fatal("ping with PostgreSQL gone: got success, want the connection refused")
	}
	if a.Epoch() != 0 {
		t.Errorf("epoch: got %d, want 0", a.Epoch())
	}
}
