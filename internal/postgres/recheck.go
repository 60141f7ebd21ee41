package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// AccessPair is a user's access to a deal, as a request was served it.
type AccessPair struct {
	UserID, DealID int64
}

// AccessRecheck is PostgreSQL's answer on one AccessPair: whether the user
// may see the deal now, and the generations read with that decision (0 for
// a user or deal that no longer exists).
type AccessRecheck struct {
	AccessPair
	Allowed bool
	Gens    Gens
}

// RecheckAccess decides every pair again in one statement (one snapshot):
// the background re-check of the decisions a process served from sessions
// (internal/access), so that each is re-asked within a minute without one
// query per session. The rule is dealRole, the form TestAccessFormsAgree
// holds to the deal_access view's answers.
func (db *DB) RecheckAccess(ctx context.Context, pairs []AccessPair) ([]AccessRecheck, error) {
	users := make([]int64, len(pairs))
	deals := make([]int64, len(pairs))
	for i, p := range pairs {
		users[i], deals[i] = p.UserID, p.DealID
	}
	// Over many users: the rule spelled out per row (dealRole), as the prune
	// does, rather than the view; only an enabled user is joined.
	rows, err := db.q(ctx).Query(ctx, `
SELECT p.user_id, p.deal_id,
	coalesce(u.id IS NOT NULL AND d.id IS NOT NULL AND (`+dealRole+`) IS NOT NULL, false),
	coalesce(u.access_gen, 0), coalesce(d.access_gen, 0), (SELECT gen FROM access_global)
FROM unnest($1::bigint[], $2::bigint[]) AS p(user_id, deal_id)
LEFT JOIN users u ON u.id = p.user_id AND u.disabled_at IS NULL
LEFT JOIN deals d ON d.id = p.deal_id`, users, deals)
	if err != nil {
		return nil, unavailable(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (AccessRecheck, error) {
		var c AccessRecheck
		err := r.Scan(&c.UserID, &c.DealID, &c.Allowed, &c.Gens.User, &c.Gens.Deal, &c.Gens.Global)
		return c, err
	})
	return out, unavailable(err)
}
