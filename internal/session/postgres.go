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
	_, err := s.CommitWritten(ctx, token, b, expiry)
	return err
}

// CommitWritten is CommitCtx reporting whether the session was written
// (false for a tombstone), for stores layered on top of this one.
func (s *PostgresStore) CommitWritten(ctx context.Context, token string, b []byte, expiry time.Time) (bool, error) {
	return s.db.CommitSession(ctx, token, b, expiry, UserIDFromData(b))
}

// DeleteCtx revokes the session.
func (s *PostgresStore) DeleteCtx(ctx context.Context, token string) error {
	return s.db.RevokeSession(ctx, token, s.TombstoneTTL)
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
