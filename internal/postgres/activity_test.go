package postgres

import (
	"context"
	"testing"

	"github.com/dealctx/dealctx/internal/deal"
)

// TestFindDealActivityReadsLogAndOutboxOnce: events show whether the worker
// moved them yet or not, each once, newest first, with people named, and
// only the deal's own.
func TestFindDealActivityReadsLogAndOutboxOnce(t *testing.T) {
	t.Parallel()
	db := NewTestDB(t)
	ctx := context.Background()
	owner, err := db.CreateUser(ctx, "ann@example.com", "Ann", "x", false)
	if err != nil {
		t.Fatalf("create user: %v", err)
	}
	bob, err := db.CreateUser(ctx, "bob@example.com", "", "x", false)
	if err != nil {
		t.Fatalf("create user: %v", err)
	}
	a := deal.Actor{UserID: owner.ID}
	d, err := db.CreateDeal(ctx, a, "Atlas")
	if err != nil {
		t.Fatalf("create deal: %v", err)
	}
	other, err := db.CreateDeal(ctx, a, "Other")
	if err != nil {
		t.Fatalf("create deal: %v", err)
	}
	if _, err := db.MoveAuditEvents(ctx, 100); err != nil { // deal.created now in audit_log
		t.Fatalf("move: %v", err)
	}
	if _, err := db.AddMember(ctx, a, d.ID, "bob@example.com", deal.RoleMember); err != nil { // still in the outbox
		t.Fatalf("add member: %v", err)
	}
	if _, err := db.SelectDeal(ctx, a, other.ID, deal.ActionDealSelected); err != nil {
		t.Fatalf("select: %v", err)
	}
	// An event being moved sits in both tables for a moment: shown once.
	if _, err := db.Pool.Exec(ctx, `INSERT INTO audit_log (id, occurred_at, action, actor_user_id, deal_id, target_user_id)
		SELECT id, occurred_at, action, actor_user_id, deal_id, target_user_id FROM audit_outbox WHERE deal_id = $1`, d.ID); err != nil {
		t.Fatalf("copy: %v", err)
	}

	events, err := db.FindDealActivity(ctx, d.ID, 10)
	if err != nil {
		t.Fatalf("find: %v", err)
	}
	if len(events) != 2 {
		t.Fatalf("events: got %d %+v, want 2 (member.added, deal.created)", len(events), events)
	}
	added, created := events[0], events[1]
	if added.Action != deal.ActionMemberAdded || added.ActorName != "Ann" || added.TargetID != bob.ID || added.TargetEmail != "bob@example.com" {
		t.Errorf("newest: got %+v, want member.added of bob by Ann", added)
	}
	if created.Action != deal.ActionDealCreated || created.ActorID != owner.ID {
		t.Errorf("oldest: got %+v, want deal.created by Ann", created)
	}
	if got, err := db.FindDealActivity(ctx, d.ID, 1); err != nil || len(got) != 1 || got[0].Action != deal.ActionMemberAdded {
		t.Errorf("limit 1: got %+v, %v, want only member.added", got, err)
	}
}
