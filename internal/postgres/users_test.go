package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/dealctx/dealctx/internal/deal"
)

// setup returns a fresh database with one user who owns one deal.
func setup(t *testing.T) (db *DB, userID, dealID int64) {
	t.Helper()
	db = NewTestDB(t)
	ctx := context.Background()
	u, err := db.CreateUser(ctx, "owner@example.com", "Owner", "x", false)
	if err != nil {
		t.Fatalf("create user: %v", err)
	}
	d, err := db.CreateDeal(ctx, deal.Actor{UserID: u.ID}, "Atlas")
	if err != nil {
		t.Fatalf("create deal: %v", err)
	}
	return db, u.ID, d.ID
}

func TestSetLastDealRecordsDealAndAccessTime(t *testing.T) {
	t.Parallel()
	db, uid, did := setup(t)
	ctx := context.Background()
	before := time.Now().Add(-time.Minute)
	if err := db.SetLastDeal(ctx, uid, did); err != nil {
		t.Fatalf("set: %v", err)
	}
	got, at, ok, err := db.GetLastDeal(ctx, uid)
	if err != nil || !ok || got != did {
		t.Fatalf("get: got (%d, %v, %v), want (%d, true, nil)", got, ok, err, did)
	}
	if at.Before(before) {
		t.Fatalf("last_deal_accessed_at: got %v, want after %v", at, before)
	}
}

func TestGetLastDealWithNoneStored(t *testing.T) {
	t.Parallel()
	db, uid, _ := setup(t)
	_, _, ok, err := db.GetLastDeal(context.Background(), uid)
	if err != nil || ok {
		t.Fatalf("get: got (ok=%v, %v), want (false, nil)", ok, err)
	}
}

func TestClearLastDeal(t *testing.T) {
	t.Parallel()
	db, uid, did := setup(t)
	ctx := context.Background()
	db.SetLastDeal(ctx, uid, did)
	if err := db.ClearLastDeal(ctx, uid); err != nil {
		t.Fatalf("clear: %v", err)
	}
	if _, _, ok, _ := db.GetLastDeal(ctx, uid); ok {
		t.Fatalf("after clear: got a last deal, want none")
	}
}

func TestSetLastDealHonoursRememberPreference(t *testing.T) {
	t.Parallel()
	db, uid, did := setup(t)
	ctx := context.Background()
	db.SetLastDeal(ctx, uid, did)
	u, err := db.SetRememberLastDeal(ctx, uid, false)
	if err != nil || u.RememberLastDeal {
		t.Fatalf("preference off: got (%v, %v), want (false, nil)", u.RememberLastDeal, err)
	}
	if _, _, ok, _ := db.GetLastDeal(ctx, uid); ok {
		t.Fatalf("turning remembering off: last deal kept, want cleared")
	}
	db.SetLastDeal(ctx, uid, did)
	if _, _, ok, _ := db.GetLastDeal(ctx, uid); ok {
		t.Fatalf("with remembering off: SetLastDeal stored a deal, want nothing stored")
	}
}

func TestHardDeletedDealSetsLastDealNull(t *testing.T) {
	t.Parallel()
	db, uid, did := setup(t)
	ctx := context.Background()
	db.SetLastDeal(ctx, uid, did)
	if _, err := db.Pool.Exec(ctx, `DELETE FROM deals WHERE id = $1`, did); err != nil {
		t.Fatalf("hard delete: %v", err)
	}
	if _, _, ok, err := db.GetLastDeal(ctx, uid); ok || err != nil {
		t.Fatalf("after hard delete: got (ok=%v, %v), want no last deal (ON DELETE SET NULL)", ok, err)
	}
}

func TestMigrateDownAndUpAgain(t *testing.T) {
	t.Parallel()
	db := NewTestDB(t)
	ctx := context.Background()
	// Step down to version 1 (past any later migrations), then up again.
	for {
		statuses, err := db.Migrate(ctx, "status")
		if err != nil {
			t.Fatalf("status: %v", err)
		}
		applied := 0
		for _, s := range statuses {
			if !s.AppliedAt.IsZero() {
				applied++
			}
		}
		if applied <= 1 {
			break
		}
		if _, err := db.Migrate(ctx, "down"); err != nil {
			t.Fatalf("down from %d applied: %v", applied, err)
		}
	}
	var exists bool
	db.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM information_schema.columns
		WHERE table_name = 'users' AND column_name = 'last_deal_id')`).Scan(&exists)
	if exists {
		t.Fatalf("after down: users.last_deal_id exists, want dropped")
	}
	db.Pool.QueryRow(ctx, `SELECT to_regclass('session_invalidations') IS NOT NULL`).Scan(&exists)
	if exists {
		t.Fatalf("after down: session_invalidations exists, want dropped")
	}
	for i := 0; i < 2; i++ {
		if _, err := db.Migrate(ctx, "up"); err != nil {
			t.Fatalf("up #%d: %v", i+1, err)
		}
	}
	db.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_indexes WHERE indexname = 'idx_users_last_deal')`).Scan(&exists)
	if !exists {
		t.Fatalf("after up: idx_users_last_deal missing")
	}
	db.Pool.QueryRow(ctx, `SELECT to_regclass('session_invalidations') IS NOT NULL`).Scan(&exists)
	if !exists {
		t.Fatalf("after up: session_invalidations missing")
	}
}

func TestEmailIsUniqueCaseInsensitively(t *testing.T) {
	t.Parallel()
	db := NewTestDB(t)
	ctx := context.Background()
	if _, err := db.CreateUser(ctx, "Ann@Example.com", "", "x", false); err != nil {
		t.Fatalf("create: %v", err)
	}
	if _, err := db.CreateUser(ctx, "ann@example.COM", "", "x", false); err != ErrEmailTaken {
		t.Fatalf("duplicate: got %v, want ErrEmailTaken", err)
	}
}
