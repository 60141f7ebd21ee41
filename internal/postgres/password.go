package postgres

import (
	"context"

	"github.com/dealctx/dealctx/internal/deal"
)

// ChangePassword replaces an enabled user's password hash and nothing else:
// the caller ends the user's other sessions (the session layer's
// RevokeOthers), so the session that changed it stays signed in. A user
// who is gone or disabled is deal.EUNAUTHORIZED.
func (db *DB) ChangePassword(ctx context.Context, userID int64, passwordHash string) error {
	tag, err := db.q(ctx).Exec(ctx, `UPDATE users SET password_hash = $2 WHERE id = $1 AND disabled_at IS NULL`, userID, passwordHash)
	if err != nil {
		return unavailable(err)
	}
	if tag.RowsAffected() == 0 {
		return deal.Errorf(deal.EUNAUTHORIZED, "Sign in first.")
	}
	return nil
}
