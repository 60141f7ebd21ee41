package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/dealctx/dealctx/internal/deal"
)

// rawGens reads the record directly: the user's, Atlas's and the global
// generation.
func (f *fixture) rawGens(t *testing.T, userID int64) Gens {
	t.Helper()
	var g Gens
	if err := f.db.Pool.QueryRow(context.Background(), `
SELECT (SELECT access_gen FROM users WHERE id = $1), (SELECT access_gen FROM deals WHERE id = $2),
	(SELECT gen FROM access_global)`, userID, f.dealID).Scan(&g.User, &g.Deal, &g.Global); err != nil {
		t.Fatalf("read gens: %v", err)
	}
	return g
}

func TestRevokingChangesBumpAGeneration(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cases := map[string]struct {
		change func(t *testing.T, f *fixture)
		want   func(before Gens) Gens
		kind   byte
	}{
		"member removed": {
			change: func(t *testing.T, f *fixture) {
				if err := f.db.RemoveMember(ctx, deal.Actor{UserID: f.owner}, f.dealID, f.member); err != nil {
					t.Fatalf("remove member: %v", err)
				}
			},
			want: func(g Gens) Gens { g.Deal++; return g }, kind: GenDeal,
		},
		"role changed by hand": {
			change: func(t *testing.T, f *fixture) {
				f.exec(t, `UPDATE deal_members SET role = 'owner' WHERE deal_id = $1 AND user_id = $2`, f.dealID, f.member)
			},
			want: func(g Gens) Gens { g.Deal++; return g }, kind: GenDeal,
		},
		"deal deleted": {
			change: func(t *testing.T, f *fixture) {
				if err := f.db.DeleteDeal(ctx, deal.Actor{UserID: f.owner}, f.dealID); err != nil {
					t.Fatalf("delete deal: %v", err)
				}
			},
			want: func(g Gens) Gens { g.Deal++; return g }, kind: GenDeal,
		},
		"user disabled": {
			change: func(t *testing.T, f *fixture) {
				if _, err := f.db.SetDisabled(ctx, "member@example.com", true); err != nil {
					t.Fatalf("disable: %v", err)
				}
			},
			want: func(g Gens) Gens { g.User++; return g }, kind: GenUser,
		},
		"admin demoted": {
			change: func(t *testing.T, f *fixture) {
				if _, err := f.db.SetAdmin(ctx, "member@example.com", true); err != nil {
					t.Fatalf("promote: %v", err)
				}
				f.exec(t, `DELETE FROM access_outbox`)
				if _, err := f.db.SetAdmin(ctx, "member@example.com", false); err != nil {
					t.Fatalf("demote: %v", err)
				}
			},
			want: func(g Gens) Gens { g.User += 2; return g }, kind: GenUser,
		},
		"password changed": {
			change: func(t *testing.T, f *fixture) {
				if _, err := f.db.SetPassword(ctx, "member@example.com", "other"); err != nil {
					t.Fatalf("set password: %v", err)
				}
			},
			want: func(g Gens) Gens { g.User++; return g }, kind: GenUser,
		},
		"access reset for the user": {
			change: func(t *testing.T, f *fixture) {
				if _, err := f.db.ResetUserAccess(ctx, "MEMBER@example.com"); err != nil {
					t.Fatalf("reset: %v", err)
				}
			},
			want: func(g Gens) Gens { g.User++; return g }, kind: GenUser,
		},
		"access reset for the deal": {
			change: func(t *testing.T, f *fixture) {
				if err := f.db.ResetDealAccess(ctx, f.dealID); err != nil {
					t.Fatalf("reset: %v", err)
				}
			},
			want: func(g Gens) Gens { g.Deal++; return g }, kind: GenDeal,
		},
		"access reset for all": {
			change: func(t *testing.T, f *fixture) {
				if err := f.db.ResetAllAccess(ctx); err != nil {
					t.Fatalf("reset: %v", err)
				}
			},
			want: func(g Gens) Gens { g.Global++; return g }, kind: GenGlobal,
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := setup(t)
			before := f.rawGens(t, f.member)
			f.exec(t, `DELETE FROM access_outbox`)
			c.change(t, f)
			want := c.want(before)
			if got := f.rawGens(t, f.member); got != want {
				t.Fatalf("generations: got %+v, want %+v", got, want)
			}
			bumps, err := f.db.PendingAccessBumps(ctx, 100)
			if err != nil {
				t.Fatalf("pending: %v", err)
			}
			if len(bumps) == 0 {
				t.Fatalf("outbox: got nothing, want the new generation queued")
			}
			last := bumps[len(bumps)-1]
			wantGen := map[byte]int64{GenUser: want.User, GenDeal: want.Deal, GenGlobal: want.Global}[c.kind]
			if last.Kind != c.kind || last.Gen != wantGen {
				t.Fatalf("outbox: got kind %c gen %d, want kind %c gen %d", last.Kind, last.Gen, c.kind, wantGen)
			}
			if err := f.db.DeleteAccessBumps(ctx, bumps); err != nil {
				t.Fatalf("delete: %v", err)
			}
			if left, _ := f.db.PendingAccessBumps(ctx, 100); len(left) != 0 {
				t.Fatalf("outbox after delete: got %d rows, want 0", len(left))
			}
		})
	}
}

