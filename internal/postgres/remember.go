package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/dealctx/dealctx/internal/auth"
	"github.com/jackc/pgx/v5"
)

// CreateRememberToken stores a new remember token for the user; only the
// validator's hash is kept.
func (db *DB) CreateRememberToken(ctx context.Context, userID int64, t auth.RememberToken, expires time.Time) error {
	_, err := db.q(ctx).Exec(ctx, `
INSERT INTO remember_tokens (user_id, selector, validator_hash, expires_at) VALUES ($1, $2, $3, $4)`,
		userID, t.Selector, auth.HashValidator(t.Validator), expires)
	return unavailable(err)
}

// RememberResult says what a presented remember token is worth.
type RememberResult struct {
	UserID int64
	// NewValidator is set when the token was rotated: the cookie must be
	// rewritten with it.
	NewValidator string
	// Theft is true when an old validator was replayed after the grace
	// window: every remember token of the user has been revoked.
	Theft bool
	// TheftUserID is the user whose tokens a theft revoked (UserID stays 0):
	// the caller ends that user's remembered sessions.
	TheftUserID int64
}

// UseRememberToken checks a presented token. A current validator is rotated
// (the old one stays valid for grace, so parallel tabs keep working); the
// previous validator within grace is accepted without rotation; any other
// validator for a known selector is treated as theft and revokes all the
// user's tokens. UserID is zero when the token is not accepted. Inside a
// transaction ctx carries (Transact) it is a savepoint of that transaction.
func (db *DB) UseRememberToken(ctx context.Context, t auth.RememberToken, grace time.Duration) (RememberResult, error) {
	var res RememberResult
	err := pgx.BeginFunc(ctx, db.q(ctx), func(tx pgx.Tx) error {
		var id, userID int64
		var cur, prev []byte
		var rotatedAt *time.Time
		err := tx.QueryRow(ctx, `
SELECT r.id, r.user_id, r.validator_hash, r.prev_validator_hash, r.rotated_at
FROM remember_tokens r JOIN users u ON u.id = r.user_id AND u.disabled_at IS NULL
WHERE r.selector = $1 AND r.expires_at > now() FOR UPDATE OF r`, t.Selector).Scan(&id, &userID, &cur, &prev, &rotatedAt)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		} else if err != nil {
			return err
		}
		switch {
		case auth.ValidatorMatches(t.Validator, cur):
			v, err := auth.NewValidator()
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `
UPDATE remember_tokens SET prev_validator_hash = validator_hash, validator_hash = $2, rotated_at = now() WHERE id = $1`,
				id, auth.HashValidator(v)); err != nil {
				return err
			}
			res = RememberResult{UserID: userID, NewValidator: v}
		case prev != nil && rotatedAt != nil && time.Since(*rotatedAt) < grace && auth.ValidatorMatches(t.Validator, prev):
			res = RememberResult{UserID: userID}
		default:
			if _, err := tx.Exec(ctx, `DELETE FROM remember_tokens WHERE user_id = $1`, userID); err != nil {
				return err
			}
			res = RememberResult{Theft: true, TheftUserID: userID}
		}
		return nil
	})
	if err != nil {
		return RememberResult{}, unavailable(err)
	}
	return res, nil
}

// RevokeRememberToken deletes the token with the given selector.
func (db *DB) RevokeRememberToken(ctx context.Context, selector string) error {
	_, err := db.q(ctx).Exec(ctx, `DELETE FROM remember_tokens WHERE selector = $1`, selector)
	return unavailable(err)
}

// RevokeRememberTokensExcept deletes every remember token of the user but
// the one with selector keep ("" keeps none).
func (db *DB) RevokeRememberTokensExcept(ctx context.Context, userID int64, keep string) error {
	_, err := db.q(ctx).Exec(ctx, `DELETE FROM remember_tokens WHERE user_id = $1 AND selector <> $2`, userID, keep)
	return unavailable(err)
}

// DeleteExpiredRememberTokens removes up to limit expired remember tokens.
func (db *DB) DeleteExpiredRememberTokens(ctx context.Context, limit int) (int64, error) {
	tag, err := db.q(ctx).Exec(ctx, `
DELETE FROM remember_tokens WHERE id IN (SELECT id FROM remember_tokens WHERE expires_at < now() LIMIT $1)`, limit)
	return tag.RowsAffected(), unavailable(err)
}
