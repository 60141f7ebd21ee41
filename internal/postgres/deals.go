package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/dealctx/dealctx/internal/deal"
	"github.com/jackc/pgx/v5"
)

func scanDeal(row pgx.Row, extra ...any) (deal.Deal, error) {
	var d deal.Deal
	err := row.Scan(append([]any{&d.ID, &d.Name, &d.CreatedAt, &d.Role}, extra...)...)
	return d, err
}

func notFound(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return deal.ErrNotFound
	}
	return unavailable(err)
}

// FindDealByID returns the deal as userID sees it, or deal.ErrNotFound when it
// does not exist, is deleted, or the user may not access it: one statement.
func (db *DB) FindDealByID(ctx context.Context, userID, dealID int64) (deal.Deal, error) {
	d, err := scanDeal(db.q(ctx).QueryRow(ctx, findDealByIDSQL, userID, dealID))
	return d, notFound(err)
}

const findDealByIDSQL = `
SELECT deal_id, name, created_at, role FROM deal_access
WHERE user_id = $1 AND deal_id = $2 AND deleted_at IS NULL`

// FindDealsForUser lists the live deals the user may access, newest first.
func (db *DB) FindDealsForUser(ctx context.Context, userID int64) ([]deal.Deal, error) {
	rows, err := db.q(ctx).Query(ctx, findDealsForUserSQL, userID)
	if err != nil {
		return nil, unavailable(err)
	}
	deals, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (deal.Deal, error) { return scanDeal(r) })
	if deals == nil {
		deals = []deal.Deal{}
	}
	return deals, unavailable(err)
}

const findDealsForUserSQL = `
SELECT deal_id, name, created_at, role FROM (` + dealsForUser + `) a
ORDER BY created_at DESC, deal_id DESC`

// CreateDeal creates a deal owned by the actor, with its audit event.
func (db *DB) CreateDeal(ctx context.Context, a deal.Actor, name string) (deal.Deal, error) {
	d, err := scanDeal(db.q(ctx).QueryRow(ctx, `
WITH d AS (
	INSERT INTO deals (name, owner_id) SELECT $2, id FROM users WHERE id = $1 AND disabled_at IS NULL
	RETURNING id, name, created_at
), m AS (
	INSERT INTO deal_members (deal_id, user_id, role) SELECT d.id, $1, 'owner' FROM d
), ev AS (
	INSERT INTO audit_outbox (action, actor_user_id, deal_id, request_id, ip, user_agent, details)
	SELECT $6, $1, d.id, $3, $4, $5, jsonb_build_object('name', d.name) FROM d
)
SELECT id, name, created_at, 'owner' FROM d`, a.UserID, name, a.RequestID, a.IP, a.UserAgent, deal.ActionDealCreated))
	if errors.Is(err, pgx.ErrNoRows) {
		return deal.Deal{}, deal.Errorf(deal.EUNAUTHORIZED, "Sign in first.")
	}
	return d, unavailable(err)
}

// SelectDeal checks access and, in one statement, records the deal as the
// user's last deal (when the user remembers deals) and audits action
// (normally deal.selected). It returns deal.ErrNotFound when access fails, in
// which case nothing was written.
func (db *DB) SelectDeal(ctx context.Context, a deal.Actor, dealID int64, action string) (deal.Deal, error) {
	d, _, err := db.SelectDealAt(ctx, a, dealID, action)
	return d, err
}