func TestSelectingBumpsNothing(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	before := f.rawGens(t, f.member)
	f.exec(t, `DELETE FROM access_outbox`)
	_, g, err := f.db.SelectDealAt(ctx, deal.Actor{UserID: f.member}, f.dealID, deal.ActionDealSelected)
	if err != nil {
		t.Fatalf("select: %v", err)
	}
	if g != before {
		t.Fatalf("SelectDealAt's generations: got %+v, want %+v", g, before)
	}
	if _, err := f.db.SetRememberLastDeal(ctx, f.member, true); err != nil {
		t.Fatalf("preference: %v", err)
	}
	if got := f.rawGens(t, f.member); got != before {
		t.Fatalf("after selection: got %+v, want %+v (unchanged)", got, before)
	}
	if bumps, _ := f.db.PendingAccessBumps(ctx, 10); len(bumps) != 0 {
		t.Fatalf("outbox after a selection: got %v, want nothing", bumps)
	}
}

func TestFindDealAccessReadsTheGenerationsOfItsDecision(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	f.exec(t, `UPDATE users SET access_gen = 7 WHERE id = $1`, f.member)
	f.exec(t, `UPDATE deals SET access_gen = 11 WHERE id = $1`, f.dealID)
	f.exec(t, `UPDATE access_global SET gen = 3`)
	d, g, err := f.db.FindDealAccess(ctx, f.member, f.dealID)
	if err != nil || d.ID != f.dealID || d.Role != deal.RoleMember {
		t.Fatalf("find: got (%+v, %v), want Atlas as member", d, err)
	}
	if want := (Gens{User: 7, Deal: 11, Global: 3}); g != want {
		t.Fatalf("gens: got %+v, want %+v", g, want)
	}
	if _, _, err := f.db.FindDealAccess(ctx, f.stranger, f.dealID); deal.ErrorCode(err) != deal.ENOTFOUND {
		t.Fatalf("stranger: got %v, want not found", err)
	}
	f.selectDeal(t, f.member)
	d, g2, outcome, _, err := f.db.RestoreLastDealAt(ctx, deal.Actor{UserID: f.member})
	if err != nil || outcome != deal.RestoreRestored || d.ID != f.dealID || g2 != g {
		t.Fatalf("restore: got (%v, %+v, %s, %v), want Atlas at %+v", d.ID, g2, outcome, err, g)
	}
}

func TestOldAccessBumpsAreDropped(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	f.exec(t, `DELETE FROM access_outbox`)
	if err := f.db.ResetAllAccess(ctx); err != nil {
		t.Fatalf("reset: %v", err)
	}
	f.exec(t, `UPDATE access_outbox SET created_at = now() - interval '1 hour'`)
	if err := f.db.ResetAllAccess(ctx); err != nil {
		t.Fatalf("reset: %v", err)
	}
	n, err := f.db.DeleteAccessBumpsOlderThan(ctx, 10*time.Minute)
	if err != nil || n != 1 {
		t.Fatalf("drop old: got (%d, %v), want (1, nil)", n, err)
	}
	if left, _ := f.db.PendingAccessBumps(ctx, 10); len(left) != 1 || left[0].Gen != 2 {
		t.Fatalf("left: got %+v, want the newer bump alone", left)
	}
}
