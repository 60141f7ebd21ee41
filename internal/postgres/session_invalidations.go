package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// SessionInvalidation is a queued change that a Redis cache of sessions has
// not seen: Revoke means the session was destroyed (tombstone the key),
// otherwise the cached copy is merely out of date (delete the key).
type SessionInvalidation struct {
	Token  string
	Revoke bool
	Expiry time.Time
	Seq    int64
}

// Every invalidation is queued for a target, the identity of one Redis (key
// prefix and server); a process replays only its own target's rows, so two
// deployments that share the database but not Redis never take each other's.

// QueueSessionInvalidation records that token's cached copy in target must
// be invalidated. A revoke is never downgraded to an evict.
func (db *DB) QueueSessionInvalidation(ctx context.Context, target, token string, revoke bool, expiry time.Time) error {
	return db.QueueSessionInvalidations(ctx, target, []string{token}, revoke, expiry)
}

// QueueSessionInvalidations is QueueSessionInvalidation for many tokens in
// one statement.
func (db *DB) QueueSessionInvalidations(ctx context.Context, target string, tokens []string, revoke bool, expiry time.Time) error {
	if len(tokens) == 0 {
		return nil
	}
	// Alone, not in the caller's transaction: the queue stands for a Redis
	// write that already failed, which a caller's rollback does not undo.
	_, err := db.alone().Exec(ctx, `
INSERT INTO session_invalidations (token, revoke, expiry, target) SELECT t, $3, $4, $1 FROM unnest($2::text[]) AS t
ON CONFLICT (token) DO UPDATE SET revoke = session_invalidations.revoke OR EXCLUDED.revoke,
	expiry = greatest(session_invalidations.expiry, EXCLUDED.expiry), seq = EXCLUDED.seq, target = EXCLUDED.target`,
		target, tokens, revoke, expiry)
	return unavailable(err)
}

// PendingSessionInvalidations returns up to limit of target's queued
// invalidations that have not expired, oldest first.
func (db *DB) PendingSessionInvalidations(ctx context.Context, target string, limit int) ([]SessionInvalidation, error) {
	rows, err := db.q(ctx).Query(ctx, `
SELECT token, revoke, expiry, seq FROM session_invalidations WHERE target = $1 AND expiry > now() ORDER BY seq LIMIT $2`,
		target, limit)
	if err != nil {
		return nil, unavailable(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[SessionInvalidation])
	return out, unavailable(err)
}

// DeleteSessionInvalidations removes invalidations once replayed. A row
// queued again since it was read (its seq changed) stays.
func (db *DB) DeleteSessionInvalidations(ctx context.Context, done []SessionInvalidation) error {
	if len(done) == 0 {
		return nil
	}
	tokens := make([]string, len(done))
	seqs := make([]int64, len(done))
	for i, d := range done {
		tokens[i], seqs[i] = d.Token, d.Seq
	}
	_, err := db.q(ctx).Exec(ctx, `
DELETE FROM session_invalidations s USING unnest($1::text[], $2::bigint[]) AS d(token, seq)
WHERE s.token = d.token AND s.seq = d.seq`, tokens, seqs)
	return unavailable(err)
}

// DeleteExpiredSessionInvalidations removes queued invalidations whose
// sessions have expired anyway (their cached copies expire with them).
func (db *DB) DeleteExpiredSessionInvalidations(ctx context.Context) (int64, error) {
	tag, err := db.q(ctx).Exec(ctx, `DELETE FROM session_invalidations WHERE expiry <= now()`)
	return tag.RowsAffected(), unavailable(err)
}
