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

	// memberOn is the membership rule: m is u's membership row of deal d.
	memberOn = `m.deal_id = d.id AND m.user_id = u.id`

	// memberJoin joins u's membership row of deal d, NULL when u is none.
	memberJoin = `
LEFT JOIN deal_members m ON ` + memberOn

	// memberExists holds when u is a member of deal d, for a statement that
	// tests membership without joining memberJoin. It never yields NULL.
	// A statement over a range of users (not one user) wants it: the planner
	// probes deal_members_pkey once per row, index only, where memberJoin
	// over an estimated range may hash all of deal_members.
	memberExists = `EXISTS (SELECT 1 FROM deal_members m WHERE ` + memberOn + `)`

	// reachWhere holds when u is deal d's owner, a member, or an admin,
	// whether or not d is deleted. It never yields NULL. It needs memberJoin.
	reachWhere = reachOwner + `m.user_id IS NOT NULL` + reachAdmin

	// reachOwner and reachAdmin enclose the membership test of the reach
	// rule (u is d's owner, a member, or an admin): the one place the rule
	// is spelled, whichever way membership is tested.
	reachOwner = `(d.owner_id = u.id OR `
	reachAdmin = ` OR u.is_admin)`

	// accessWhere is the access decision: u may see deal d when d is live
	// and u reaches it. It never yields NULL, so NOT (accessWhere) is
	// exactly "no longer accessible". It needs memberJoin.
	accessWhere = accessLive + reachWhere + `)`

	// accessExistsWhere is accessWhere testing membership with memberExists,
	// for a statement without memberJoin. It never yields NULL either.
	accessExistsWhere = accessLive + reachOwner + memberExists + reachAdmin + `)`

	// accessLive opens the access decision: d is live and ...
	accessLive = `(d.deleted_at IS NULL AND `

	roleExpr = `CASE WHEN d.owner_id = u.id OR m.role = 'owner' THEN 'owner'
	WHEN u.is_admin THEN 'admin' ELSE 'member' END`

	// ownedDeals selects the ids of the deals u owns (as the deal's owner_id
	// or an owner member), deleted ones included: an owner keeps reading a
	// deleted deal's audit trail.
	ownedDeals = `SELECT id FROM deals WHERE owner_id = u.id
	UNION SELECT deal_id FROM deal_members WHERE user_id = u.id AND role = 'owner'`
)
