package postgres

// The access decision, shared by every query that serves a deal to a user:
// the user ($1) may see deal d when d is live and the user is its owner, a
// member, or an admin. Queries that use these fragments alias deals as d,
// users as u and deal_members as m.
const (
	accessJoin = `
FROM deals d
JOIN users u ON u.id = $1 AND u.disabled_at IS NULL
LEFT JOIN deal_members m ON m.deal_id = d.id AND m.user_id = u.id`

	accessWhere = `d.deleted_at IS NULL AND (d.owner_id = u.id OR m.user_id IS NOT NULL OR u.is_admin)`

	roleExpr = `CASE WHEN d.owner_id = u.id OR m.role = 'owner' THEN 'owner'
	WHEN u.is_admin THEN 'admin' ELSE 'member' END`
)
