package session

import (
	"context"
	"testing"
	"time"

	"github.com/dealctx/dealctx/internal/postgres/pgtest"
)

// TestCachedIDsFollowEveryWrite: the per-request cache of user and deal ids
// never serves a value the session no longer holds.
func TestCachedIDsFollowEveryWrite(t *testing.T) {
	t.Parallel()
	m := NewManager(NewPostgresStore(pgtest.NewDB(t), time.Hour), "postgres", Options{Lifetime: time.Hour})
	ctx, err := m.load(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	check := func(step string, wantUser, wantDeal int64) {
		t.Helper()
		if u, d := m.UserID(ctx), m.DealID(ctx); u != wantUser || d != wantDeal {
			t.Fatalf("%s: got user %d deal %d, want user %d deal %d", step, u, d, wantUser, wantDeal)
		}
	}
	check("new session", 0, 0)
	if err := m.SignIn(ctx, 7); err != nil {
		t.Fatal(err)
	}
	check("signed in", 7, 0)
	m.SetDeal(ctx, 42)
	check("deal set", 7, 42)
	m.ClearDeal(ctx)
	check("deal cleared", 7, 0)
	m.put(ctx, keyDealID, int64(9))
	check("put", 7, 9)
	m.remove(ctx, keyUserID)
	check("user removed", 0, 9)
	m.put(ctx, keyUserID, int64(8))
	if err := m.Destroy(ctx); err != nil {
		t.Fatal(err)
	}
	check("destroyed", 0, 0)
}
