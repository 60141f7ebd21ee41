package postgres

import (
	"context"
	"errors"

	"github.com/dealctx/dealctx/internal/deal"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

const userColumns = `id, email, name, is_admin, remember_last_deal`

func scanUser(row pgx.Row, extra ...any) (deal.User, error) {
	var u deal.User
	dest := append([]any{&u.ID, &u.Email, &u.Name, &u.IsAdmin, &u.RememberLastDeal}, extra...)
	err := row.Scan(dest...)
	return u, err
}

// ErrEmailTaken is returned when creating a user whose email already exists.
var ErrEmailTaken = deal.Errorf(deal.EINVALID, "A user with that email already exists.")

// CreateUser inserts a user with an already-hashed password.
func (db *DB) CreateUser(ctx context.Context, email, name, passwordHash string, isAdmin bool) (deal.User, error) {
	u, err := scanUser(db.q(ctx).QueryRow(ctx, `
INSERT INTO users (email, name, password_hash, is_admin) VALUES ($1, $2, $3, $4)
RETURNING `+userColumns, email, name, passwordHash, isAdmin))
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return deal.User{}, ErrEmailTaken
	}
	return u, unavailable(err)
}

// UpsertUser creates the user or, when the email exists, updates its name,
// password and admin flag; the seed uses it to stay idempotent.
func (db *DB) UpsertUser(ctx context.Context, email, name, passwordHash string, isAdmin bool) (deal.User, error) {
	u, err := scanUser(db.q(ctx).QueryRow(ctx, `
INSERT INTO users (email, name, password_hash, is_admin) VALUES ($1, $2, $3, $4)
ON CONFLICT (lower(email)) DO UPDATE SET name = EXCLUDED.name, password_hash = EXCLUDED.password_hash,
	is_admin = EXCLUDED.is_admin, disabled_at = NULL
RETURNING `+userColumns, email, name, passwordHash, isAdmin))
	return u, unavailable(err)
}

// FindUserByID returns an enabled user, or deal.EUNAUTHORIZED when there is none.
func (db *DB) FindUserByID(ctx context.Context, id int64) (deal.User, error) {
	u, err := scanUser(db.q(ctx).QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1 AND disabled_at IS NULL`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return deal.User{}, deal.Errorf(deal.EUNAUTHORIZED, "Sign in first.")
	}
	return u, unavailable(err)
}

// FindUserForLogin returns an enabled user and its password hash by email.
// found is false when no such user exists; the caller must still spend the
// time of a password check so the two cases look alike.
func (db *DB) FindUserForLogin(ctx context.Context, email string) (u deal.User, hash string, found bool, err error) {
	u, err = scanUser(db.q(ctx).QueryRow(ctx, `
SELECT `+userColumns+`, password_hash FROM users WHERE lower(email) = lower($1) AND disabled_at IS NULL`, email), &hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return deal.User{}, "", false, nil
	}
	if err != nil {
		return deal.User{}, "", false, unavailable(err)
	}
	return u, hash, true, nil
}

// SetRememberLastDeal stores the preference; turning it off also forgets the
// last deal.
func (db *DB) SetRememberLastDeal(ctx context.Context, userID int64, remember bool) (deal.User, error) {
	u, err := scanUser(db.q(ctx).QueryRow(ctx, `
UPDATE users SET remember_last_deal = $2,
	last_deal_id = CASE WHEN $2 THEN last_deal_id END,
	last_deal_accessed_at = CASE WHEN $2 THEN last_deal_accessed_at END
WHERE id = $1 AND disabled_at IS NULL
RETURNING `+userColumns, userID, remember))
	if errors.Is(err, pgx.ErrNoRows) {
		return deal.User{}, deal.Errorf(deal.EUNAUTHORIZED, "Sign in first.")
	}
	return u, unavailable(err)
}

// SetPassword replaces the user's password hash and ends every session and
// remember token the user has, in one transaction.
func (db *DB) SetPassword(ctx context.Context, email, passwordHash string) (int64, error) {
	var id int64
	err := pgx.BeginFunc(ctx, db.q(ctx), func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `UPDATE users SET password_hash = $2 WHERE lower(email) = lower($1) RETURNING id`,
			email, passwordHash).Scan(&id); err != nil {
			return err
		}
		return revokeUserCredentials(ctx, tx, id)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, deal.Errorf(deal.ENOTFOUND, "No user with that email.")
	}
	return id, unavailable(err)
}

// SetDisabled disables or re-enables a user; disabling ends every session and
// remember token at once.
func (db *DB) SetDisabled(ctx context.Context, email string, disabled bool) (int64, error) {
	var id int64
	err := pgx.BeginFunc(ctx, db.q(ctx), func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `
UPDATE users SET disabled_at = CASE WHEN $2 THEN coalesce(disabled_at, now()) END
WHERE lower(email) = lower($1) RETURNING id`, email, disabled).Scan(&id); err != nil {
			return err
		}
		if !disabled {
			return nil
		}
		return revokeUserCredentials(ctx, tx, id)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, deal.Errorf(deal.ENOTFOUND, "No user with that email.")
	}
	return id, unavailable(err)
}

// revokeUserCredentials turns all the user's sessions into tombstones and
// deletes the user's remember tokens. Redis copies are internal/session's to
// end (session.RevokeUser, which the user commands call after this).
func revokeUserCredentials(ctx context.Context, q querier, userID int64) error {
	if _, err := q.Exec(ctx, `
UPDATE sessions SET revoked = true, data = '\x' WHERE user_id = $1 AND NOT revoked`, userID); err != nil {
		return err
	}
	_, err := q.Exec(ctx, `DELETE FROM remember_tokens WHERE user_id = $1`, userID)
	return err
}

// SessionTokensForUser lists the live session tokens of a user, so a cache in
// front of the sessions table can be invalidated after revokeUserCredentials.
func (db *DB) SessionTokensForUser(ctx context.Context, userID int64) ([]string, error) {
	rows, err := db.q(ctx).Query(ctx, `SELECT token FROM sessions WHERE user_id = $1 AND expiry > now()`, userID)
	if err != nil {
		return nil, unavailable(err)
	}
	tokens, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return tokens, unavailable(err)
}

// SetAdmin sets or clears users.is_admin; the change bumps the user's access
// generation (migration 00007), so it takes effect on the user's next
// request.
func (db *DB) SetAdmin(ctx context.Context, email string, admin bool) (int64, error) {
	var id int64
	err := db.q(ctx).QueryRow(ctx, `UPDATE users SET is_admin = $2 WHERE lower(email) = lower($1) RETURNING id`, email, admin).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, deal.Errorf(deal.ENOTFOUND, "No user with that email.")
	}
	return id, unavailable(err)
}
