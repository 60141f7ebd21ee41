package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// ActivityEvent is one event of a deal's activity, with the people it
// names resolved to their names and emails.
type ActivityEvent struct {
	ID          int64
	OccurredAt  time.Time
	Action      string
	ActorID     int64 // 0 when the system acted
	ActorName   string
	ActorEmail  string
	TargetID    int64 // 0 when the event names no one else
	TargetName  string
	TargetEmail string
}

// FindDealActivity returns the deal's newest events, at most limit, newest
// first, in one statement over audit_log and audit_outbox: an event just
// committed shows even before the worker moved it, and an event being moved
// shows once. It does not check access: callers show it only for a deal
// the user may manage.
func (db *DB) FindDealActivity(ctx context.Context, dealID int64, limit int) ([]ActivityEvent, error) {
	rows, err := db.q(ctx).Query(ctx, `
SELECT e.id, e.occurred_at, e.action,
	coalesce(e.actor_user_id, 0), coalesce(ua.name, ''), coalesce(ua.email, ''),
	coalesce(e.target_user_id, 0), coalesce(ut.name, ''), coalesce(ut.email, '')
FROM (
	(SELECT id, occurred_at, action, actor_user_id, target_user_id FROM audit_log
	 WHERE deal_id = $1 ORDER BY id DESC LIMIT $2)
	UNION
	(SELECT id, occurred_at, action, actor_user_id, target_user_id FROM audit_outbox
	 WHERE deal_id = $1 ORDER BY id DESC LIMIT $2)
) e
LEFT JOIN users ua ON ua.id = e.actor_user_id
LEFT JOIN users ut ON ut.id = e.target_user_id
ORDER BY e.id DESC
LIMIT $2`, dealID, limit)
	if err != nil {
		return nil, unavailable(err)
	}
	events, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ActivityEvent, error) {
		var e ActivityEvent
		err := r.Scan(&e.ID, &e.OccurredAt, &e.Action, &e.ActorID, &e.ActorName, &e.ActorEmail,
			&e.TargetID, &e.TargetName, &e.TargetEmail)
		return e, err
	})
	return events, unavailable(err)
}
