package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
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

// withDatabase is rawURL naming database name instead.
func withDatabase(rawURL, name string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		panic(err)
	}
	u.Path = "/" + name
	return u.String()
}

// randomHex is n random bytes in hex, for unique names.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
