package postgres

import (
	"context"
	"slices"
	"testing"

	"github.com/dealctx/dealctx/internal/deal"
)

func TestFindAuditEventsFor(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	// Atlas (owner's, member belongs) and Borealis (the stranger's own,
	// deleted since: its owner still reads its trail).
	bor, err := f.db.CreateDeal(ctx, deal.Actor{UserID: f.stranger}, "Borealis")
	if err != nil {
		t.Fatalf("create deal: %v", err)
	}
	f.selectDeal(t, f.member)
	f.exec(t, `DELETE FROM audit_outbox`)
	for _, ev := range []struct {
		actor, deal int64
		action      string
	}{
		{f.owner, f.dealID, deal.ActionDealSelected},
		{f.member, f.dealID, deal.ActionDealSelected},
		{f.stranger, bor.ID, deal.ActionDealSelected},
		{f.admin, 0, deal.ActionLogin},
	} {
		if err := f.db.RecordEvent(ctx, deal.Actor{UserID: ev.actor}, ev.action, ev.deal, 0, nil); err != nil {
			t.Fatalf("record: %v", err)
		}
	}
	if err := f.db.DeleteDeal(ctx, deal.Actor{UserID: f.stranger}, bor.ID); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, err := f.db.MoveAuditEvents(ctx, 100); err != nil {
		t.Fatalf("move: %v", err)
	}

	type want struct {
		code    string   // "" for success
		actions []string // "action deal" newest first, deal as a name
	}
	names := map[int64]string{f.dealID: "Atlas", bor.ID: "Borealis"}
	cases := map[string]struct {
		viewer int64
		filter deal.AuditFilter
		want   want
	}{
		"admin reads all": {viewer: f.admin, filter: deal.AuditFilter{Limit: 10}, want: want{actions: []string{
			"deal.deleted Borealis", "auth.login -", "deal.selected Borealis", "deal.selected Atlas", "deal.selected Atlas"}}},
		"owner reads own deals": {viewer: f.owner, filter: deal.AuditFilter{Limit: 10}, want: want{actions: []string{
			"deal.selected Atlas", "deal.selected Atlas"}}},
		"owner reads one own deal": {viewer: f.owner, filter: deal.AuditFilter{DealID: f.dealID, Limit: 1}, want: want{actions: []string{
			"deal.selected Atlas"}}},
		"owner of a deleted deal reads it": {viewer: f.stranger, filter: deal.AuditFilter{DealID: bor.ID, Limit: 10}, want: want{actions: []string{
			"deal.deleted Borealis", "deal.selected Borealis"}}},
		"filters apply": {viewer: f.admin, filter: deal.AuditFilter{Action: deal.ActionDealSelected, ActorID: f.member, Limit: 10}, want: want{actions: []string{
			"deal.selected Atlas"}}},
		"owner with nothing to show": {viewer: f.owner, filter: deal.AuditFilter{Action: deal.ActionLogin, Limit: 10}, want: want{actions: []string{}}},
		"member is refused":          {viewer: f.member, filter: deal.AuditFilter{Limit: 10}, want: want{code: deal.EFORBIDDEN}},
		"member is refused a deal":   {viewer: f.member, filter: deal.AuditFilter{DealID: f.dealID, Limit: 10}, want: want{code: deal.EFORBIDDEN}},
		"another owner's deal":       {viewer: f.stranger, filter: deal.AuditFilter{DealID: f.dealID, Limit: 10}, want: want{code: deal.EFORBIDDEN}},
		"a deal that does not exist": {viewer: f.owner, filter: deal.AuditFilter{DealID: 999999, Limit: 10}, want: want{code: deal.EFORBIDDEN}},
		"unknown viewer":             {viewer: 999999, filter: deal.AuditFilter{Limit: 10}, want: want{code: deal.EUNAUTHORIZED}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			events, err := f.db.FindAuditEventsFor(ctx, tc.viewer, tc.filter)
			if got := deal.ErrorCode(err); got != tc.want.code {
				t.Fatalf("error code: got %q (%v), want %q", got, err, tc.want.code)
			}
			if tc.want.code != "" {
				return
			}
			got := []string{}
			for _, e := range events {
				n := "-"
				if e.DealID != nil {
					n = names[*e.DealID]
				}
				got = append(got, e.Action+" "+n)
			}
			if !slices.Equal(got, tc.want.actions) {
				t.Errorf("events: got %v, want %v", got, tc.want.actions)
			}
		})
	}
}
