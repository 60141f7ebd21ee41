package postgres

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/dealctx/dealctx/internal/deal"
)

// scripted is one row of the scripted history the figures are counted from.
type scripted struct {
	table   string // audit_log (moved there), audit_outbox (waiting) or usage_counters
	name    string // the action, or the usage counter's name
	reason  string // details.reason of an audit event
	ago     time.Duration
	n       int64 // usage counters only
	counted func(c *deal.UsageCounts, n int64)
}

func TestFindUsageStats(t *testing.T) {
	t.Parallel()
	db := NewTestDB(t)
	ctx := context.Background()
	now := time.Now().UTC()
	restored := func(c *deal.UsageCounts, n int64) { c.Restored += n }
	denied := func(c *deal.UsageCounts, n int64) { c.Denied += n }
	deleted := func(c *deal.UsageCounts, n int64) { c.Deleted += n }
	signIns := func(c *deal.UsageCounts, n int64) { c.SignIns += n }
	none := func(c *deal.UsageCounts, n int64) {}
	h := time.Hour
	script := []scripted{
		{table: "audit_log", name: deal.ActionDealRestored, reason: "restored", ago: 1 * h, counted: restored},
		{table: "audit_log", name: deal.ActionDealRestored, reason: "restored", ago: 1 * h, counted: restored},
		{table: "audit_log", name: deal.ActionDealRestored, reason: "restored", ago: 23 * h, counted: restored},
		{table: "audit_log", name: deal.ActionDealRestored, reason: "restored", ago: 30 * h, counted: restored},
		{table: "audit_log", name: deal.ActionDealRestored, reason: "restored", ago: 8 * 24 * h, counted: restored},
		{table: "audit_log", name: deal.ActionRestoreDenied, reason: "denied", ago: 2 * h, counted: denied},
		{table: "audit_log", name: deal.ActionRestoreDenied, reason: "deleted", ago: 3 * h, counted: deleted},
		{table: "audit_log", name: deal.ActionRestoreDenied, reason: "deleted", ago: 50 * h, counted: deleted},
		{table: "audit_log", name: deal.ActionDealSelected, ago: 1 * h, counted: none},
		{table: "audit_log", name: deal.ActionLogin, ago: 1 * h, counted: none},
		// Not moved yet: counted all the same.
		{table: "audit_outbox", name: deal.ActionDealRestored, reason: "restored", ago: time.Minute, counted: restored},
		{table: "audit_outbox", name: deal.ActionRestoreDenied, reason: "denied", ago: time.Minute, counted: denied},
		{table: "usage_counters", name: deal.UsageSignIn, ago: 0, n: 5, counted: signIns},
		{table: "usage_counters", name: deal.UsageSignIn, ago: 5 * h, n: 2, counted: signIns},
		// The bucket the 24 h window starts in counts whole; the one
		// before it not at all.
		{table: "usage_counters", name: deal.UsageSignIn, ago: 24 * h, n: 7, counted: signIns},
		{table: "usage_counters", name: deal.UsageSignIn, ago: 25 * h, n: 10, counted: signIns},
		{table: "usage_counters", name: deal.UsageSignIn, ago: 3 * 24 * h, n: 4, counted: signIns},
		{table: "usage_counters", name: deal.UsageSignInRestored, ago: 0, n: 3, counted: func(c *deal.UsageCounts, n int64) { c.SignInsRestored += n }},
		{table: "usage_counters", name: deal.UsageSelectorPrompt, ago: 2 * h, n: 1, counted: func(c *deal.UsageCounts, n int64) { c.SelectorPrompts += n }},
		{table: "usage_counters", name: deal.UsagePageLoad, ago: 0, n: 100, counted: func(c *deal.UsageCounts, n int64) { c.PageLoads += n }},
		{table: "usage_counters", name: deal.UsageRestoreFailed, ago: 1 * h, n: 1, counted: func(c *deal.UsageCounts, n int64) { c.Failed += n }},
	}
	// Events for audit_log go through the outbox and the mover, as the
	// worker moves them; then the ones still waiting join the outbox.
	for _, table := range []string{"audit_log", "audit_outbox", "usage_counters"} {
		for i, s := range script {
			if s.table == table {
				insertScripted(t, db, now, i, s)
			}
		}
		if table == "audit_log" {
			if _, err := db.MoveAuditEvents(ctx, 1000); err != nil {
				t.Fatalf("move: %v", err)
			}
		}
	}
	// Two live signed-in sessions; a tombstone, an expired one and an
	// anonymous one do not count.
	for _, s := range []struct {
		token   string
		expiry  time.Duration
		revoked bool
		userID  any
	}{
		{"live1", time.Hour, false, 1}, {"live2", time.Hour, false, 2},
		{"tomb", time.Hour, true, 3}, {"old", -time.Hour, false, 4}, {"anon", time.Hour, false, nil},
	} {
		if _, err := db.Pool.Exec(ctx, `INSERT INTO sessions (token, data, expiry, revoked, user_id) VALUES ($1, '\x00', $2, $3, $4)`,
			s.token, now.Add(s.expiry), s.revoked, s.userID); err != nil {
			t.Fatalf("session: %v", err)
		}
	}

	// What each window and day should count, from the script itself.
	daysFrom := now.Truncate(24*time.Hour).AddDate(0, 0, -6)
	wantDay := make([]deal.UsageCounts, 7)
	wantIn := func(since time.Time) deal.UsageCounts {
		var c deal.UsageCounts
		for _, s := range script {
			at, n, from := now.Add(-s.ago), s.n, since
			if s.table != "audit_outbox" { // counted by the hour
				at, from = at.Truncate(time.Hour), since.Truncate(time.Hour)
			}
			if s.table != "usage_counters" {
				n = 1
			}
			if !at.Before(from) {
				s.counted(&c, n)
			}
		}
		return c
	}
	for _, s := range script {
		at, n := now.Add(-s.ago), s.n
		if s.table != "audit_outbox" {
			at = at.Truncate(time.Hour)
		}
		if s.table != "usage_counters" {
			n = 1
		}
		if i := int(at.Truncate(24*time.Hour).Sub(daysFrom) / (24 * time.Hour)); i >= 0 && i < 7 {
			s.counted(&wantDay[i], n)
		}
	}

	cases := map[string]struct {
		since time.Time
		want  deal.UsageCounts
	}{
		"24h": {since: now.Add(-24 * time.Hour), want: deal.UsageCounts{
			SignIns: 14, SignInsRestored: 3, SelectorPrompts: 1, PageLoads: 100,
			Restored: 4, Denied: 2, Deleted: 1, Failed: 1}},
		"7d": {since: now.Add(-7 * 24 * time.Hour), want: deal.UsageCounts{
			SignIns: 28, SignInsRestored: 3, SelectorPrompts: 1, PageLoads: 100,
			Restored: 5, Denied: 2, Deleted: 2, Failed: 1}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := wantIn(tc.since); got != tc.want {
				t.Fatalf("the test's own tally: got %+v, want %+v", got, tc.want)
			}
			got, err := db.FindUsageStats(ctx, tc.since)
			if err != nil {
				t.Fatalf("stats: %v", err)
			}
			if got.UsageCounts != tc.want {
				t.Errorf("counts: got %+v, want %+v", got.UsageCounts, tc.want)
			}
			if got.ActiveSessions != 2 {
				t.Errorf("active sessions: got %d, want 2", got.ActiveSessions)
			}
			if !got.Since.Equal(tc.since) {
				t.Errorf("since: got %v, want %v", got.Since, tc.since)
			}
			if len(got.Days) != 7 {
				t.Fatalf("days: got %d, want 7", len(got.Days))
			}
			for i, d := range got.Days {
				if wantAt := daysFrom.AddDate(0, 0, i); !d.Day.Equal(wantAt) {
					t.Errorf("day %d: got %v, want %v", i, d.Day, wantAt)
				}
				if d.UsageCounts != wantDay[i] {
					t.Errorf("day %d (%s): got %+v, want %+v", i, d.Day.Format("2006-01-02"), d.UsageCounts, wantDay[i])
				}
			}
		})
	}
}

