package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
)

// A Redis target's epoch is the highest epoch of the identities recorded
// for it (migration 00006). Each statement below stands alone, so all of
// them work through PgBouncer in transaction mode.

// ObserveRedisIdentity records that target's Redis now has identity and
// returns the target's epoch: unchanged when the identity was recorded
// before (by any process), one past the highest when it is new. The read
// is a statement of its own, after the insert, so a concurrent insert of the
// same identity that the insert waited for is seen.
func (db *DB) ObserveRedisIdentity(ctx context.Context, target, identity string) (uint64, error) {
	// Alone, as RedisEpoch: an epoch is a fact about Redis that copies are
	// stamped with at once, never part of a caller's transaction.
	if _, err := db.alone().Exec(ctx, `
INSERT INTO redis_identities (target, identity, epoch)
SELECT $1, $2, coalesce(max(epoch), 0) + 1 FROM redis_identities WHERE target = $1
ON CONFLICT (target, identity) DO NOTHING`, target, identity); err != nil {
		return 0, unavailable(err)
	}
	return db.RedisEpoch(ctx, target)
}

// RedisEpoch returns target's epoch, 0 when no identity was recorded yet.
func (db *DB) RedisEpoch(ctx context.Context, target string) (uint64, error) {
	var epoch int64
	err := db.alone().QueryRow(ctx, `SELECT coalesce(max(epoch), 0) FROM redis_identities WHERE target = $1`, target).Scan(&epoch)
	if err != nil {
		return 0, unavailable(err)
	}
	return uint64(epoch), nil
}

// BumpRedisEpoch moves target's epoch one past the highest, as if a new
// Redis had been met, and returns it: every copy stamped before is
// distrusted by every process within its next check.
func (db *DB) BumpRedisEpoch(ctx context.Context, target string) (uint64, error) {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return db.ObserveRedisIdentity(ctx, target, "bump:"+hex.EncodeToString(b[:]))
}

// RevokedSessions returns which of tokens PostgreSQL holds a tombstone for
// (a revoked, unexpired row of sessions).
func (db *DB) RevokedSessions(ctx context.Context, tokens []string) (map[string]bool, error) {
	rows, err := db.q(ctx).Query(ctx, `SELECT token FROM sessions WHERE token = ANY($1) AND revoked AND expiry > now()`, tokens)
	if err != nil {
		return nil, unavailable(err)
	}
	defer rows.Close()
	out := make(map[string]bool)
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, unavailable(err)
		}
		out[t] = true
	}
	return out, unavailable(rows.Err())
}
