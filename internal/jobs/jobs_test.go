package jobs

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/dealctx/dealctx/internal/deal"
	"github.com/dealctx/dealctx/internal/postgres"
	"github.com/dealctx/dealctx/internal/postgres/pgtest"
	"github.com/hibiken/asynq"
)

// setup returns a fresh database and Deps with a small batch, so a few
// hundred rows take several batches.
func setup(t *testing.T) (*postgres.DB, Deps) {
	t.Helper()
	db := pgtest.NewDB(t)
	return db, Deps{DB: db, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), BatchSize: 100}
}

func exec(t *testing.T, db *postgres.DB, sql string, args ...any) {
	t.Helper()
	if _, err := db.Pool.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("exec %q: %v", sql, err)
	}
}

func count(t *testing.T, db *postgres.DB, sql string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := db.Pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("count %q: %v", sql, err)
	}
	return n
}

func TestSessionCleanupDeletesOnlyExpiredRowsAcrossBatches(t *testing.T) {
	t.Parallel()
	db, d := setup(t)
	// 250 expired sessions and 2 expired tombstones; 3 live sessions and a
	// live tombstone that must stay.
	exec(t, db, `INSERT INTO sessions (token, data, expiry) SELECT 'old'||g, '\x01', now() - interval '1 minute' FROM generate_series(1, 250) g`)
	exec(t, db, `INSERT INTO sessions (token, data, expiry, revoked) SELECT 'deadtomb'||g, '\x', now() - interval '1 second', true FROM generate_series(1, 2) g`)
	exec(t, db, `INSERT INTO sessions (token, data, expiry) SELECT 'live'||g, '\x01', now() + interval '1 hour' FROM generate_series(1, 3) g`)
	exec(t, db, `INSERT INTO sessions (token, data, expiry, revoked) VALUES ('livetomb', '\x', now() + interval '1 hour', true)`)
	exec(t, db, `INSERT INTO users (email) VALUES ('a@example.com')`)
	exec(t, db, `INSERT INTO remember_tokens (user_id, selector, validator_hash, expires_at)
		SELECT (SELECT id FROM users), 'sel'||g, '\x00', CASE WHEN g <= 120 THEN now() - interval '1 day' ELSE now() + interval '1 day' END
		FROM generate_series(1, 122) g`)

	deleted, err := SessionCleanup(context.Background(), d)
	if err != nil {
		t.Fatalf("SessionCleanup: %v", err)
	}
	if deleted != 252 {
		t.Errorf("deleted: got %d, want 252", deleted)
	}
	if n := count(t, db, `SELECT count(*) FROM sessions WHERE token LIKE 'live%'`); n != 4 {
		t.Errorf("live sessions and tombstones left: got %d, want 4", n)
	}
	if n := count(t, db, `SELECT count(*) FROM sessions`); n != 4 {
		t.Errorf("sessions left: got %d, want 4", n)
	}
	if n := count(t, db, `SELECT count(*) FROM remember_tokens`); n != 2 {
		t.Errorf("remember tokens left: got %d, want the 2 live ones", n)
	}
	again, err := SessionCleanup(context.Background(), d)
	if err != nil || again != 0 {
		t.Errorf("second run: got %d, %v; want 0, nil", again, err)
	}
}

