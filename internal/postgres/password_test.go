package postgres

import (
	"context"
	"testing"

	"github.com/dealctx/dealctx/internal/deal"
)

func TestChangePasswordReplacesOnlyTheHash(t *testing.T) {
	t.Parallel()
	f := setup(t)
	db, uid := f.db, f.owner
	ctx := context.Background()
	if err := db.ChangePassword(ctx, uid, "new-hash"); err != nil {
		t.Fatalf("change: %v", err)
	}
	_, hash, found, err := db.FindUserForLogin(ctx, "OWNER@example.com")
	if err != nil || !found || hash != "new-hash" {
		t.Fatalf("after the change: got (%q, %v, %v), want (\"new-hash\", true, nil)", hash, found, err)
	}
	if _, err := db.SetDisabled(ctx, "owner@example.com", true); err != nil {
		t.Fatalf("disable: %v", err)
	}
	tests := []struct {
		name   string
		userID int64
	}{
		{"disabled user", uid},
		{"unknown user", uid + 1000},
	}
	for _, tt := range tests {
		if err := db.ChangePassword(ctx, tt.userID, "other-hash"); deal.ErrorCode(err) != deal.EUNAUTHORIZED {
			t.Errorf("%s: got %v, want %s", tt.name, err, deal.EUNAUTHORIZED)
		}
	}
}
