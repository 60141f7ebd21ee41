package postgres

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/dealctx/dealctx/internal/deal"
)

// BenchmarkFindUsageStats measures the admin figures beside a large audit
// trail: DEALCTX_BENCH_AUDIT_ROWS audit_log rows (default one million) spread
// evenly over 90 days, a realistic mix of actions, 90 days of usage counters
// and 100,000 live sessions, vacuumed and analysed as autovacuum would leave
// them. It also logs how long migration 00005's roll-up of the last eight
// days takes over that trail (run with -v to see it).
//
//	DEALCTX_BENCH_AUDIT_ROWS=10000000 go test -v -run '^$' -bench FindUsageStats -benchtime 20x ./internal/postgres/
func BenchmarkFindUsageStats(b *testing.B) {
	rows := 1_000_000
	if s := os.Getenv("DEALCTX_BENCH_AUDIT_ROWS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			b.Fatalf("DEALCTX_BENCH_AUDIT_ROWS: got %q, want a positive whole number", s)
		}
		rows = n
	}
	db := NewTestDB(b)
	ctx := context.Background()
	start := time.Now()
	for i, q := range []string{
		// Of every 100 events: 40 selections, 20 sign-ins, 25 restores,
		// 2 denied and 1 deleted restores, 12 others.
		`INSERT INTO audit_log (id, occurred_at, action, actor_user_id, deal_id, details)
SELECT i, now() - (i::float8 / $1) * interval '90 days',
	CASE WHEN i % 100 < 40 THEN 'deal.selected' WHEN i % 100 < 60 THEN 'auth.login'
		WHEN i % 100 < 85 THEN 'deal.restored' WHEN i % 100 < 88 THEN 'deal.restore_denied'
		ELSE 'deal.created' END,
	i % 50000, i % 20000,
	CASE WHEN i % 100 < 60 THEN '{}'::jsonb
		WHEN i % 100 < 85 THEN '{"reason": "restored"}'
		WHEN i % 100 < 87 THEN '{"reason": "denied"}'
		WHEN i % 100 < 88 THEN '{"reason": "deleted"}'
		ELSE '{"name": "Atlas"}' END
FROM generate_series(1, $1::bigint) i`,
		`INSERT INTO usage_counters (bucket_hour, name, n)
SELECT h, name, 1 + (extract(epoch FROM h)::bigint % 50)
FROM generate_series(date_trunc('hour', now()) - interval '90 days', date_trunc('hour', now()), interval '1 hour') h,
	unnest($1::text[]) name`,
		`INSERT INTO sessions (token, data, expiry, user_id)
SELECT 'bench' || i, '\x00', now() + interval '1 day', i FROM generate_series(1, 100000) i`,
	} {
		args := [][]any{{rows}, {deal.UsageNames}, nil}[i]
		if _, err := db.Pool.Exec(ctx, q, args...); err != nil {
			b.Fatalf("load: %v", err)
		}
		if i == 0 {
			b.Logf("loaded %d audit rows in %s", rows, time.Since(start).Round(time.Second))
			// The trail predates 00005: its roll-up counts the last
			// eight days' restores.
			start := time.Now()
			if _, err := db.Migrate(ctx, "down"); err != nil {
				b.Fatalf("down: %v", err)
			}
			if _, err := db.Migrate(ctx, "up"); err != nil {
				b.Fatalf("up: %v", err)
			}
			b.Logf("migration 00005 (down, then up with the roll-up) took %s", time.Since(start).Round(time.Millisecond))
		}
	}
	if _, err := db.Pool.Exec(ctx, `VACUUM ANALYZE audit_log, usage_counters, sessions`); err != nil {
		b.Fatalf("vacuum: %v", err)
	}

	for _, w := range []string{"24h", "7d"} {
		b.Run(w, func(b *testing.B) {
			since := time.Now().Add(-deal.StatsWindows[w])
			var st deal.UsageStats
			for b.Loop() {
				var err error
				if st, err = db.FindUsageStats(ctx, since); err != nil {
					b.Fatalf("stats: %v", err)
				}
			}
			if st.Restored == 0 || st.SignIns == 0 || st.ActiveSessions != 100000 {
				b.Fatalf("stats: got %+v, want restores, sign-ins and 100000 sessions", st.UsageCounts)
			}
			b.ReportMetric(float64(st.Restored+st.Denied+st.Deleted), "restores/op")
		})
	}
}