func TestPruneStaleDealsClearsDeletedAndInaccessibleOnly(t *testing.T) {
	t.Parallel()
	db, d := setup(t)
	ctx := context.Background()
	user := func(email string, admin bool) int64 {
		u, err := db.CreateUser(ctx, email, "", "", admin)
		if err != nil {
			t.Fatalf("create user: %v", err)
		}
		return u.ID
	}
	owner, member, admin, outsider, removed := user("o@x", false), user("m@x", false), user("a@x", true), user("x@x", false), user("r@x", false)
	live, err := db.CreateDeal(ctx, deal.Actor{UserID: owner}, "live")
	if err != nil {
		t.Fatal(err)
	}
	gone, err := db.CreateDeal(ctx, deal.Actor{UserID: owner}, "gone")
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []int64{member, removed} {
		if _, err := db.AddMember(ctx, deal.Actor{UserID: owner}, live.ID, map[int64]string{member: "m@x", removed: "r@x"}[u], "member"); err != nil {
			t.Fatal(err)
		}
	}
	// Stale pointers are written behind the api's back, as an old release
	// or a manual fix would leave them.
	exec(t, db, `UPDATE users SET last_deal_id = $1 WHERE id = ANY($2)`, live.ID, []int64{owner, member, admin, outsider, removed})
	exec(t, db, `DELETE FROM deal_members WHERE deal_id = $1 AND user_id = $2`, live.ID, removed)
	exec(t, db, `INSERT INTO users (email, last_deal_id) SELECT 'bulk'||g||'@x', $1 FROM generate_series(1, 230) g`, gone.ID)
	exec(t, db, `INSERT INTO users (email) SELECT 'none'||g||'@x' FROM generate_series(1, 40) g`)
	exec(t, db, `UPDATE deals SET deleted_at = now() WHERE id = $1`, gone.ID)

	cleared, err := PruneStaleDeals(ctx, d)
	if err != nil {
		t.Fatalf("PruneStaleDeals: %v", err)
	}
	if cleared != 232 {
		t.Errorf("cleared: got %d, want 232 (230 on the deleted deal, the outsider, the removed member)", cleared)
	}
	for name, id := range map[string]int64{"owner": owner, "member": member, "admin": admin} {
		if n := count(t, db, `SELECT count(*) FROM users WHERE id = $1 AND last_deal_id = $2`, id, live.ID); n != 1 {
			t.Errorf("%s's last deal: got cleared, want kept", name)
		}
	}
	for name, id := range map[string]int64{"outsider": outsider, "removed member": removed} {
		if n := count(t, db, `SELECT count(*) FROM users WHERE id = $1 AND last_deal_id IS NULL`, id); n != 1 {
			t.Errorf("%s's last deal: got kept, want cleared", name)
		}
	}
	if n := count(t, db, `SELECT count(*) FROM users WHERE last_deal_id = $1`, gone.ID); n != 0 {
		t.Errorf("users still on the deleted deal: got %d, want 0", n)
	}
	again, err := PruneStaleDeals(ctx, d)
	if err != nil || again != 0 {
		t.Errorf("second run: got %d, %v; want 0, nil", again, err)
	}
}

// outboxEvents inserts n events with every column set.
func outboxEvents(t *testing.T, db *postgres.DB, n int) {
	t.Helper()
	exec(t, db, `INSERT INTO audit_outbox (action, actor_user_id, deal_id, target_user_id, request_id, ip, user_agent, details)
		SELECT 'deal.selected', g, g * 10, g * 100, 'req-'||g, '10.0.0.'||(g % 250), 'agent '||g, jsonb_build_object('n', g)
		FROM generate_series(1, $1::int) g`, n)
}

const eventColumns = `id, occurred_at, action, actor_user_id, deal_id, target_user_id, request_id, ip, user_agent, details`

