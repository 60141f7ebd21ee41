package postgres

import (
	"context"
	"slices"
	"time"

	"github.com/dealctx/dealctx/internal/deal"
)

// CountUsage adds each count to its usage counter (names from
// deal.UsageNames) for the current hour, in one upsert that any number of
// api processes may run at once: one statement and one commit for a whole
// batch. Zero counts write nothing; an unknown name or a negative count is
// deal.EINVALID and writes nothing at all.
func (db *DB) CountUsage(ctx context.Context, counts map[string]int64) error {
	names := make([]string, 0, len(counts))
	for name, n := range counts {
		if !slices.Contains(deal.UsageNames, name) {
			return deal.Errorf(deal.EINVALID, "unknown usage counter %q", name)
		}
		if n < 0 {
			return deal.Errorf(deal.EINVALID, "usage counts only grow (got %d)", n)
		}
		if n > 0 {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return nil
	}
	// Rows are upserted in name order, the same in every process, so two
	// batches over the same counters never wait on each other in a cycle.
	slices.Sort(names)
	ns := make([]int64, len(names))
	for i, name := range names {
		ns[i] = counts[name]
	}
	_, err := db.q(ctx).Exec(ctx, `
INSERT INTO usage_counters (bucket_hour, name, n)
SELECT date_trunc('hour', now()), c.name, c.n FROM unnest($1::text[], $2::bigint[]) WITH ORDINALITY AS c(name, n, i)
ORDER BY c.i
ON CONFLICT (bucket_hour, name) DO UPDATE SET n = usage_counters.n + EXCLUDED.n`, names, ns)
	return unavailable(err)
}

// Names under which usage_counters holds the restore outcomes, rolled up
// from the audit events as MoveAuditEvents moves them; CountUsage refuses
// them, so only the audit trail counts restores. Migration 00005 spells them
// in its roll-up of earlier events.
const (
	statRestored       = "restore:" + deal.RestoreRestored
	statDenied         = "restore:" + deal.RestoreDenied
	statDeleted        = "restore:" + deal.RestoreDeleted
	statActiveSessions = "active_sessions"
)

// restoreStatName maps an audit event (action, details) of
// deal.ActionDealRestored ($2) or deal.ActionRestoreDenied ($3) to its
// counter's name: statRestored ($4), statDenied ($5), or statDeleted ($6)
// when details.reason is deal.RestoreDeleted ($7).
const restoreStatName = `CASE WHEN action = $2 THEN $4 WHEN details->>'reason' = $7 THEN $6 ELSE $5 END`

// FindUsageStats returns the success figures since the given moment and for
// each of the last seven UTC days, across every api process, in one
// statement whose cost does not grow with audit_log: usage_counters (what
// the api records, and the restore outcomes rolled up as audit events move),
// plus the restore events still waiting in the outbox, each event counted
// once, and the active sessions (live, signed-in rows of sessions; the redis
// store mode writes none). Hourly buckets count whole when they overlap the
// window.
func (db *DB) FindUsageStats(ctx context.Context, since time.Time) (deal.UsageStats, error) {
	today := time.Now().UTC().Truncate(24 * time.Hour)
	daysFrom := today.AddDate(0, 0, -6)
	from := since
	if daysFrom.Before(from) {
		from = daysFrom
	}
	// Placeholders $2 to $7 are restoreStatName's.
	rows, err := db.q(ctx).Query(ctx, `
WITH figures AS (
	SELECT `+restoreStatName+` AS name, occurred_at AS at, occurred_at >= $1 AS in_window, 1::bigint AS n
	FROM audit_outbox WHERE action IN ($2, $3) AND occurred_at >= $8
	UNION ALL
	SELECT name, bucket_hour, bucket_hour >= date_trunc('hour', $1::timestamptz), n
	FROM usage_counters WHERE bucket_hour >= date_trunc('hour', $8::timestamptz)
)
SELECT name, date_trunc('day', at, 'UTC'),
	coalesce(sum(n) FILTER (WHERE in_window), 0)::bigint,
	coalesce(sum(n) FILTER (WHERE at >= $9), 0)::bigint
FROM figures GROUP BY 1, 2
UNION ALL
SELECT $10, NULL, count(*), 0 FROM sessions
WHERE expiry > now() AND NOT revoked AND user_id IS NOT NULL`,
		since, deal.ActionDealRestored, deal.ActionRestoreDenied,
		statRestored, statDenied, statDeleted, deal.RestoreDeleted,
		from, daysFrom, statActiveSessions)
	if err != nil {
		return deal.UsageStats{}, unavailable(err)
	}
	defer rows.Close()
	st := deal.UsageStats{Since: since, Days: make([]deal.UsageDay, 7)}
	for i := range st.Days {
		st.Days[i].Day = daysFrom.AddDate(0, 0, i)
	}
	for rows.Next() {
		var name string
		var day *time.Time
		var inWindow, onDay int64
		if err := rows.Scan(&name, &day, &inWindow, &onDay); err != nil {
			return deal.UsageStats{}, unavailable(err)
		}
		if name == statActiveSessions {
			st.ActiveSessions = inWindow
			continue
		}
		addUsage(&st.UsageCounts, name, inWindow)
		if day != nil {
			if i := int(day.Sub(daysFrom) / (24 * time.Hour)); i >= 0 && i < len(st.Days) {
				addUsage(&st.Days[i].UsageCounts, name, onDay)
			}
		}
	}
	if err := rows.Err(); err != nil {
		return deal.UsageStats{}, unavailable(err)
	}
	return st, nil
}

// addUsage adds n to the count that name stands for.
func addUsage(c *deal.UsageCounts, name string, n int64) {
	switch name {
	case deal.UsageSignIn:
		c.SignIns += n
	case deal.UsageSignInRestored:
		c.SignInsRestored += n
	case deal.UsageSelectorPrompt:
		c.SelectorPrompts += n
	case deal.UsagePageLoad:
		c.PageLoads += n
	case deal.UsageRestoreFailed:
		c.Failed += n
	case statRestored:
		c.Restored += n
	case statDenied:
		c.Denied += n
	case statDeleted:
		c.Deleted += n
	}
}