// SelectDealAt is SelectDeal that also returns the access generations read
// in the same statement as the decision.
func (db *DB) SelectDealAt(ctx context.Context, a deal.Actor, dealID int64, action string) (deal.Deal, Gens, error) {
	var g Gens
	d, err := scanDeal(db.q(ctx).QueryRow(ctx, `
WITH d AS (
	SELECT deal_id AS id, name, created_at, role, `+gensColumns+` FROM deal_access
	WHERE user_id = $1 AND deal_id = $2 AND deleted_at IS NULL
), upd AS (
	UPDATE users SET last_deal_id = d.id, last_deal_accessed_at = now()
	FROM d WHERE users.id = $1 AND users.remember_last_deal
), ev AS (
	INSERT INTO audit_outbox (action, actor_user_id, deal_id, request_id, ip, user_agent)
	SELECT $6, $1, d.id, $3, $4, $5 FROM d
)
SELECT id, name, created_at, role, user_gen, deal_gen, global_gen FROM d`, a.UserID, dealID, a.RequestID, a.IP, a.UserAgent, action), &g.User, &g.Deal, &g.Global)
	return d, g, notFound(err)
}

// ClearCurrentDeal forgets the user's last deal and audits deal.cleared.
func (db *DB) ClearCurrentDeal(ctx context.Context, a deal.Actor, sessionDealID int64) error {
	_, err := db.q(ctx).Exec(ctx, `
WITH old AS (
	SELECT last_deal_id FROM users WHERE id = $1
), upd AS (
	UPDATE users SET last_deal_id = NULL WHERE id = $1
)
INSERT INTO audit_outbox (action, actor_user_id, deal_id, request_id, ip, user_agent)
SELECT $6, $1, coalesce(nullif($5::bigint, 0), old.last_deal_id), $2, $3, $4 FROM old`,
		a.UserID, a.RequestID, a.IP, a.UserAgent, sessionDealID, deal.ActionDealCleared)
	return unavailable(err)
}

// RestoreLastDeal is auto-restore's single round trip: it loads the user's
// last deal with the access decision; when the deal is deleted or no longer
// accessible it clears last_deal_id; and it audits deal.restored or
// deal.restore_denied. remember is the user's preference; the outcome is one
// of deal.Restore*. It joins the transaction ctx carries (Transact).
func (db *DB) RestoreLastDeal(ctx context.Context, a deal.Actor) (d deal.Deal, outcome string, remember bool, err error) {
	d, _, outcome, remember, err = db.RestoreLastDealAt(ctx, a)
	return d, outcome, remember, err
}

// RestoreLastDealAt is RestoreLastDeal that also returns the access
// generations read in the same statement as the decision (zero unless the
// deal was restored).
func (db *DB) RestoreLastDealAt(ctx context.Context, a deal.Actor) (d deal.Deal, g Gens, outcome string, remember bool, err error) {
	var id *int64
	var gens [3]*int64
	var name, role, out *string
	var created *time.Time
	err = db.q(ctx).QueryRow(ctx, `
WITH me AS (
	SELECT remember_last_deal FROM users WHERE id = $1 AND disabled_at IS NULL
), r AS (
	SELECT d.id, d.name, d.created_at, a.role,
		CASE WHEN d.deleted_at IS NOT NULL THEN $5::text
			WHEN a.deal_id IS NOT NULL THEN $6::text
			ELSE $7::text END AS outcome,
		a.user_gen, a.deal_gen, (SELECT gen FROM access_global) AS global_gen
	FROM users u
	JOIN deals d ON d.id = u.last_deal_id
	LEFT JOIN deal_access a ON a.user_id = u.id AND a.deal_id = d.id
	WHERE u.id = $1 AND u.disabled_at IS NULL AND u.remember_last_deal
), cleared AS (
	UPDATE users SET last_deal_id = NULL FROM r
	WHERE users.id = $1 AND r.outcome <> $6::text AND users.last_deal_id = r.id
), ev AS (
	INSERT INTO audit_outbox (action, actor_user_id, deal_id, request_id, ip, user_agent, details)
	SELECT CASE WHEN r.outcome = $6::text THEN $8::text ELSE $9::text END,
		$1, r.id, $2, $3, $4, jsonb_build_object('reason', r.outcome)
	FROM r
)
SELECT me.remember_last_deal, r.id, r.name, r.created_at, r.role, r.outcome, r.user_gen, r.deal_gen, r.global_gen
FROM me LEFT JOIN r ON true`,
		a.UserID, a.RequestID, a.IP, a.UserAgent,
		deal.RestoreDeleted, deal.RestoreRestored, deal.RestoreDenied,
		deal.ActionDealRestored, deal.ActionRestoreDenied).Scan(&remember, &id, &name, &created, &role, &out, &gens[0], &gens[1], &gens[2])
	if errors.Is(err, pgx.ErrNoRows) {
		return deal.Deal{}, Gens{}, deal.RestoreNone, false, deal.Errorf(deal.EUNAUTHORIZED, "Sign in first.")
	}
	if err != nil {
		return deal.Deal{}, Gens{}, deal.RestoreError, false, unavailable(err)
	}
	if id == nil {
		return deal.Deal{}, Gens{}, deal.RestoreNone, remember, nil
	}
	if *out != deal.RestoreRestored {
		return deal.Deal{}, Gens{}, *out, remember, nil
	}
	g = Gens{User: *gens[0], Deal: *gens[1], Global: *gens[2]}
	return deal.Deal{ID: *id, Name: *name, CreatedAt: *created, Role: *role}, g, deal.RestoreRestored, remember, nil
}

