package postgres

import (
	"context"
	"testing"

	"github.com/dealctx/dealctx/internal/postgres/pgtemplate"
)

// This package's own tests cannot import pgtest (it imports this package),
// so they get the same two helpers here, over the same pgtemplate.

// NewTestDatabase is pgtest.NewDatabase for this package's tests.
func NewTestDatabase(t testing.TB) string {
	t.Helper()
	return pgtemplate.NewDatabase(t)
}

// NewTestDB is pgtest.NewDB for this package's tests.
func NewTestDB(t testing.TB) *DB {
	t.Helper()
	db, err := Open(context.Background(), NewTestDatabase(t))
	if err != nil {
		t.Fatalf("test database: open: %v", err)
	}
	t.Cleanup(db.Close)
	return db
}
