package postgres

import (
	"context"
	"slices"
	"time"

	"github.com/dealctx/dealctx/internal/deal"
)

// CountUsage adds n to the usage counter name (one of deal.UsageNames) for
// the current hour, in one upsert that any number of api processes may run
// at once. n of zero writes nothing; an unknown name or a negative n is
// deal.EINVALID.
func (db *DB) CountUsage(ctx context.Context, name string, n int64) error {
	if !slices.Contains(deal.UsageNames, name) {
		return deal.Errorf(deal.EINVALID, "unknown usage counter %q", name)
	}
	if n < 0 {
		return deal.Errorf(deal.EINVALID, "usage counts only grow (got %d)", n)
	}
	if n == 0 {
		return nil
	}
	_, err := db.Pool.Exec(ctx, `
INSERT INTO usage_counters (bucket_hour, name, n) VALUES (date_trunc('hour', now()), $1, $2)
ON CONFLICT (bucket_hour, name) DO UPDATE SET n = usage_counters.n + EXCLUDED.n`, name, n)
	return unavailable(err)
}

// Names of the figures counted from the audit trail, as FindUsageStats'
// statement returns them beside the usage counters' names.
const (
	statRestored       = "restore:" + deal.RestoreRestored
	statDenied         = "restore:" + deal.RestoreDenied
	statDeleted        = "restore:" + deal.RestoreDeleted
	statActiveSessions = "active_sessions"
)

// FindUsageStats returns the success figures since the given moment and for
// each of the last seven UTC days, across every api process, in one
// statement: restore outcomes from the audit trail (audit_log and the
// events still in the outbox, each counted once), everything else from
// usage_counters, whose hourly buckets count whole when they overlap the
// window, and the active sessions (live, signed-in rows of sessions; the
// redis store mode writes none).
func (db *DB) FindUsageStats(ctx context.Context, since time.Time) (deal.UsageStats, error) {
	today := time.Now().UTC().Truncate(24 * time.Hour)
	daysFrom := today.AddDate(0, 0, -6)
	from := since
	if daysFrom.Before(from) {
		from = daysFrom
	}
	rows, err := db.Pool.Query(ctx, `
WITH ev AS (
	SELECT a.action, a.details->>'reason' AS reason, a.occurred_at
	FROM audit_log a WHERE a.action IN ($4, $5) AND a.occurred_at >= $3
	UNION ALL
	SELECT o.action, o.details->>'reason', o.occurred_at
	FROM audit_outbox o WHERE o.action IN ($4, $5) AND o.occurred_at >= $3
), figures AS (
	SELECT CASE WHEN action = $4 THEN $6 WHEN reason = $9 THEN $8 ELSE $7 END AS name,
		occurred_at AS at, occurred_at >= $1 AS in_window, 1::bigint AS n
	FROM ev
	UNION ALL
	SELECT name, bucket_hour, bucket_hour >= date_trunc('hour', $1::timestamptz), n
	FROM usage_counters WHERE bucket_hour >= date_trunc('hour', $3::timestamptz)
)
SELECT name, date_trunc('day', at, 'UTC'),
	coalesce(sum(n) FILTER (WHERE in_window), 0)::bigint,
	coalesce(sum(n) FILTER (WHERE at >= $2), 0)::bigint
FROM figures GROUP BY 1, 2
UNION ALL
SELECT $10, NULL, count(*), 0 FROM sessions
WHERE expiry > now() AND NOT revoked AND user_id IS NOT NULL`,
		since, daysFrom, from, deal.ActionDealRestored, deal.ActionRestoreDenied,
		statRestored, statDenied, statDeleted, deal.RestoreDeleted, statActiveSessions)
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
