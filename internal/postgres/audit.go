package postgres

import (
	"context"
	"encoding/json"
	"time"

	"github.com/dealctx/dealctx/internal/deal"
	"github.com/jackc/pgx/v5"
)

// insertAudit writes one event to the outbox on q, normally inside the
// transaction of the change it records. Zero ids are stored as NULL.
func insertAudit(ctx context.Context, q querier, a deal.Actor, action string, dealID, targetID int64, details map[string]any) error {
	if details == nil {
		details = map[string]any{}
	}
	// As text: in the simple and exec query modes (PgBouncer) a []byte
	// argument travels as bytea, which is not JSON.
	b, err := json.Marshal(details)
	if err != nil {
		return err
	}
	_, err = q.Exec(ctx, `
INSERT INTO audit_outbox (action, actor_user_id, deal_id, target_user_id, request_id, ip, user_agent, details)
VALUES ($1, nullif($2::bigint, 0), nullif($3::bigint, 0), nullif($4::bigint, 0), $5, $6, $7, $8)`,
		action, a.UserID, dealID, targetID, a.RequestID, a.IP, a.UserAgent, string(b))
	return err
}

// RecordEvent records an audit event that has no other change to commit with
// (sign-ins, sign-outs).
func (db *DB) RecordEvent(ctx context.Context, a deal.Actor, action string, dealID, targetID int64, details map[string]any) error {
	return unavailable(insertAudit(ctx, db.q(ctx), a, action, dealID, targetID, details))
}

// MoveAuditEvents moves up to limit events from the outbox into audit_log in
// one statement, oldest first, and returns how many it took from the outbox;
// every one of them is then in audit_log exactly once. An event already in
// audit_log (a retried move) is not written twice; concurrent movers skip
// each other's rows. A result below limit means the outbox was drained, apart
// from rows other movers hold. The same statement adds the restore outcomes
// it moved to usage_counters (see FindUsageStats), each event once.
func (db *DB) MoveAuditEvents(ctx context.Context, limit int) (int64, error) {
	var taken int64
	err := db.q(ctx).QueryRow(ctx, `
WITH batch AS (
	DELETE FROM audit_outbox WHERE id IN (
		SELECT id FROM audit_outbox ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED
	)
	RETURNING id, occurred_at, action, actor_user_id, deal_id, target_user_id, request_id, ip, user_agent, details
), ins AS (
	INSERT INTO audit_log (id, occurred_at, action, actor_user_id, deal_id, target_user_id, request_id, ip, user_agent, details)
	SELECT id, occurred_at, action, actor_user_id, deal_id, target_user_id, request_id, ip, user_agent, details FROM batch
	ON CONFLICT (id) DO NOTHING
	RETURNING occurred_at, action, details
), rollup AS (
	INSERT INTO usage_counters (bucket_hour, name, n)
	SELECT date_trunc('hour', occurred_at), `+restoreStatName+`, count(*)
	FROM ins WHERE action IN ($2, $3) GROUP BY 1, 2
	ORDER BY 1, 2 -- concurrent movers lock counter rows in one order: no deadlock
	ON CONFLICT (bucket_hour, name) DO UPDATE SET n = usage_counters.n + EXCLUDED.n
)
SELECT count(*) FROM batch`, limit, deal.ActionDealRestored, deal.ActionRestoreDenied,
		statRestored, statDenied, statDeleted, deal.RestoreDeleted).Scan(&taken)
	if err != nil {
		return 0, unavailable(err)
	}
	return taken, nil
}

// PendingAuditEvents counts events still waiting in the outbox.
func (db *DB) PendingAuditEvents(ctx context.Context) (int64, error) {
	var n int64
	err := db.q(ctx).QueryRow(ctx, `SELECT count(*) FROM audit_outbox`).Scan(&n)
	return n, unavailable(err)
}

