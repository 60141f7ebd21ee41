package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/dealctx/dealctx/internal/deal"
	"github.com/jackc/pgx/v5"
)

// Gens are the access generations (migration 00007) an access decision was
// made at: the user's, the deal's and the global one. Each only grows, and
// every change that can take access away bumps one of them in its own
// transaction, so a decision is still true while all three are unchanged.
type Gens struct {
	User, Deal, Global int64
}

// gensColumns reads the generations in the statement that decides access,
// from its deal_access row: one snapshot for the decision and its proof.
const gensColumns = `user_gen, deal_gen, (SELECT gen FROM access_global) AS global_gen`

// FindDealAccess is FindDealByID that also returns the generations read in
// the same statement as the decision.
func (db *DB) FindDealAccess(ctx context.Context, userID, dealID int64) (deal.Deal, Gens, error) {
	var g Gens
	d, err := scanDeal(db.q(ctx).QueryRow(ctx, `
SELECT deal_id, name, created_at, role, `+gensColumns+` FROM deal_access
WHERE user_id = $1 AND deal_id = $2 AND deleted_at IS NULL`, userID, dealID), &g.User, &g.Deal, &g.Global)
	return d, g, notFound(err)
}

// Kinds of access generation, as access_outbox.kind holds them.
const (
	GenUser   = 'u'
	GenDeal   = 'd'
	GenGlobal = 'g'
)

// AccessBump is one queued generation for the Redis copies: Kind is one of
// GenUser, GenDeal, GenGlobal; KeyID is the user's or deal's id (0 for the
// global one).
type AccessBump struct {
	ID    int64
	Kind  byte
	KeyID int64
	Gen   int64
}

// PendingAccessBumps returns up to limit queued generations, oldest first.
func (db *DB) PendingAccessBumps(ctx context.Context, limit int) ([]AccessBump, error) {
	rows, err := db.q(ctx).Query(ctx, `SELECT id, kind, key_id, gen FROM access_outbox ORDER BY id LIMIT $1`, limit)
	if err != nil {
		return nil, unavailable(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (AccessBump, error) {
		var b AccessBump
		var kind string
		err := r.Scan(&b.ID, &kind, &b.KeyID, &b.Gen)
		if len(kind) == 1 {
			b.Kind = kind[0]
		}
		return b, err
	})
	return out, unavailable(err)
}

// DeleteAccessBumps removes queued generations once applied.
func (db *DB) DeleteAccessBumps(ctx context.Context, done []AccessBump) error {
	if len(done) == 0 {
		return nil
	}
	ids := make([]int64, len(done))
	for i, b := range done {
		ids[i] = b.ID
	}
	_, err := db.q(ctx).Exec(ctx, `DELETE FROM access_outbox WHERE id = ANY($1)`, ids)
	return unavailable(err)
}

// DeleteAccessBumpsOlderThan drops queued generations older than age that
// no process could apply. Dropping one is safe once age exceeds the longest
// a session serves a decision without asking PostgreSQL: by then every such
// decision has been re-checked, and a re-check refills the copy.
func (db *DB) DeleteAccessBumpsOlderThan(ctx context.Context, age time.Duration) (int64, error) {
	tag, err := db.q(ctx).Exec(ctx, `DELETE FROM access_outbox WHERE created_at < now() - $1::interval`, age)
	return tag.RowsAffected(), unavailable(err)
}

// ResetUserAccess bumps the generation of the user with email, so that the
// user's next request re-checks access; deal.ErrNotFound when there is none.
func (db *DB) ResetUserAccess(ctx context.Context, email string) (int64, error) {
	var id int64
	err := db.q(ctx).QueryRow(ctx, `UPDATE users SET access_gen = access_gen + 1 WHERE lower(email) = lower($1) RETURNING id`, email).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, deal.Errorf(deal.ENOTFOUND, "No user with that email.")
	}
	return id, unavailable(err)
}

// ResetDealAccess bumps the deal's generation (deleted deals included), so
// that the next request on it re-checks access; deal.ErrNotFound when there
// is none.
func (db *DB) ResetDealAccess(ctx context.Context, dealID int64) error {
	tag, err := db.q(ctx).Exec(ctx, `UPDATE deals SET access_gen = access_gen + 1 WHERE id = $1`, dealID)
	if err == nil && tag.RowsAffected() == 0 {
		return deal.Errorf(deal.ENOTFOUND, "No deal with that id.")
	}
	return unavailable(err)
}

// ResetAllAccess bumps the global generation, so that everyone's next
// request re-checks access.
func (db *DB) ResetAllAccess(ctx context.Context) error {
	_, err := db.q(ctx).Exec(ctx, `UPDATE access_global SET gen = gen + 1`)
	return unavailable(err)
}