func TestFindUsageStatsWithNothingRecorded(t *testing.T) {
	t.Parallel()
	db := NewTestDB(t)
	got, err := db.FindUsageStats(context.Background(), time.Now().Add(-24*time.Hour))
	if err != nil {
		t.Fatalf("stats: %v", err)
	}
	if got.UsageCounts != (deal.UsageCounts{}) || got.ActiveSessions != 0 || got.RestoreSuccessRate() != nil {
		t.Errorf("stats: got %+v, want zeros and no success rate", got)
	}
	if len(got.Days) != 7 {
		t.Errorf("days: got %d, want 7 (empty days present)", len(got.Days))
	}
}

func TestCountUsage(t *testing.T) {
	t.Parallel()
	db := NewTestDB(t)
	ctx := context.Background()
	// Api processes counting at once add up, batches of several counters
	// included.
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() {
			errs <- db.CountUsage(ctx, map[string]int64{deal.UsageSelectorPrompt: 2, deal.UsageSignIn: 1, deal.UsageSignInRestored: 1})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("count: %v", err)
		}
	}
	if err := db.CountUsage(ctx, map[string]int64{deal.UsagePageLoad: 0}); err != nil {
		t.Fatalf("count zero: %v", err)
	}
	// A batch with one bad count writes none of it.
	for name, bad := range map[string]func() error{
		"unknown name": func() error { return db.CountUsage(ctx, map[string]int64{"selector_prompts": 1, deal.UsageSignIn: 1}) },
		"negative": func() error {
			return db.CountUsage(ctx, map[string]int64{deal.UsageSignIn: -1, deal.UsageSelectorPrompt: 1})
		},
	} {
		if got := deal.ErrorCode(bad()); got != deal.EINVALID {
			t.Errorf("%s: got code %q, want %q", name, got, deal.EINVALID)
		}
	}
	st, err := db.FindUsageStats(ctx, time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatalf("stats: %v", err)
	}
	if want := (deal.UsageCounts{SelectorPrompts: 40, SignIns: 20, SignInsRestored: 20}); st.UsageCounts != want {
		t.Errorf("counts: got %+v, want %+v", st.UsageCounts, want)
	}
	var rows int
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM usage_counters`).Scan(&rows); err != nil {
		t.Fatalf("count rows: %v", err)
	}
	if rows != 3 {
		t.Errorf("usage_counters rows: got %d, want 3 (one per hour and name; zero writes none)", rows)
	}
}

// A retried move (the event is in audit_log already) counts nothing again;
// events that are not restores count nothing at all.
func TestMoveAuditEventsCountsEachRestoreOnce(t *testing.T) {
	t.Parallel()
	db := NewTestDB(t)
	ctx := context.Background()
	for _, action := range []string{deal.ActionDealRestored, deal.ActionDealRestored, deal.ActionDealSelected} {
		if err := db.RecordEvent(ctx, deal.Actor{UserID: 1}, action, 1, 0, map[string]any{"reason": "restored"}); err != nil {
			t.Fatalf("record: %v", err)
		}
	}
	// The first event reached audit_log once before, in a move whose
	// outbox delete was lost.
	if _, err := db.Pool.Exec(ctx, `INSERT INTO audit_log (id, occurred_at, action)
		SELECT id, occurred_at, action FROM audit_outbox ORDER BY id LIMIT 1`); err != nil {
		t.Fatalf("pre-move: %v", err)
	}
	if n, err := db.MoveAuditEvents(ctx, 100); err != nil || n != 3 {
		t.Fatalf("move: got (%d, %v), want (3, nil)", n, err)
	}
	st, err := db.FindUsageStats(ctx, time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatalf("stats: %v", err)
	}
	if want := (deal.UsageCounts{Restored: 1}); st.UsageCounts != want {
		t.Errorf("counts: got %+v, want %+v (the retried event not again)", st.UsageCounts, want)
	}
}

// Restores audited before migration 00005 still show in the charts: its Up
// rolls up the last eight days, with the names the mover uses.
func TestMigrationRollsUpEarlierRestores(t *testing.T) {
	t.Parallel()
	db := NewTestDB(t)
	ctx := context.Background()
	// Step down past 00005, whatever migrations came after it.
	for {
		var gone bool
		if err := db.Pool.QueryRow(ctx, `SELECT to_regclass('usage_counters') IS NULL`).Scan(&gone); err != nil {
			t.Fatalf("read schema: %v", err)
		}
		if gone {
			break
		}
		if _, err := db.Migrate(ctx, "down"); err != nil {
			t.Fatalf("down: %v", err)
		}
	}
	if _, err := db.Pool.Exec(ctx, `INSERT INTO audit_log (id, occurred_at, action, details) VALUES
		(1, now() - interval '2 hours', $1, '{"reason": "restored"}'),
		(2, now() - interval '3 hours', $2, '{"reason": "denied"}'),
		(3, now() - interval '3 hours', $2, '{"reason": "deleted"}'),
		(4, now() - interval '9 days', $1, '{"reason": "restored"}'),
		(5, now() - interval '1 hour', $3, '{}')`,
		deal.ActionDealRestored, deal.ActionRestoreDenied, deal.ActionDealSelected); err != nil {
		t.Fatalf("insert: %v", err)
	}
	if _, err := db.Migrate(ctx, "up"); err != nil {
		t.Fatalf("up: %v", err)
	}
	st, err := db.FindUsageStats(ctx, time.Now().Add(-7*24*time.Hour))
	if err != nil {
		t.Fatalf("stats: %v", err)
	}
	if want := (deal.UsageCounts{Restored: 1, Denied: 1, Deleted: 1}); st.UsageCounts != want {
		t.Errorf("counts: got %+v, want %+v", st.UsageCounts, want)
	}
}

func insertScripted(t *testing.T, db *DB, now time.Time, i int, s scripted) {
	t.Helper()
	at := now.Add(-s.ago)
	var err error
	switch s.table {
	case "audit_log", "audit_outbox":
		_, err = db.Pool.Exec(context.Background(), `INSERT INTO audit_outbox (occurred_at, action, details)
			VALUES ($1, $2, jsonb_build_object('reason', $3::text))`, at, s.name, s.reason)
	case "usage_counters":
		_, err = db.Pool.Exec(context.Background(), `INSERT INTO usage_counters (bucket_hour, name, n)
			VALUES (date_trunc('hour', $1::timestamptz), $2, $3)`, at, s.name, s.n)
	}
	if err != nil {
		t.Fatalf("script row %d: %v", i, err)
	}
}

// Movers running at once (several workers) count every restore exactly once.
func TestConcurrentMoversCountRestoresOnce(t *testing.T) {
	t.Parallel()
	db := NewTestDB(t)
	ctx := context.Background()
	const events = 200
	if _, err := db.Pool.Exec(ctx, `INSERT INTO audit_outbox (action, details)
		SELECT $1, '{"reason": "restored"}' FROM generate_series(1, $2::int)`, deal.ActionDealRestored, events); err != nil {
		t.Fatalf("insert: %v", err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			for {
				n, err := db.MoveAuditEvents(ctx, 7)
				if err != nil {
					errs <- err
					return
				}
				if n == 0 {
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("move: %v", err)
	}
	st, err := db.FindUsageStats(ctx, time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatalf("stats: %v", err)
	}
	if st.Restored != events {
		t.Errorf("restored: got %d, want %d", st.Restored, events)
	}
}
