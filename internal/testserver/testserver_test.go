package testserver

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

func TestRedisKillAndRestart(t *testing.T) {
	t.Parallel()
	r := StartRedis(t)
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr()})
	defer func() { _ = rdb.Close() }()
	ctx := context.Background()
	if err := rdb.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("set: %v", err)
	}
	r.Kill()
	if err := rdb.Ping(ctx).Err(); err == nil {
		t.Fatalf("ping after kill: got nil error, want one")
	}
	r.Start()
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("ping after restart: %v", err)
	}
}

func TestPostgresStartsAndRestarts(t *testing.T) {
	t.Parallel()
	p := StartPostgres(t)
	ctx := context.Background()
	query := func() error {
		c, err := pgx.Connect(ctx, p.URL())
		if err != nil {
			return err
		}
		defer func() { _ = c.Close(ctx) }()
		var n int
		return c.QueryRow(ctx, "SELECT 1").Scan(&n)
	}
	if err := query(); err != nil {
		t.Fatalf("query: %v", err)
	}
	p.Kill()
	if err := query(); err == nil {
		t.Fatalf("query after kill: got nil error, want one")
	}
	p.Start()
	if err := query(); err != nil {
		t.Fatalf("query after restart: %v", err)
	}
}

func TestPgBouncerPoolsInTransactionMode(t *testing.T) {
	t.Parallel()
	p := StartPostgres(t)
	b := StartPgBouncer(t, p.URL(), 2)
	ctx := context.Background()
	c, err := pgx.Connect(ctx, b.URL())
	if err != nil {
		t.Fatalf("connect through pgbouncer: %v", err)
	}
	defer func() { _ = c.Close(ctx) }()
	var port int
	if err := c.QueryRow(ctx, "SELECT current_setting('port')::int").Scan(&port); err != nil {
		t.Fatalf("query through pgbouncer: %v", err)
	}
	if port != p.Port {
		t.Errorf("server port through pgbouncer: got %d, want %d", port, p.Port)
	}
	var mode string
	admin, err := pgx.Connect(ctx, b.URLFor("pgbouncer"))
	if err != nil {
		t.Fatalf("connect to the pgbouncer admin console: %v", err)
	}
	defer func() { _ = admin.Close(ctx) }()
	rows, err := admin.Query(ctx, "SHOW CONFIG", pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		t.Fatalf("SHOW CONFIG: %v", err)
	}
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(vals[0]) == "pool_mode" {
			mode = fmt.Sprint(vals[1])
		}
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	if mode != "transaction" {
		t.Errorf("pool_mode: got %q, want transaction", mode)
	}
}

func TestSentinelGroupFailsOver(t *testing.T) {
	t.Parallel()
	g := StartSentinelGroup(t)
	ctx := context.Background()
	rdb := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: g.MasterName(), SentinelAddrs: g.Addrs()})
	defer func() { _ = rdb.Close() }()
	if err := rdb.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("set through sentinel: %v", err)
	}
	old := g.MasterAddr()
	if old != g.Primary.Addr() {
		t.Fatalf("master at start: got %s, want the primary %s", old, g.Primary.Addr())
	}
	g.KillPrimary()
	if got := g.WaitFailover(old, 30*time.Second); got != g.Replica.Addr() {
		t.Fatalf("master after failover: got %s, want the replica %s", got, g.Replica.Addr())
	}
	if err := rdb.Set(ctx, "k2", "v2", 0).Err(); err != nil {
		t.Fatalf("set after failover: %v", err)
	}
}

func TestClusterServesEverySlot(t *testing.T) {
	t.Parallel()
	c := StartCluster(t)
	for i := range c.Nodes {
		if got, err := c.State(i); err != nil || got != "ok" {
			t.Errorf("node %d cluster_state: got %q (%v), want ok", i, got, err)
		}
	}
	ctx := context.Background()
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()})
	defer func() { _ = rdb.Close() }()
	for i := range 20 { // keys spread over all three primaries
		if err := rdb.Set(ctx, fmt.Sprintf("key%d", i), i, 0).Err(); err != nil {
			t.Fatalf("set key%d: %v", i, err)
		}
	}
}
