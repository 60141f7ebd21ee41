// Package pgtest gives tests their own PostgreSQL database: fresh, migrated
// and dropped when the test ends. It imports testing, so only tests import
// it; the binaries never link it.
package pgtest

import (
	"context"
	"testing"

	"github.com/dealctx/dealctx/internal/deal"
	"github.com/dealctx/dealctx/internal/postgres"
	"github.com/dealctx/dealctx/internal/postgres/pgtemplate"
	"github.com/jackc/pgx/v5"
)

// NewDatabase creates a fresh, migrated database for one test on the
// server at TEST_DATABASE_URL, drops it when the test ends, and returns its
// URL. A server that cannot be reached fails the test loudly.
func NewDatabase(t testing.TB) string {
	t.Helper()
	return pgtemplate.NewDatabase(t)
}

// NewDB is NewDatabase opened as a *postgres.DB, closed when the test ends.
func NewDB(t testing.TB) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(context.Background(), NewDatabase(t))
	if err != nil {
		t.Fatalf("test database: open: %v", err)
	}
	t.Cleanup(db.Close)
	return db
}

// RequireSelectedOnce fails t unless audit_log holds exactly one
// deal.selected event for each request id.
func RequireSelectedOnce(t testing.TB, db *postgres.DB, requestIDs []string) {
	t.Helper()
	rows, err := db.Pool.Query(context.Background(), `
SELECT r, (SELECT count(*) FROM audit_log WHERE request_id = r AND action = $2)
FROM unnest($1::text[]) r`, requestIDs, deal.ActionDealSelected)
	if err != nil {
		t.Fatal(err)
	}
	counted, err := pgx.CollectRows(rows, pgx.RowToStructByPos[struct {
		ID string
		N  int64
	}])
	if err != nil {
		t.Fatal(err)
	}
	counts := make(map[string]int64, len(counted))
	for _, c := range counted {
		counts[c.ID] = c.N
	}
	for _, id := range requestIDs {
		if n := counts[id]; n != 1 {
			t.Errorf("request %s: got %d deal.selected events in audit_log, want 1", id, n)
		}
	}
}
