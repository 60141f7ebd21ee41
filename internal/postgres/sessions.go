package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// The sessions table is scs's layout plus a tombstone flag: a destroyed
// session's row stays (revoked, emptied) until it expires, so a request that
// was in flight during logout cannot write the session back.

// FindSession returns a live session's data; found is false for an unknown,
// expired or revoked token.
func (db *DB) FindSession(ctx context.Context, token string) (data []byte, found bool, err error) {
	err = db.Pool.QueryRow(ctx, `SELECT data FROM sessions WHERE token = $1 AND expiry > now() AND NOT revoked`, token).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, unavailable(err)
	}
	return data, true, nil
}

// CommitSession inserts or updates a session unless it was revoked; written
// is false when the token is a tombstone.
func (db *DB) CommitSession(ctx context.Context, token string, data []byte, expiry time.Time, userID int64) (written bool, err error) {
	tag, err := db.Pool.Exec(ctx, `
INSERT INTO sessions (token, data, expiry, user_id) VALUES ($1, $2, $3, nullif($4::bigint, 0))
ON CONFLICT (token) DO UPDATE SET data = EXCLUDED.data, expiry = EXCLUDED.expiry, user_id = EXCLUDED.user_id
WHERE NOT sessions.revoked`, token, data, expiry, userID)
	if err != nil {
		return false, unavailable(err)
	}
	return tag.RowsAffected() == 1, nil
}

// RevokeSession turns a session into a tombstone that lives until expiry, or
// at least ttl from now for a token that was never stored.
func (db *DB) RevokeSession(ctx context.Context, token string, ttl time.Duration) error {
	_, err := db.Pool.Exec(ctx, `
INSERT INTO sessions (token, data, expiry, revoked) VALUES ($1, '\x', now() + make_interval(secs => $2), true)
ON CONFLICT (token) DO UPDATE SET data = '\x', revoked = true,
	expiry = greatest(sessions.expiry, EXCLUDED.expiry)`, token, ttl.Seconds())
	return unavailable(err)
}

// DeleteExpiredSessions deletes up to limit expired sessions (tombstones
// included) and returns how many it deleted. Each call is one short statement.
func (db *DB) DeleteExpiredSessions(ctx context.Context, limit int) (int64, error) {
	tag, err := db.Pool.Exec(ctx, `
DELETE FROM sessions WHERE ctid = ANY (ARRAY(
	SELECT ctid FROM sessions WHERE expiry < now() LIMIT $1 FOR UPDATE SKIP LOCKED))`, limit)
	return tag.RowsAffected(), unavailable(err)
}
