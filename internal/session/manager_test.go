package session

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dealctx/dealctx/internal/config"
	"github.com/dealctx/dealctx/internal/postgres/pgtest"
)

func testConfig(store string) config.Config {
	return config.Config{SessionStore: store, SessionLifetime: lifetime,
		RedisKeyPrefix: "dealctx-test-open-" + time.Now().Format("150405.000000") + ":"}
}

// A commit that fails after the handler ran yields the error response alone:
// never a 500, never the handler's output.
func TestLoadAndSaveFailedCommitHidesHandlerOutput(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	m := NewManager(NewPostgresStore(db, lifetime), "postgres", Options{Lifetime: lifetime})
	db.Close() // PostgreSQL is gone by the time the session commits
	var storeErr error
	h := m.LoadAndSave(func(w http.ResponseWriter, r *http.Request, err error) {
		storeErr = err
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		if _, err := io.WriteString(w, `{"error":{"code":"unavailable","message":"try again"}}`); err != nil {
			t.Errorf("write the error response: %v", err)
		}
	})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.SetDeal(r.Context(), 42)
		w.Header().Set("X-Handler", "ran")
		w.WriteHeader(http.StatusOK)
		if _, err := io.WriteString(w, "handler output"); err != nil {
			t.Errorf("write the handler output: %v", err)
		}
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/", nil))
	if storeErr == nil {
		t.Fatalf("commit with PostgreSQL closed: got no store error, want one")
	}
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("status: got %d, want 503", rec.Code)
	}
	if body := rec.Body.String(); strings.Contains(body, "handler output") || !strings.Contains(body, `"unavailable"`) {
		t.Errorf("body: got %q, want the error body alone", body)
	}
	if rec.Header().Get("X-Handler") != "" || rec.Header().Get("Set-Cookie") != "" {
		t.Errorf("headers: got %v, want none of the handler's and no session cookie", rec.Header())
	}
}

func TestHealthReportsBreaker(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	s := newTiered(t, db, prefix(t))
	h := &Health{DB: db, Redis: s.store.rs.rdb, Mode: "tiered", Breaker: s.store.BreakerState, Budget: 200 * time.Millisecond}
	ctx := context.Background()
	if rep := h.Check(ctx); rep.Status != "ok" || rep.Redis.Breaker != "closed" || !rep.Redis.Healthy || !rep.Postgres.Healthy {
		t.Fatalf("healthy: got %+v, want ok with the breaker closed", rep)
	}
	s.proxy.Cut()
	tripBreaker(t, s)
	start := time.Now()
	rep := h.Check(ctx)
	if rep.Status != "degraded" || rep.Redis.Healthy || rep.Redis.Breaker == "closed" || !rep.Postgres.Healthy {
		t.Errorf("redis cut: got %+v, want degraded, redis unhealthy, breaker not closed", rep)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("check took %s, want it bounded by its budget", d)
	}
	s.proxy.Restore()
	waitFor(t, 3*time.Second, "health ok again", func() bool { return h.Check(ctx).Status == "ok" })

	// The postgres mode ignores Redis, even when configured and down.
	pg := &Health{DB: db, Redis: s.store.rs.rdb, Mode: "postgres", Budget: 200 * time.Millisecond}
	s.proxy.Cut()
	if rep := pg.Check(ctx); rep.Status != "ok" || !rep.Redis.Configured || rep.Redis.Healthy {
		t.Errorf("postgres mode with Redis down: got %+v, want ok, redis configured and unhealthy", rep)
	}
}

func TestDescribeRedisErrorHidesAddress(t *testing.T) {
	t.Parallel()
	rdb := newRedis(t, "127.0.0.1:1")
	err := rdb.Ping(context.Background()).Err()
	if err == nil {
		t.Fatal("ping a closed port: got no error")
	}
	if got := DescribeRedisError(err); got != "connection refused" {
		t.Errorf("got %q, want %q", got, "connection refused")
	}
	if got := DescribeRedisError(context.DeadlineExceeded); got != "timed out" {
		t.Errorf("deadline: got %q, want %q", got, "timed out")
	}
	if got := DescribeRedisError(errors.New("WRONGPASS invalid username-password pair")); got != "authentication failed" {
		t.Errorf("auth: got %q, want %q", got, "authentication failed")
	}
}