// auditColumns and auditMatch are the audit_log query both readers share:
// auditMatch filters a (audit_log) by deal ($1), actor ($2), action ($3) and
// "older than" ($4), each ignored when zero.
const (
	auditColumns = `a.id, a.occurred_at, a.action, a.actor_user_id, a.deal_id, a.target_user_id,
	a.request_id, a.ip, a.user_agent, a.details`
	auditMatch = `($1::bigint = 0 OR a.deal_id = $1)
	AND ($2::bigint = 0 OR a.actor_user_id = $2)
	AND ($3::text = '' OR a.action = $3)
	AND ($4::bigint = 0 OR a.id < $4)`
)

// FindAuditEvents returns audit_log events matching f, newest first, without
// asking who reads them: callers that serve a user decide access first, or
// use FindAuditEventsFor.
func (db *DB) FindAuditEvents(ctx context.Context, f deal.AuditFilter) ([]deal.AuditEvent, error) {
	rows, err := db.q(ctx).Query(ctx, `
SELECT `+auditColumns+` FROM audit_log a
WHERE `+auditMatch+`
ORDER BY a.id DESC
LIMIT $5`, f.DealID, f.ActorID, f.Action, f.Before, f.Limit)
	if err != nil {
		return nil, unavailable(err)
	}
	events := []deal.AuditEvent{}
	for rows.Next() {
		e, _, err := scanAuditEvent(rows)
		if err != nil {
			rows.Close()
			return nil, unavailable(err)
		}
		events = append(events, e)
	}
	return events, unavailable(rows.Err())
}

// FindAuditEventsFor returns the audit_log events matching f that the viewer
// may read, newest first, deciding the permission in the same statement: an
// admin reads every event; a user who owns deals reads the events of the
// deals they own, deleted ones included, when f.DealID is one of them or
// unset; anyone else gets deal.EFORBIDDEN (alike for a deal that does not
// exist), and a viewer who is not an enabled user deal.EUNAUTHORIZED.
func (db *DB) FindAuditEventsFor(ctx context.Context, viewerID int64, f deal.AuditFilter) ([]deal.AuditEvent, error) {
	rows, err := db.q(ctx).Query(ctx, `
WITH u AS (
	SELECT id, is_admin FROM users WHERE id = $6 AND disabled_at IS NULL
)
SELECT u.is_admin OR CASE WHEN $1::bigint = 0 THEN EXISTS (`+ownedDeals+`)
	ELSE $1 IN (`+ownedDeals+`) END,
	e.*
FROM u LEFT JOIN LATERAL (
	SELECT `+auditColumns+` FROM audit_log a
	WHERE `+auditMatch+`
	  AND (u.is_admin OR a.deal_id IN (`+ownedDeals+`))
	ORDER BY a.id DESC
	LIMIT $5
) e ON true`, f.DealID, f.ActorID, f.Action, f.Before, f.Limit, viewerID)
	if err != nil {
		return nil, unavailable(err)
	}
	defer rows.Close()
	events := []deal.AuditEvent{}
	viewer, allowed := false, false
	for rows.Next() {
		viewer = true
		e, found, err := scanAuditEvent(rows, &allowed)
		if err != nil {
			return nil, unavailable(err)
		}
		if found {
			events = append(events, e)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable(err)
	}
	switch {
	case !viewer:
		return nil, deal.Errorf(deal.EUNAUTHORIZED, "Sign in first.")
	case !allowed:
		return nil, deal.Errorf(deal.EFORBIDDEN, "Only a deal's owner or an admin may read its audit log.")
	}
	return events, nil
}

// scanAuditEvent scans prefix, then auditColumns, which may all be NULL (a
// LEFT JOIN that found no event): found reports whether there was an event.
func scanAuditEvent(row pgx.Row, prefix ...any) (e deal.AuditEvent, found bool, err error) {
	var id *int64
	var at *time.Time
	var action, requestID, ip, userAgent *string
	var details []byte
	dest := append(prefix, &id, &at, &action, &e.ActorUserID, &e.DealID, &e.TargetUserID,
		&requestID, &ip, &userAgent, &details)
	if err := row.Scan(dest...); err != nil || id == nil {
		return deal.AuditEvent{}, false, err
	}
	e.ID, e.OccurredAt, e.Action = *id, *at, *action
	e.RequestID, e.IP, e.UserAgent, e.Details = *requestID, *ip, *userAgent, details
	return e, true, nil
}