// FindOnlyDeal returns the user's single accessible deal; ok is false when the
// user can access none or more than one.
func (db *DB) FindOnlyDeal(ctx context.Context, userID int64) (d deal.Deal, ok bool, err error) {
	rows, err := db.q(ctx).Query(ctx, `
SELECT deal_id, name, created_at, role FROM (`+dealsForUser+`) a LIMIT 2`, userID)
	if err != nil {
		return deal.Deal{}, false, unavailable(err)
	}
	deals, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (deal.Deal, error) { return scanDeal(r) })
	if err != nil || len(deals) != 1 {
		return deal.Deal{}, false, unavailable(err)
	}
	return deals[0], true, nil
}

// DeleteDeal soft-deletes a deal the actor owns or administers, clears every
// last_deal_id that points at it, and audits deal.deleted, atomically.
func (db *DB) DeleteDeal(ctx context.Context, a deal.Actor, dealID int64) error {
	var role string
	var deleted bool
	err := db.q(ctx).QueryRow(ctx, `
WITH d AS (
	SELECT deal_id AS id, role FROM deal_access
	WHERE user_id = $1 AND deal_id = $2 AND deleted_at IS NULL
), del AS (
	UPDATE deals SET deleted_at = now() FROM d
	WHERE deals.id = d.id AND d.role = ANY($7::text[]) AND deals.deleted_at IS NULL
	RETURNING deals.id
), clr AS (
	UPDATE users SET last_deal_id = NULL FROM del WHERE users.last_deal_id = del.id RETURNING users.id
), ev AS (
	INSERT INTO audit_outbox (action, actor_user_id, deal_id, request_id, ip, user_agent, details)
	SELECT $6, $1, del.id, $3, $4, $5, jsonb_build_object('cleared_last_deals', (SELECT count(*) FROM clr))
	FROM del
)
SELECT d.role, EXISTS (SELECT 1 FROM del) FROM d`, a.UserID, dealID, a.RequestID, a.IP, a.UserAgent, deal.ActionDealDeleted, deal.ManagingRoles).Scan(&role, &deleted)
	if err != nil {
		return notFound(err)
	}
	if !deleted {
		return deal.Errorf(deal.EFORBIDDEN, "Only the deal's owner or an admin may delete it.")
	}
	return nil
}

