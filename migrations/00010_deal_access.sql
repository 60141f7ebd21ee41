-- deal_access: the access rule, readable in one place. It has a row for
-- each (user, deal) the user reaches: the user is enabled and is the deal's
-- owner (deals.owner_id), a member (a deal_members row, either role), or an
-- admin. A deleted deal is still reached (its deleted_at is set): the user
-- may access the deal exactly when its row exists and deleted_at IS NULL.
--
--   user_id, deal_id  the pair
--   role              'owner' (deals.owner_id, or an 'owner' member row),
--                     else 'admin' (users.is_admin), else 'member'
--   deleted_at        the deal's; NULL while the deal is live
--   name, created_at  the deal's
--   user_gen          users.access_gen, deal_gen deals.access_gen (00007,
--                     00008): the generations the decision is made at
--
-- Read for one user and one deal (user_id = $1 AND deal_id = $2), the view
-- plans as the statement it replaces did: users_pkey, deals_pkey and
-- deal_members_pkey, one probe each. Read for one user alone, its "or an
-- admin" makes it read every deal: a user's list asks it about the deals the
-- user owns or belongs to, and only an admin's about all (dealsForUser in
-- internal/postgres/access.go). A statement that locks the deal (FOR UPDATE)
-- or walks a range of users spells the rule out instead (dealRole there);
-- TestAccessFormsAgree holds every form to the same answers.
--
-- Safe on a live database: a view takes no lock a reader waits for, and
-- stores nothing.

-- Its Down undoes its own Up, run only by an operator rolling a release back.

-- +goose Up
-- +goose StatementBegin
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '30s';

CREATE VIEW deal_access AS
SELECT u.id AS user_id,
       d.id AS deal_id,
       CASE WHEN d.owner_id = u.id OR m.role = 'owner' THEN 'owner'
            WHEN u.is_admin THEN 'admin'
            ELSE 'member' END AS role,
       d.deleted_at,
       d.name,
       d.created_at,
       u.access_gen AS user_gen,
       d.access_gen AS deal_gen
FROM users u
CROSS JOIN deals d
LEFT JOIN deal_members m ON m.deal_id = d.id AND m.user_id = u.id
WHERE u.disabled_at IS NULL
  AND (d.owner_id = u.id OR m.user_id IS NOT NULL OR u.is_admin);

COMMENT ON VIEW deal_access IS
    'One row per (user, deal) the enabled user reaches as owner, member or admin; access needs deleted_at IS NULL too. See migrations/00010_deal_access.sql.';
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '30s';
DROP VIEW IF EXISTS deal_access;
-- +goose StatementEnd
