package postgres

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The release phase (`api migrate up`) runs while the previous release
// serves. This round's migrations, applied under a steady load of the
// statements the previous release runs on every request (the access
// decision, last_deal_id, the session upsert, membership changes), fail
// none of them: each takes its locks for a moment, under lock_timeout.
func TestMigrateUpUnderLoadFailsNoStatement(t *testing.T) {
	t.Parallel()
	db := NewTestDB(t)
	ctx := context.Background()
	// The previous release's schema: down past this round's migrations.
	for {
		var gone bool
		if err := db.Pool.QueryRow(ctx, `SELECT to_regclass('redis_identities') IS NULL`).Scan(&gone); err != nil {
			t.Fatal(err)
		}
		if gone {
			break
		}
		if _, err := db.Migrate(ctx, "down"); err != nil {
			t.Fatalf("down: %v", err)
		}
	}
	const users = 20
	for i := 1; i <= users; i++ {
		if _, err := db.Pool.Exec(ctx, `INSERT INTO users (id, email, name, password_hash) VALUES ($1, $2, 'u', 'x')`,
			i, "load"+strconv.Itoa(i)+"@example.com"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Pool.Exec(ctx, `INSERT INTO deals (id, name, owner_id) VALUES ($1, 'd', $1)`, i); err != nil {
			t.Fatal(err)
		}
	}
	statements := []struct {
		sql  string
		args func(i int) []any
	}{
		{`SELECT d.id FROM deals d JOIN users u ON u.id = $1 WHERE d.id = $2 AND d.deleted_at IS NULL
		  AND (d.owner_id = u.id OR u.is_admin OR EXISTS (SELECT 1 FROM deal_members m WHERE m.deal_id = d.id AND m.user_id = u.id))`,
			func(i int) []any { return []any{i%users + 1, (i+1)%users + 1} }},
		{`UPDATE users SET last_deal_id = $2, last_deal_accessed_at = now() WHERE id = $1`,
			func(i int) []any { return []any{i%users + 1, i%users + 1} }},
		{`INSERT INTO sessions (token, data, expiry, user_id) VALUES ($1, '\x01', now() + interval '1 hour', $2)
		  ON CONFLICT (token) DO UPDATE SET data = EXCLUDED.data, expiry = EXCLUDED.expiry WHERE NOT sessions.revoked`,
			func(i int) []any { return []any{"tok" + strconv.Itoa(i%50), i%users + 1} }},
		{`INSERT INTO deal_members (deal_id, user_id, role) VALUES ($1, $2, 'member') ON CONFLICT DO NOTHING`,
			func(i int) []any { return []any{i%users + 1, (i+3)%users + 1} }},
		{`DELETE FROM deal_members WHERE deal_id = $1 AND user_id = $2`,
			func(i int) []any { return []any{i%users + 1, (i+3)%users + 1} }},
	}
	var ran, failed atomic.Int64
	var slowest atomic.Int64
	var firstErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; ; i += 4 {
				select {
				case <-stop:
					return
				default:
				}
				st := statements[i%len(statements)]
				sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				start := time.Now()
				_, err := db.Pool.Exec(sctx, st.sql, st.args(i)...)
				cancel()
				ran.Add(1)
				if d := int64(time.Since(start)); d > slowest.Load() {
					slowest.Store(d)
				}
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
				}
			}
		}()
	}
	time.Sleep(200 * time.Millisecond)
	if _, err := db.Migrate(ctx, "up"); err != nil {
		t.Errorf("migrate up under load: %v", err)
	}
	time.Sleep(200 * time.Millisecond)
	close(stop)
	wg.Wait()
	if failed.Load() != 0 {
		t.Errorf("statements of the previous release during migrate up: %d of %d failed (first: %v), want none", failed.Load(), ran.Load(), firstErr.Load())
	}
	// Blocked for more than the migrations' lock_timeout would mean a lock
	// held beyond what they allow themselves.
	if d := time.Duration(slowest.Load()); d > 5*time.Second {
		t.Errorf("slowest statement during migrate up: %s, want under the migrations' 5 s lock_timeout", d)
	}
	t.Logf("%d statements during migrate up, slowest %s", ran.Load(), time.Duration(slowest.Load()).Round(time.Millisecond))
}