// FindMembers lists a deal's members for a user who may access it.
func (db *DB) FindMembers(ctx context.Context, userID, dealID int64) ([]deal.Member, error) {
	if _, err := db.FindDealByID(ctx, userID, dealID); err != nil {
		return nil, err
	}
	rows, err := db.q(ctx).Query(ctx, `
SELECT m.user_id, u.email, m.role FROM deal_members m JOIN users u ON u.id = m.user_id
WHERE m.deal_id = $1 ORDER BY m.role = 'owner' DESC, lower(u.email)`, dealID)
	if err != nil {
		return nil, unavailable(err)
	}
	members, err := pgx.CollectRows(rows, pgx.RowToStructByPos[deal.Member])
	if members == nil {
		members = []deal.Member{}
	}
	return members, unavailable(err)
}

// manageableDeal locks the deal for the transaction and returns an error
// unless the actor may manage it.
func manageableDeal(ctx context.Context, tx pgx.Tx, userID, dealID int64) error {
	var role string
	err := tx.QueryRow(ctx, manageableDealSQL, userID, dealID).Scan(&role)
	if err != nil {
		return notFound(err)
	}
	if !deal.CanManage(role) {
		return deal.Errorf(deal.EFORBIDDEN, "Only the deal's owner or an admin may manage members.")
	}
	return nil
}

// manageableDealSQL is the access decision of manageableDeal, made on the
// deals row it locks (dealRole, not deal_access: see access.go), so that a
// deletion committed while the lock is awaited is seen.
const manageableDealSQL = `
SELECT ` + dealRole + `
FROM deals d JOIN users u ON u.id = $1 AND u.disabled_at IS NULL
WHERE d.id = $2 AND (` + dealRole + `) IS NOT NULL
FOR UPDATE OF d`

// AddMember gives the user with email access to the deal, with its audit
// event. Adding an existing member again changes nothing.
func (db *DB) AddMember(ctx context.Context, a deal.Actor, dealID int64, email, role string) (deal.Member, error) {
	var m deal.Member
	err := pgx.BeginFunc(ctx, db.q(ctx), func(tx pgx.Tx) error {
		if err := manageableDeal(ctx, tx, a.UserID, dealID); err != nil {
			return err
		}
		err := tx.QueryRow(ctx, `SELECT id, email FROM users WHERE lower(email) = lower($1) AND disabled_at IS NULL`, email).
			Scan(&m.UserID, &m.Email)
		if errors.Is(err, pgx.ErrNoRows) {
			return deal.Errorf(deal.ENOTFOUND, "No user with that email.")
		} else if err != nil {
			return err
		}
		var inserted bool
		if err := tx.QueryRow(ctx, `
WITH ins AS (
	INSERT INTO deal_members (deal_id, user_id, role) VALUES ($1, $2, $3)
	ON CONFLICT (deal_id, user_id) DO NOTHING RETURNING role
)
SELECT coalesce((SELECT role FROM ins), (SELECT role FROM deal_members WHERE deal_id = $1 AND user_id = $2)),
	EXISTS (SELECT 1 FROM ins)`, dealID, m.UserID, role).Scan(&m.Role, &inserted); err != nil {
			return err
		}
		if !inserted {
			return nil
		}
		return insertAudit(ctx, tx, a, deal.ActionMemberAdded, dealID, m.UserID, map[string]any{"role": m.Role})
	})
	return m, unavailable(err)
}

