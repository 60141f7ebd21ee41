package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// The sessions table is scs's layout plus a tombstone flag: a destroyed
// session's row stays (revoked, emptied) until it expires, so a request that
// was in flight during logout cannot write the session back. The device
// columns (created_at … remember_selector) are copied from the payload on
// every commit; internal/session decodes the payload itself.

// SessionRecord is what a commit stores beside a session's payload.
type SessionRecord struct {
	UserID           int64
	CreatedAt        time.Time // zero: now
	LastSeenAt       time.Time // zero: now
	IP               string
	UserAgent        string
	Remembered       bool   // signed in from a remember token
	RememberSelector string // the remember token bound to the session, or ""
}

// StoredSession is a live session's token and payload.
type StoredSession struct {
	Token string
	Data  []byte
}

// FindSession returns a live session's data; found is false for an unknown,
// expired or revoked token.
func (db *DB) FindSession(ctx context.Context, token string) (data []byte, found bool, err error) {
	err = db.q(ctx).QueryRow(ctx, `SELECT data FROM sessions WHERE token = $1 AND expiry > now() AND NOT revoked`, token).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, unavailable(err)
	}
	return data, true, nil
}

// CommitSession inserts or updates a session unless it was revoked; written
// is false when the token is a tombstone. It joins the transaction ctx
// carries (Transact).
func (db *DB) CommitSession(ctx context.Context, token string, data []byte, expiry time.Time, rec SessionRecord) (written bool, err error) {
	tag, err := db.q(ctx).Exec(ctx, `
INSERT INTO sessions (token, data, expiry, user_id, created_at, last_seen_at, ip, user_agent, remembered, remember_selector)
VALUES ($1, $2, $3, nullif($4::bigint, 0), coalesce($5, now()), coalesce($6, now()), $7, $8, $9, $10)
ON CONFLICT (token) DO UPDATE SET data = EXCLUDED.data, expiry = EXCLUDED.expiry, user_id = EXCLUDED.user_id,
	created_at = EXCLUDED.created_at, last_seen_at = EXCLUDED.last_seen_at, ip = EXCLUDED.ip,
	user_agent = EXCLUDED.user_agent, remembered = EXCLUDED.remembered, remember_selector = EXCLUDED.remember_selector
WHERE NOT sessions.revoked`, token, data, expiry, rec.UserID, nullTime(rec.CreatedAt), nullTime(rec.LastSeenAt),
		rec.IP, rec.UserAgent, rec.Remembered, rec.RememberSelector)
	if err != nil {
		return false, unavailable(err)
	}
	return tag.RowsAffected() == 1, nil
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// FindSessionsForUser returns the user's live sessions, newest first.
func (db *DB) FindSessionsForUser(ctx context.Context, userID int64) ([]StoredSession, error) {
	rows, err := db.q(ctx).Query(ctx, `
SELECT token, data FROM sessions WHERE user_id = $1 AND NOT revoked AND expiry > now()
ORDER BY created_at DESC, token`, userID)
	if err != nil {
		return nil, unavailable(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[StoredSession])
	return out, unavailable(err)
}

// RevokeSession turns a session into a tombstone that lives until expiry, or
// at least ttl from now for a token that was never stored.
func (db *DB) RevokeSession(ctx context.Context, token string, ttl time.Duration) error {
	return db.RevokeSessions(ctx, []string{token}, ttl)
}

// RevokeSessions is RevokeSession for many tokens in one statement.
func (db *DB) RevokeSessions(ctx context.Context, tokens []string, ttl time.Duration) error {
	if len(tokens) == 0 {
		return nil
	}
	// Alone, not in the caller's transaction: a revocation holds from the
	// moment it returns (the store tells Redis at once), and a caller's
	// rollback must not bring a destroyed session back (a token renewed
	// inside session.InTx is destroyed so).
	_, err := db.alone().Exec(ctx, `
INSERT INTO sessions (token, data, expiry, revoked)
SELECT t, '\x', now() + make_interval(secs => $2), true FROM unnest($1::text[]) AS t
ON CONFLICT (token) DO UPDATE SET data = '\x', revoked = true,
	expiry = greatest(sessions.expiry, EXCLUDED.expiry)`, tokens, ttl.Seconds())
	return unavailable(err)
}

// DeleteExpiredSessions deletes up to limit expired sessions (tombstones
// included) and returns how many it deleted. Each call is one short statement.
func (db *DB) DeleteExpiredSessions(ctx context.Context, limit int) (int64, error) {
	tag, err := db.q(ctx).Exec(ctx, `
DELETE FROM sessions WHERE ctid = ANY (ARRAY(
	SELECT ctid FROM sessions WHERE expiry < now() LIMIT $1 FOR UPDATE SKIP LOCKED))`, limit)
	return tag.RowsAffected(), unavailable(err)
}
