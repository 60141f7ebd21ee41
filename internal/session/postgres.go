package session

import (
	"context"
	"time"

	"github.com/dealctx/dealctx/internal/postgres"
)

// PostgresStore keeps sessions in the sessions table. Deleting a session
// leaves a tombstone until its expiry, and commits never overwrite a
// tombstone, so a logout stays a logout even when a request of the same
// session commits after it.
type PostgresStore struct {
	db *postgres.DB
	// TombstoneTTL is how long a tombstone for a never-stored token lives.
	TombstoneTTL time.Duration
}

// NewPostgresStore returns a store over db's pool.
func NewPostgresStore(db *postgres.DB, lifetime time.Duration) *PostgresStore {
	return &PostgresStore{db: db, TombstoneTTL: lifetime}
}

// FindCtx returns a live session's data.
func (s *PostgresStore) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	return s.db.FindSession(ctx, token)
}

// CommitCtx stores the session unless it was revoked.
func (s *PostgresStore) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	_, err := s.commitWritten(ctx, token, b, expiry)
	return err
}

// commitWritten is CommitCtx reporting whether the session was written
// (false for a tombstone), for the tiered store.
func (s *PostgresStore) commitWritten(ctx context.Context, token string, b []byte, expiry time.Time) (bool, error) {
	r, _ := decodeRecord(b)
	return s.db.CommitSession(ctx, token, b, expiry, r.row())
}

// DeleteCtx revokes the session.
func (s *PostgresStore) DeleteCtx(ctx context.Context, token string) error {
	return s.db.RevokeSession(ctx, token, s.TombstoneTTL)
}

// userTokens lists the user's unexpired tokens, revoked ones included, so a
// revocation reaches the copies of sessions already tombstoned here.
func (s *PostgresStore) userTokens(ctx context.Context, userID int64) ([]string, error) {
	return s.db.SessionTokensForUser(ctx, userID)
}

// userSessions returns the user's live sessions, newest first.
func (s *PostgresStore) userSessions(ctx context.Context, userID int64) ([]postgres.StoredSession, error) {
	return s.db.FindSessionsForUser(ctx, userID)
}

// revokeAll tombstones every token.
func (s *PostgresStore) revokeAll(ctx context.Context, tokens []string) error {
	return s.db.RevokeSessions(ctx, tokens, s.TombstoneTTL)
}

// Find implements scs.Store.
func (s *PostgresStore) Find(token string) ([]byte, bool, error) {
	return s.FindCtx(context.Background(), token)
}

// Commit implements scs.Store.
func (s *PostgresStore) Commit(token string, b []byte, expiry time.Time) error {
	return s.CommitCtx(context.Background(), token, b, expiry)
}

// Delete implements scs.Store.
func (s *PostgresStore) Delete(token string) error {
	return s.DeleteCtx(context.Background(), token)
}