// RemoveMember revokes a member's access, clears that member's last_deal_id
// when it points at the deal, and audits member.removed, in one transaction.
// The owner cannot be removed.
func (db *DB) RemoveMember(ctx context.Context, a deal.Actor, dealID, userID int64) error {
	err := pgx.BeginFunc(ctx, db.q(ctx), func(tx pgx.Tx) error {
		if err := manageableDeal(ctx, tx, a.UserID, dealID); err != nil {
			return err
		}
		var role string
		err := tx.QueryRow(ctx, `DELETE FROM deal_members WHERE deal_id = $1 AND user_id = $2 AND role <> 'owner' RETURNING role`,
			dealID, userID).Scan(&role)
		if errors.Is(err, pgx.ErrNoRows) {
			var isOwner bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM deals WHERE id = $1 AND owner_id = $2)
				OR EXISTS (SELECT 1 FROM deal_members WHERE deal_id = $1 AND user_id = $2)`, dealID, userID).Scan(&isOwner); err != nil {
				return err
			}
			if isOwner {
				return deal.Errorf(deal.EINVALID, "The deal's owner cannot be removed.")
			}
			return deal.Errorf(deal.ENOTFOUND, "That user is not a member of this deal.")
		} else if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `
UPDATE users SET last_deal_id = NULL WHERE id = $1 AND last_deal_id = $2 AND NOT is_admin`, userID, dealID); err != nil {
			return err
		}
		return insertAudit(ctx, tx, a, deal.ActionMemberRemoved, dealID, userID, map[string]any{"role": role})
	})
	return unavailable(err)
}

// PruneStaleLastDeals looks at the next limit users after afterUserID (in id
// order) and clears the last_deal_id of those whose deal is deleted or no
// longer accessible to them. It returns how many it cleared and the id to
// pass as afterUserID next time, which is 0 once the last user was seen.
// Each call reads at most limit users and locks only the rows it clears
// (skipping rows another transaction holds), so no statement runs long even
// with millions of users. The decision is made on the locked row: a user
// who picks another deal while a prune runs keeps it.
func (db *DB) PruneStaleLastDeals(ctx context.Context, afterUserID int64, limit int) (cleared, next int64, err error) {
	// The batch is read as the id range the scan covers (one walk of
	// users_pkey) rather than joined back id by id, and membership is
	// probed per row (dealRole's EXISTS): a join over a range whose end the
	// planner cannot know may hash the whole of deal_members.
	err = db.q(ctx).QueryRow(ctx, `
WITH scan AS (
	SELECT id FROM users WHERE id > $1 ORDER BY id LIMIT $2
), stale AS (
	SELECT u.id, u.last_deal_id FROM users u
	JOIN deals d ON d.id = u.last_deal_id
	WHERE u.id > $1 AND u.id <= (SELECT max(id) FROM scan)
	  AND (`+dealRole+`) IS NULL
	FOR UPDATE OF u SKIP LOCKED
), upd AS (
	UPDATE users SET last_deal_id = NULL FROM stale
	WHERE users.id = stale.id AND users.last_deal_id = stale.last_deal_id
	RETURNING users.id
)
SELECT (SELECT count(*) FROM upd),
	CASE WHEN (SELECT count(*) FROM scan) < $2 THEN 0 ELSE (SELECT max(id) FROM scan) END`,
		afterUserID, limit).Scan(&cleared, &next)
	if err != nil {
		return 0, 0, unavailable(err)
	}
	return cleared, next, nil
}

// EnsureDemoDeal creates the named deal for owner unless the owner already
// has a live deal of that name, and makes sure members belong to it.
func (db *DB) EnsureDemoDeal(ctx context.Context, name string, ownerID int64, memberIDs []int64) error {
	return pgx.BeginFunc(ctx, db.q(ctx), func(tx pgx.Tx) error {
		var id int64
		err := tx.QueryRow(ctx, `SELECT id FROM deals WHERE owner_id = $1 AND name = $2 AND deleted_at IS NULL`, ownerID, name).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			err = tx.QueryRow(ctx, `INSERT INTO deals (name, owner_id) VALUES ($1, $2) RETURNING id`, name, ownerID).Scan(&id)
		}
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO deal_members (deal_id, user_id, role) VALUES ($1, $2, 'owner') ON CONFLICT DO NOTHING`, id, ownerID); err != nil {
			return err
		}
		for _, m := range memberIDs {
			if _, err := tx.Exec(ctx, `INSERT INTO deal_members (deal_id, user_id, role) VALUES ($1, $2, 'member') ON CONFLICT DO NOTHING`, id, m); err != nil {
				return err
			}
		}
		return nil
	})
}
