package postgres

// The access rule: which deals a user may see, and in what role.
//
// It is written once, as the view deal_access (migrations/00010_deal_access.sql):
// a row for each (user, deal) the user reaches, with columns user_id, deal_id,
// role ('owner', 'admin' or 'member'), deleted_at, name, created_at, user_gen
// and deal_gen. A user reaches a deal when the user is enabled and is the
// deal's owner (deals.owner_id), a member (a deal_members row) or an admin;
// the user may access it when, besides, the deal is live (deleted_at IS
// NULL). The role is 'owner' for the owner or an 'owner' member, else
// 'admin' for an admin, else 'member'.
//
// Every read for one user and one deal asks the view
// (WHERE user_id = $1 AND deal_id = $2), which plans as the rule written
// inline: one probe of users_pkey, deals_pkey and deal_members_pkey. Three
// kinds of statement cannot use it as well, and spell the rule out with
// dealRole instead, or list through dealsForUser:
//
//   - a statement that locks the deal (FOR UPDATE OF d): the lock must be
//     taken on the deals row the decision reads, so that a deletion that
//     commits while it waits is seen when the decision is made again on the
//     locked row;
//   - a statement over a range of users (the prune), which wants a per-row
//     probe of deal_members_pkey rather than a join the planner may hash;
//   - a user's list of deals: the view's "or an admin" reaches every deal,
//     so it reads all of deals; dealsForUser gives admins their own branch.
//
// TestAccessFormsAgree holds them all to the view's decision, case by case.

// dealRole is the access rule spelled out for a deal d and a user u already
// in the statement: the role u has on d ('owner', 'admin', 'member'), or
// NULL when u may not access d (d is deleted, or u is none of its owner, a
// member or an admin). Membership is probed per row (EXISTS on
// deal_members_pkey), never joined. Whether u is enabled is the
// statement's to say, as it joins u: deciding for a request, only an
// enabled user is joined (as in deal_access); the prune judges a disabled
// user's last deal as if the user were enabled, as it always has.
const dealRole = `CASE
	WHEN d.deleted_at IS NOT NULL THEN NULL
	WHEN d.owner_id = u.id
		OR EXISTS (SELECT 1 FROM deal_members m WHERE m.deal_id = d.id AND m.user_id = u.id AND m.role = 'owner')
		THEN 'owner'
	WHEN u.is_admin THEN 'admin'
	WHEN EXISTS (SELECT 1 FROM deal_members m WHERE m.deal_id = d.id AND m.user_id = u.id) THEN 'member'
END`

// dealsForUser lists the live deals the user $1 may access, from
// deal_access, as rows (deal_id, name, created_at, role), unordered. The
// decision is the view's; the branches only choose where the planner
// looks. A user who is not an admin reaches a deal only as its owner or a
// member, so the first branch asks the view about those deals alone, found
// through deals_owner_id_idx and deal_members_user_id_idx; an admin reaches
// every deal, and the second branch asks about all of them. Each branch is
// gated on is_admin once (an InitPlan), so a member's list never reads the
// whole of deals.
const dealsForUser = `SELECT a.deal_id, a.name, a.created_at, a.role FROM deal_access a
WHERE a.user_id = $1 AND a.deleted_at IS NULL
  AND NOT (SELECT is_admin FROM users WHERE id = $1)
  AND a.deal_id IN (SELECT id FROM deals WHERE owner_id = $1
	UNION ALL SELECT deal_id FROM deal_members WHERE user_id = $1)
UNION ALL
SELECT a.deal_id, a.name, a.created_at, a.role FROM deal_access a
WHERE a.user_id = $1 AND a.deleted_at IS NULL
  AND (SELECT is_admin FROM users WHERE id = $1)`

// ownedDeals selects the ids of the deals u owns (as the deal's owner_id
// or an owner member), deleted ones included: an owner keeps reading a
// deleted deal's audit trail.
const ownedDeals = `SELECT id FROM deals WHERE owner_id = u.id
	UNION SELECT deal_id FROM deal_members WHERE user_id = u.id AND role = 'owner'`