func TestFlushAuditMovesEveryEventOnceWithAllFields(t *testing.T) {
	t.Parallel()
	db, d := setup(t)
	outboxEvents(t, db, 250)
	exec(t, db, `CREATE TABLE want AS SELECT `+eventColumns+` FROM audit_outbox`)
	// One event already reached audit_log (a move retried after it
	// committed): it must not be written twice nor stop the loop early.
	exec(t, db, `INSERT INTO audit_log (`+eventColumns+`) SELECT `+eventColumns+` FROM audit_outbox ORDER BY id LIMIT 1 OFFSET 30`)

	moved, err := FlushAudit(context.Background(), d)
	if err != nil {
		t.Fatalf("FlushAudit: %v", err)
	}
	if moved != 250 {
		t.Errorf("moved: got %d, want 250", moved)
	}
	if n := count(t, db, `SELECT count(*) FROM audit_outbox`); n != 0 {
		t.Errorf("outbox: got %d events left, want 0", n)
	}
	if n := count(t, db, `SELECT count(*) FROM audit_log`); n != 250 {
		t.Errorf("audit_log: got %d events, want 250", n)
	}
	diff := count(t, db, `SELECT count(*) FROM (
		(SELECT `+eventColumns+` FROM want EXCEPT SELECT `+eventColumns+` FROM audit_log)
		UNION ALL
		(SELECT `+eventColumns+` FROM audit_log EXCEPT SELECT `+eventColumns+` FROM want)) x`)
	if diff != 0 {
		t.Errorf("audit_log differs from the committed events in %d rows, want 0", diff)
	}
}

func TestFlushAuditConcurrentMoversNeitherLoseNorDouble(t *testing.T) {
	t.Parallel()
	db, d := setup(t)
	outboxEvents(t, db, 1000)
	d.BatchSize = 50
	var wg sync.WaitGroup
	var mu sync.Mutex
	var total int64
	for range 3 {
		wg.Go(func() {
			n, err := FlushAudit(context.Background(), d)
			if err != nil {
				t.Errorf("FlushAudit: %v", err)
			}
			mu.Lock()
			total += n
			mu.Unlock()
		})
	}
	wg.Wait()
	// A mover can stop on a short batch while another still holds rows.
	n, err := FlushAudit(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	total += n
	if total != 1000 {
		t.Errorf("moved in all: got %d, want 1000", total)
	}
	if n := count(t, db, `SELECT count(*) FROM audit_log`); n != 1000 {
		t.Errorf("audit_log: got %d, want 1000", n)
	}
}

func TestFlushAuditStopsAfterItsBatchWhenStopping(t *testing.T) {
	t.Parallel()
	db, d := setup(t)
	outboxEvents(t, db, 250)
	stopping := make(chan struct{})
	close(stopping)
	d.Stopping = stopping
	moved, err := FlushAudit(context.Background(), d)
	if err != nil || moved != 100 {
		t.Fatalf("FlushAudit while stopping: got %d, %v; want one batch of 100, nil", moved, err)
	}
	if n := count(t, db, `SELECT count(*) FROM audit_outbox`); n != 150 {
		t.Errorf("outbox: got %d left, want 150 for the next run", n)
	}
}

func TestHandlersMarkOnlyPermanentFailuresSkipRetry(t *testing.T) {
	t.Parallel()
	db, d := setup(t)
	j, _ := Lookup(JobAuditFlush)
	h := handle(j, d)
	if err := h(context.Background(), NewAuditFlushTask()); err != nil {
		t.Fatalf("flush of an empty outbox: got %v, want nil", err)
	}
	err := h(context.Background(), asynq.NewTask(TypeAuditFlush, []byte(`{"x":1}`)))
	if !errors.Is(err, asynq.SkipRetry) {
		t.Errorf("task with a foreign payload: got %v, want SkipRetry", err)
	}
	// A statement that cannot succeed is permanent; an unreachable database
	// is not.
	exec(t, db, `ALTER TABLE audit_outbox RENAME TO audit_outbox_gone`)
	if err := h(context.Background(), NewAuditFlushTask()); !errors.Is(err, asynq.SkipRetry) {
		t.Errorf("broken statement: got %v, want SkipRetry", err)
	}
	exec(t, db, `ALTER TABLE audit_outbox_gone RENAME TO audit_outbox`)
	ctx, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel()
	time.Sleep(time.Millisecond)
	if err := h(ctx, NewAuditFlushTask()); err == nil || errors.Is(err, asynq.SkipRetry) {
		t.Errorf("timed-out run: got %v, want a retryable error", err)
	}
}
