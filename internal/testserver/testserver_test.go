package testserver

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

func TestRedisKillAndRestart(t *testing.T) {
	t.Parallel()
	r := StartRedis(t)
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr()})
	defer rdb.Close()
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
		defer c.Close(ctx)
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
