package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dealctx/dealctx/internal/auth"
	"github.com/dealctx/dealctx/internal/config"
	"github.com/dealctx/dealctx/internal/httpapi"
	"github.com/dealctx/dealctx/internal/jobs"
	"github.com/dealctx/dealctx/internal/logging"
	"github.com/dealctx/dealctx/internal/postgres"
	"github.com/dealctx/dealctx/internal/postgres/pgtest"
	"github.com/dealctx/dealctx/internal/redisclient"
	"github.com/dealctx/dealctx/internal/session"
	"github.com/dealctx/dealctx/internal/testserver"
	"github.com/hibiken/asynq"
)

// testEnv returns a worker environment: a fresh database, a private Redis
// (asynq's keys cannot be prefixed, so no test shares one), no metrics port.
func testEnv(t *testing.T) (map[string]string, *testserver.Redis) {
	t.Helper()
	redis := testserver.StartRedis(t)
	return map[string]string{
		"DATABASE_URL":           pgtest.NewDatabase(t),
		"REDIS_URL":              redis.URL(),
		"WORKER_METRICS_PORT":    "0",
		"LOG_LEVEL":              "info",
		"SHUTDOWN_TIMEOUT":       "5",
		"SESSION_STORE":          "postgres",
		"COOKIE_SECURE":          "false",
		"ARGON2_MEMORY_KIB":      "64",
		"ARGON2_TIME":            "1",
		"SESSION_CLEANUP_CRON":   "0 0 1 1 *",
		"PRUNE_STALE_DEALS_CRON": "0 0 1 1 *",
		"AUDIT_SWEEP_CRON":       "@every 1s",
	}, redis
}

// openDB opens env's database for the test's own queries.
func openDB(t *testing.T, env map[string]string) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(context.Background(), env["DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return db
}

func count(t *testing.T, db *postgres.DB, sql string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := db.Pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("count %q: %v", sql, err)
	}
	return n
}

func exec(t *testing.T, db *postgres.DB, sql string, args ...any) {
	t.Helper()
	if _, err := db.Pool.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("exec %q: %v", sql, err)
	}
}

// eventually polls cond every 50 ms until it holds or within passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// command runs the worker with args to completion.
func command(env map[string]string, args ...string) (stdout string, err error) {
	var out bytes.Buffer
	err = run(context.Background(), args, func(k string) string { return env[k] }, &out, io.Discard)
	return out.String(), err
}

// worker is one running `worker` process (run() in a goroutine).
type worker struct {
	t      *testing.T
	stderr *testserver.LogBuffer
	cancel context.CancelFunc
	done   chan error
}

// startWorker runs `worker` with env until Stop or the end of the test.
func startWorker(t *testing.T, env map[string]string) *worker {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w := &worker{t: t, stderr: &testserver.LogBuffer{}, cancel: cancel, done: make(chan error, 1)}
	getenv := func(k string) string { return env[k] }
	go func() { w.done <- run(ctx, nil, getenv, io.Discard, w.stderr) }()
	t.Cleanup(w.Stop)
	return w
}

// Stop sends the equivalent of SIGTERM and requires run to return cleanly
// within the 25 s the platforms allow.
func (w *worker) Stop() {
	w.t.Helper()
	if w.cancel == nil {
		return
	}
	w.cancel()
	w.cancel = nil
	select {
	case err := <-w.done:
		if err != nil {
			w.t.Errorf("worker run returned %v\n%s", err, w.stderr.String())
		}
	case <-time.After(25 * time.Second):
		w.t.Errorf("worker did not stop within 25s")
	}
}

// logLines returns the worker's JSON log records with the given message.
func (w *worker) logLines(msg string) []map[string]any {
	var out []map[string]any
	for _, line := range strings.Split(w.stderr.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

// startAPI serves the api's handler with env, wired as `api serve` wires it:
// the session store, and the audit waker on env's Redis. The api's run()
// lives in another main package, so this mirrors its serve().
func startAPI(t *testing.T, env map[string]string) (*httptest.Server, *postgres.DB) {
	t.Helper()
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	logger := logging.New(io.Discard, "json", slog.LevelInfo)
	db := openDB(t, env)
	rdb, err := redisclient.Open(cfg, redisclient.RequestTimeouts)
	if err != nil || rdb == nil {
		t.Fatalf("api's Redis: %v", err)
	}
	t.Cleanup(func() {
		if err := rdb.Close(); err != nil {
			t.Errorf("close Redis client: %v", err)
		}
	})
	sessions, err := session.Open(context.Background(), cfg, db, rdb, nil, logger)
	if err != nil {
		t.Fatal(err)
	}
	waker := jobs.NewAuditWaker(asynq.NewClientFromRedisClient(rdb), logger)
	t.Cleanup(waker.Close)
	srv := httptest.NewServer(httpapi.NewServer(httpapi.Deps{
		Logger:    logger,
		Config:    cfg,
		Sessions:  sessions,
		DB:        db,
		Hasher:    auth.NewHasher(cfg.Argon2MemoryKiB, cfg.Argon2Time),
		Health:    &session.Health{DB: db, Redis: rdb, Mode: sessions.Mode, Topology: cfg.RedisTopology},
		AuditWake: waker.Notify,
	}))
	t.Cleanup(srv.Close)
	return srv, db
}

// user is one signed-in browser.
type user struct {
	t    *testing.T
	base string
	http *http.Client
}

// signIn creates a user in db and signs it in through the api.
func signIn(t *testing.T, srv *httptest.Server, db *postgres.DB, email string) *user {
	t.Helper()
	hash, err := auth.NewHasher(64, 1).Hash("password-" + email)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateUser(context.Background(), email, "", hash, false); err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	u := &user{t: t, base: srv.URL, http: &http.Client{Jar: jar, Timeout: 10 * time.Second}}
	if status, _, body := u.do("POST", "/api/auth/login", fmt.Sprintf(`{"email":%q,"password":"password-%s"}`, email, email)); status != http.StatusOK {
		t.Fatalf("login %s: got %d %s, want 200", email, status, body)
	}
	return u
}

// do sends a request and returns status, request id and body.
func (u *user) do(method, path, body string) (status int, requestID string, respBody []byte) {
	u.t.Helper()
	req, err := http.NewRequest(method, u.base+path, strings.NewReader(body))
	if err != nil {
		u.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := u.http.Do(req)
	if err != nil {
		u.t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp.StatusCode, resp.Header.Get("X-Request-ID"), readBody(u.t, resp)
}

// readBody reads and closes resp's body.
func readBody(t *testing.T, resp *http.Response) []byte {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	if err := resp.Body.Close(); err != nil {
		t.Fatalf("close body: %v", err)
	}
	return b
}

// createDeal creates a deal and returns its id.
func (u *user) createDeal(name string) int64 {
	u.t.Helper()
	status, _, body := u.do("POST", "/api/deals", fmt.Sprintf(`{"name":%q}`, name))
	if status != http.StatusCreated {
		u.t.Fatalf("create deal: got %d %s, want 201", status, body)
	}
	var out struct{ Deal struct{ ID int64 } }
	if err := json.Unmarshal(body, &out); err != nil {
		u.t.Fatal(err)
	}
	return out.Deal.ID
}

// selectDeal selects a deal and returns the request's id.
func (u *user) selectDeal(id int64) string {
	u.t.Helper()
	status, rid, body := u.do("POST", fmt.Sprintf("/api/deals/%d/select", id), "")
	if status != http.StatusOK || rid == "" {
		u.t.Fatalf("select deal %d: got %d %s (request id %q), want 200 with a request id", id, status, body, rid)
	}
	return rid
}
