package postgres

// The access rules, written once and shared by every statement that decides
// what a user may see. The fragments alias deals as d, users as u (the user
// who asks) and deal_members as m; accessJoin binds u to the user $1.
const (
	// accessJoin joins the enabled user $1 and the user's membership row
	// (if any) to every deal d.
	accessJoin = `
FROM deals d
JOIN users u ON u.id = $1 AND u.disabled_at IS NULL` + memberJoin

	// memberJoin joins u's membership row of deal d, NULL when u is none.
	memberJoin = `
LEFT JOIN deal_members m ON m.deal_id = d.id AND m.user_id = u.id`

	// reachWhere holds when u is deal d's owner, a member, or an admin,
	// whether or not d is deleted. It never yields NULL.
	reachWhere = `(d.owner_id = u.id OR m.user_id IS NOT NULL OR u.is_admin)`

	// accessWhere is the access decision: u may see deal d when d is live
	// and u reaches it. It never yields NULL, so NOT (accessWhere) is
	// exactly "no longer accessible".
	accessWhere = `(d.deleted_at IS NULL AND ` + reachWhere + `)`

	roleExpr = `CASE WHEN d.owner_id = u.id OR m.role = 'owner' THEN 'owner'
	WHEN u.is_admin THEN 'admin' ELSE 'member' END`

	// ownedDeals selects the ids of the deals u owns (as the deal's owner_id
	// or an owner member), deleted ones included: an owner keeps reading a
	// deleted deal's audit trail.
	ownedDeals = `SELECT id FROM deals WHERE owner_id = u.id
	UNION SELECT deal_id FROM deal_members WHERE user_id = u.id AND role = 'owner'`
)
