package postgres

import (
	"context"
	"testing"
)

func TestSetRememberLastDealOffForgetsTheLastDeal(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	f.selectDeal(t, f.owner)
	u, err := f.db.SetRememberLastDeal(ctx, f.owner, false)
	if err != nil || u.RememberLastDeal {
		t.Fatalf("preference off: got (%v, %v), want (false, nil)", u.RememberLastDeal, err)
	}
	if got := f.lastDeal(t, f.owner); got != 0 {
		t.Fatalf("turning remembering off: last_deal_id got %d, want NULL", got)
	}
}

func TestHardDeletedDealSetsLastDealNull(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	f.selectDeal(t, f.owner)
	f.exec(t, `DELETE FROM deal_members WHERE deal_id = $1`, f.dealID)
	if _, err := f.db.Pool.Exec(ctx, `DELETE FROM deals WHERE id = $1`, f.dealID); err != nil {
		t.Fatalf("hard delete: %v", err)
	}
	if got := f.lastDeal(t, f.owner); got != 0 {
		t.Fatalf("after hard delete: last_deal_id got %d, want NULL (ON DELETE SET NULL)", got)
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
	if err := db.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM information_schema.columns
		WHERE table_name = 'users' AND column_name = 'last_deal_id')`).Scan(&exists); err != nil {
		t.Fatalf("query: %v", err)
	}
	if exists {
		t.Fatalf("after down: users.last_deal_id exists, want dropped")
	}
	if err := db.Pool.QueryRow(ctx, `SELECT to_regclass('session_invalidations') IS NOT NULL`).Scan(&exists); err != nil {
		t.Fatalf("query: %v", err)
	}
	if exists {
		t.Fatalf("after down: session_invalidations exists, want dropped")
	}
	if err := db.Pool.QueryRow(ctx, `SELECT to_regclass('usage_counters') IS NOT NULL`).Scan(&exists); err != nil {
		t.Fatalf("query: %v", err)
	}
	if exists {
		t.Fatalf("after down: usage_counters exists, want dropped")
	}
	for i := 0; i < 2; i++ {
		if _, err := db.Migrate(ctx, "up"); err != nil {
			t.Fatalf("up #%d: %v", i+1, err)
		}
	}
	if err := db.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_indexes WHERE indexname = 'idx_users_last_deal')`).Scan(&exists); err != nil {
		t.Fatalf("query: %v", err)
	}
	if !exists {
		t.Fatalf("after up: idx_users_last_deal missing")
	}
	if err := db.Pool.QueryRow(ctx, `SELECT to_regclass('session_invalidations') IS NOT NULL`).Scan(&exists); err != nil {
		t.Fatalf("query: %v", err)
	}
	if !exists {
		t.Fatalf("after up: session_invalidations missing")
	}
	if err := db.Pool.QueryRow(ctx, `SELECT to_regclass('usage_counters') IS NOT NULL`).Scan(&exists); err != nil {
		t.Fatalf("query: %v", err)
	}
	if !exists {
		t.Fatalf("after up: usage_counters missing")
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
