package postgres

import (
	"context"
	"encoding/json"

	"github.com/dealctx/dealctx/internal/deal"
	"github.com/jackc/pgx/v5"
)

// insertAudit writes one event to the outbox on q, normally inside the
// transaction of the change it records. Zero ids are stored as NULL.
func insertAudit(ctx context.Context, q querier, a deal.Actor, action string, dealID, targetID int64, details map[string]any) error {
	if details == nil {
		details = map[string]any{}
	}
	b, err := json.Marshal(details)
	if err != nil {
		return err
	}
	_, err = q.Exec(ctx, `
INSERT INTO audit_outbox (action, actor_user_id, deal_id, target_user_id, request_id, ip, user_agent, details)
VALUES ($1, nullif($2::bigint, 0), nullif($3::bigint, 0), nullif($4::bigint, 0), $5, $6, $7, $8)`,
		// As text, not []byte: under the simple protocol (PgBouncer in
		// transaction mode) pgx sends a []byte as a bytea literal, which
		// jsonb refuses.
		action, a.UserID, dealID, targetID, a.RequestID, a.IP, a.UserAgent, string(b))
	return err
}

// RecordEvent records an audit event that has no other change to commit with
// (sign-ins, sign-outs).
func (db *DB) RecordEvent(ctx context.Context, a deal.Actor, action string, dealID, targetID int64, details map[string]any) error {
	return unavailable(insertAudit(ctx, db.Pool, a, action, dealID, targetID, details))
}

// MoveAuditEvents moves up to limit events from the outbox into audit_log in
// one statement, oldest first, and returns how many it took from the outbox;
// every one of them is then in audit_log exactly once. An event already in
// audit_log (a retried move) is not written twice; concurrent movers skip
// each other's rows. A result below limit means the outbox was drained, apart
// from rows other movers hold.
func (db *DB) MoveAuditEvents(ctx context.Context, limit int) (int64, error) {
	var taken int64
	err := db.Pool.QueryRow(ctx, `
WITH batch AS (
	DELETE FROM audit_outbox WHERE id IN (
		SELECT id FROM audit_outbox ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED
	)
	RETURNING id, occurred_at, action, actor_user_id, deal_id, target_user_id, request_id, ip, user_agent, details
), ins AS (
	INSERT INTO audit_log (id, occurred_at, action, actor_user_id, deal_id, target_user_id, request_id, ip, user_agent, details)
	SELECT id, occurred_at, action, actor_user_id, deal_id, target_user_id, request_id, ip, user_agent, details FROM batch
	ON CONFLICT (id) DO NOTHING
)
SELECT count(*) FROM batch`, limit).Scan(&taken)
	if err != nil {
		return 0, unavailable(err)
	}
	return taken, nil
}

// PendingAuditEvents counts events still waiting in the outbox.
func (db *DB) PendingAuditEvents(ctx context.Context) (int64, error) {
	var n int64
	err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM audit_outbox`).Scan(&n)
	return n, unavailable(err)
}

// FindAuditEvents returns audit_log events matching f, newest first.
func (db *DB) FindAuditEvents(ctx context.Context, f deal.AuditFilter) ([]deal.AuditEvent, error) {
	rows, err := db.Pool.Query(ctx, `
SELECT a.id, a.occurred_at, a.action, a.actor_user_id, a.deal_id, a.target_user_id, a.request_id, a.ip, a.user_agent, a.details
FROM audit_log a
WHERE ($1::bigint = 0 OR a.deal_id = $1)
  AND ($2::bigint = 0 OR a.actor_user_id = $2)
  AND ($3::text = '' OR a.action = $3)
  AND ($4::bigint = 0 OR a.id < $4)
  AND ($5::bigint = 0 OR a.deal_id IN (
	SELECT id FROM deals WHERE owner_id = $5
	UNION SELECT deal_id FROM deal_members WHERE user_id = $5 AND role = 'owner'))
ORDER BY a.id DESC
LIMIT $6`, f.DealID, f.ActorID, f.Action, f.Before, f.OwnerID, f.Limit)
	if err != nil {
		return nil, unavailable(err)
	}
	events, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (deal.AuditEvent, error) {
		var e deal.AuditEvent
		err := r.Scan(&e.ID, &e.OccurredAt, &e.Action, &e.ActorUserID, &e.DealID, &e.TargetUserID,
			&e.RequestID, &e.IP, &e.UserAgent, &e.Details)
		return e, err
	})
	if events == nil {
		events = []deal.AuditEvent{}
	}
	return events, unavailable(err)
}

// OwnsDeal reports whether the user owns the deal, deleted or not: an owner
// keeps reading a deleted deal's audit trail.
func (db *DB) OwnsDeal(ctx context.Context, userID, dealID int64) (bool, error) {
	var ok bool
	err := db.Pool.QueryRow(ctx, `
SELECT EXISTS (SELECT 1 FROM deals WHERE id = $2 AND owner_id = $1)
	OR EXISTS (SELECT 1 FROM deal_members WHERE deal_id = $2 AND user_id = $1 AND role = 'owner')`, userID, dealID).Scan(&ok)
	return ok, unavailable(err)
}

// OwnsAnyDeal reports whether the user owns at least one deal.
func (db *DB) OwnsAnyDeal(ctx context.Context, userID int64) (bool, error) {
	var ok bool
	err := db.Pool.QueryRow(ctx, `
SELECT EXISTS (SELECT 1 FROM deals WHERE owner_id = $1)
	OR EXISTS (SELECT 1 FROM deal_members WHERE user_id = $1 AND role = 'owner')`, userID).Scan(&ok)
	return ok, unavailable(err)
}
