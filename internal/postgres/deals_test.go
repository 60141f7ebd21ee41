package postgres

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/dealctx/dealctx/internal/deal"
	"github.com/jackc/pgx/v5"
)

// fixture is a fresh database with four users and one deal, "Atlas", that
// owner owns and member belongs to; admin is an admin, stranger nothing.
type fixture struct {
	db                             *DB
	owner, member, admin, stranger int64
	dealID                         int64
}

func setup(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{db: NewTestDB(t)}
	for _, u := range []struct {
		id    *int64
		email string
		admin bool
	}{
		{&f.owner, "owner@example.com", false},
		{&f.member, "member@example.com", false},
		{&f.admin, "admin@example.com", true},
		{&f.stranger, "stranger@example.com", false},
	} {
		created, err := f.db.CreateUser(ctx, u.email, "", "x", u.admin)
		if err != nil {
			t.Fatalf("create user %s: %v", u.email, err)
		}
		*u.id = created.ID
	}
	d, err := f.db.CreateDeal(ctx, deal.Actor{UserID: f.owner}, "Atlas")
	if err != nil {
		t.Fatalf("create deal: %v", err)
	}
	f.dealID = d.ID
	if _, err := f.db.AddMember(ctx, deal.Actor{UserID: f.owner}, d.ID, "member@example.com", deal.RoleMember); err != nil {
		t.Fatalf("add member: %v", err)
	}
	f.exec(t, `DELETE FROM audit_outbox`)
	return f
}

func (f *fixture) exec(t *testing.T, sql string, args ...any) {
	t.Helper()
	if _, err := f.db.Pool.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// selectDeal makes Atlas the user's last deal through SelectDeal.
func (f *fixture) selectDeal(t *testing.T, userID int64) {
	t.Helper()
	if _, err := f.db.SelectDeal(context.Background(), deal.Actor{UserID: userID}, f.dealID, deal.ActionDealSelected); err != nil {
		t.Fatalf("select: %v", err)
	}
	f.exec(t, `DELETE FROM audit_outbox`)
}

// lastDeal reads users.last_deal_id, 0 for NULL.
func (f *fixture) lastDeal(t *testing.T, userID int64) int64 {
	t.Helper()
	var id *int64
	if err := f.db.Pool.QueryRow(context.Background(), `SELECT last_deal_id FROM users WHERE id = $1`, userID).Scan(&id); err != nil {
		t.Fatalf("read last_deal_id: %v", err)
	}
	if id == nil {
		return 0
	}
	return *id
}

// audited lists the outbox's events as "action reason" (reason when the
// details carry one), oldest first.
func (f *fixture) audited(t *testing.T) []string {
	t.Helper()
	rows, err := f.db.Pool.Query(context.Background(), `
SELECT action || coalesce(' ' || (details->>'reason'), '') FROM audit_outbox ORDER BY id`)
	if err != nil {
		t.Fatalf("read outbox: %v", err)
	}
	var got []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatalf("read outbox: %v", err)
		}
		got = append(got, s)
	}
	return got
}

func TestSelectDeal(t *testing.T) {
	t.Parallel()
	type want struct {
		role     string // "" when access is refused
		lastDeal bool
	}
	cases := map[string]struct {
		user    func(f *fixture) int64
		prepare func(t *testing.T, f *fixture)
		want    want
	}{
		"owner":  {user: func(f *fixture) int64 { return f.owner }, want: want{deal.RoleOwner, true}},
		"member": {user: func(f *fixture) int64 { return f.member }, want: want{deal.RoleMember, true}},
		"admin":  {user: func(f *fixture) int64 { return f.admin }, want: want{deal.RoleAdmin, true}},
		"stranger is refused": {
			user: func(f *fixture) int64 { return f.stranger }, want: want{"", false},
		},
		"deleted deal is refused": {
			user:    func(f *fixture) int64 { return f.owner },
			prepare: func(t *testing.T, f *fixture) { f.exec(t, `UPDATE deals SET deleted_at = now()`) },
			want:    want{"", false},
		},
		"disabled user is refused": {
			user: func(f *fixture) int64 { return f.member },
			prepare: func(t *testing.T, f *fixture) {
				f.exec(t, `UPDATE users SET disabled_at = now() WHERE id = $1`, f.member)
			},
			want: want{"", false},
		},
		"remembering off: selected and audited, not stored": {
			user: func(f *fixture) int64 { return f.member },
			prepare: func(t *testing.T, f *fixture) {
				f.exec(t, `UPDATE users SET remember_last_deal = false WHERE id = $1`, f.member)
			},
			want: want{deal.RoleMember, false},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := setup(t)
			if tc.prepare != nil {
				tc.prepare(t, f)
			}
			uid := tc.user(f)
			before := time.Now().Add(-time.Minute)
			d, err := f.db.SelectDeal(context.Background(), deal.Actor{UserID: uid, RequestID: "r1"}, f.dealID, deal.ActionDealSelected)
			if tc.want.role == "" {
				if !errors.Is(err, deal.ErrNotFound) {
					t.Fatalf("select: got %v, want deal.ErrNotFound", err)
				}
				if got := f.lastDeal(t, uid); got != 0 {
					t.Errorf("last_deal_id: got %d, want NULL (nothing written)", got)
				}
				if got := f.audited(t); len(got) != 0 {
					t.Errorf("audit: got %v, want nothing", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("select: got %v, want nil", err)
			}
			if d.ID != f.dealID || d.Name != "Atlas" || d.Role != tc.want.role {
				t.Errorf("deal: got (%d, %q, %q), want (%d, %q, %q)", d.ID, d.Name, d.Role, f.dealID, "Atlas", tc.want.role)
			}
			wantLast := int64(0)
			if tc.want.lastDeal {
				wantLast = f.dealID
			}
			if got := f.lastDeal(t, uid); got != wantLast {
				t.Errorf("last_deal_id: got %d, want %d", got, wantLast)
			}
			if tc.want.lastDeal {
				var at time.Time
				if err := f.db.Pool.QueryRow(context.Background(), `SELECT last_deal_accessed_at FROM users WHERE id = $1`, uid).Scan(&at); err != nil {
					t.Fatalf("read last_deal_accessed_at: %v", err)
				}
				if at.Before(before) {
					t.Errorf("last_deal_accessed_at: got %v, want after %v", at, before)
				}
			}
			if got, want := f.audited(t), []string{deal.ActionDealSelected}; !slices.Equal(got, want) {
				t.Errorf("audit: got %v, want %v", got, want)
			}
		})
	}
}

func TestClearCurrentDeal(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.selectDeal(t, f.member)
	if err := f.db.ClearCurrentDeal(context.Background(), deal.Actor{UserID: f.member}, 0); err != nil {
		t.Fatalf("clear: %v", err)
	}
	if got := f.lastDeal(t, f.member); got != 0 {
		t.Errorf("last_deal_id: got %d, want NULL", got)
	}
	var dealID int64
	if err := f.db.Pool.QueryRow(context.Background(), `SELECT deal_id FROM audit_outbox WHERE action = $1`, deal.ActionDealCleared).Scan(&dealID); err != nil {
		t.Fatalf("read deal.cleared event: %v", err)
	}
	if dealID != f.dealID {
		t.Errorf("deal.cleared event's deal_id: got %d, want %d (the deal that was last)", dealID, f.dealID)
	}
}

func TestRestoreLastDeal(t *testing.T) {
	t.Parallel()
	type want struct {
		outcome  string
		role     string
		remember bool
		lastDeal bool     // last_deal_id still set afterwards
		audit    []string // "action reason"
	}
	cases := map[string]struct {
		user    func(f *fixture) int64
		prepare func(t *testing.T, f *fixture, uid int64)
		want    want
	}{
		"nothing stored": {
			user: func(f *fixture) int64 { return f.stranger },
			want: want{outcome: deal.RestoreNone, remember: true},
		},
		"owner": {
			user:    func(f *fixture) int64 { return f.owner },
			prepare: func(t *testing.T, f *fixture, uid int64) { f.selectDeal(t, uid) },
			want: want{outcome: deal.RestoreRestored, role: deal.RoleOwner, remember: true, lastDeal: true,
				audit: []string{deal.ActionDealRestored + " restored"}},
		},
		"member": {
			user:    func(f *fixture) int64 { return f.member },
			prepare: func(t *testing.T, f *fixture, uid int64) { f.selectDeal(t, uid) },
			want: want{outcome: deal.RestoreRestored, role: deal.RoleMember, remember: true, lastDeal: true,
				audit: []string{deal.ActionDealRestored + " restored"}},
		},
		"admin": {
			user:    func(f *fixture) int64 { return f.admin },
			prepare: func(t *testing.T, f *fixture, uid int64) { f.selectDeal(t, uid) },
			want: want{outcome: deal.RestoreRestored, role: deal.RoleAdmin, remember: true, lastDeal: true,
				audit: []string{deal.ActionDealRestored + " restored"}},
		},
		"member removed since": {
			user: func(f *fixture) int64 { return f.member },
			prepare: func(t *testing.T, f *fixture, uid int64) {
				f.selectDeal(t, uid)
				f.exec(t, `DELETE FROM deal_members WHERE user_id = $1`, uid)
			},
			want: want{outcome: deal.RestoreDenied, remember: true,
				audit: []string{deal.ActionRestoreDenied + " denied"}},
		},
		"deal deleted since": {
			user: func(f *fixture) int64 { return f.member },
			prepare: func(t *testing.T, f *fixture, uid int64) {
				f.selectDeal(t, uid)
				f.exec(t, `UPDATE deals SET deleted_at = now()`)
			},
			want: want{outcome: deal.RestoreDeleted, remember: true,
				audit: []string{deal.ActionRestoreDenied + " deleted"}},
		},
		"remembering off": {
			user: func(f *fixture) int64 { return f.member },
			prepare: func(t *testing.T, f *fixture, uid int64) {
				f.selectDeal(t, uid)
				f.exec(t, `UPDATE users SET remember_last_deal = false WHERE id = $1`, uid)
			},
			want: want{outcome: deal.RestoreNone, remember: false, lastDeal: true},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := setup(t)
			uid := tc.user(f)
			if tc.prepare != nil {
				tc.prepare(t, f, uid)
			}
			d, outcome, remember, err := f.db.RestoreLastDeal(context.Background(), deal.Actor{UserID: uid})
			if err != nil {
				t.Fatalf("restore: got %v, want nil", err)
			}
			if outcome != tc.want.outcome || remember != tc.want.remember {
				t.Errorf("outcome, remember: got (%q, %v), want (%q, %v)", outcome, remember, tc.want.outcome, tc.want.remember)
			}
			if tc.want.role != "" && (d.ID != f.dealID || d.Role != tc.want.role) {
				t.Errorf("deal: got (%d, %q), want (%d, %q)", d.ID, d.Role, f.dealID, tc.want.role)
			}
			if tc.want.role == "" && d.ID != 0 {
				t.Errorf("deal: got %d, want none", d.ID)
			}
			if got := f.lastDeal(t, uid) != 0; got != tc.want.lastDeal {
				t.Errorf("last_deal_id kept: got %v, want %v", got, tc.want.lastDeal)
			}
			if got := f.audited(t); !slices.Equal(got, tc.want.audit) {
				t.Errorf("audit: got %v, want %v", got, tc.want.audit)
			}
		})
	}
}

func TestRestoreLastDealForDisabledUser(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.selectDeal(t, f.member)
	f.exec(t, `UPDATE users SET disabled_at = now() WHERE id = $1`, f.member)
	_, outcome, _, err := f.db.RestoreLastDeal(context.Background(), deal.Actor{UserID: f.member})
	if got := deal.ErrorCode(err); got != deal.EUNAUTHORIZED || outcome != deal.RestoreNone {
		t.Fatalf("restore: got (%q, %q), want (%q, %q)", outcome, got, deal.RestoreNone, deal.EUNAUTHORIZED)
	}
}

func TestPruneStaleLastDeals(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	for _, uid := range []int64{f.owner, f.member, f.admin} {
		f.selectDeal(t, uid)
	}
	// A second deal only the owner reaches, yet the stranger's last deal.
	other, err := f.db.CreateDeal(ctx, deal.Actor{UserID: f.owner}, "Borealis")
	if err != nil {
		t.Fatalf("create deal: %v", err)
	}
	f.exec(t, `UPDATE users SET last_deal_id = $1 WHERE id = $2`, other.ID, f.stranger)

	cases := map[string]struct {
		prepare func(t *testing.T)
		// wantKept lists who still has a last deal after a full prune.
		wantKept    []int64
		wantCleared int64
	}{
		"nothing stale but the stranger": {
			wantKept: []int64{f.owner, f.member, f.admin}, wantCleared: 1,
		},
		"member removed": {
			prepare:  func(t *testing.T) { f.exec(t, `DELETE FROM deal_members WHERE user_id = $1`, f.member) },
			wantKept: []int64{f.owner, f.admin}, wantCleared: 1,
		},
		"Atlas deleted": {
			prepare:  func(t *testing.T) { f.exec(t, `UPDATE deals SET deleted_at = now() WHERE id = $1`, f.dealID) },
			wantKept: []int64{}, wantCleared: 2,
		},
	}
	// The cases run in order on one database: each builds on the last.
	for _, name := range []string{"nothing stale but the stranger", "member removed", "Atlas deleted"} {
		tc := cases[name]
		t.Run(name, func(t *testing.T) {
			if tc.prepare != nil {
				tc.prepare(t)
			}
			// Two users per call: the cursor must walk all four.
			var cleared, after int64
			calls := 0
			for {
				n, next, err := f.db.PruneStaleLastDeals(ctx, after, 2)
				if err != nil {
					t.Fatalf("prune: %v", err)
				}
				cleared += n
				calls++
				if next == 0 {
					break
				}
				if next <= after {
					t.Fatalf("cursor: got %d after %d, want it to move forward", next, after)
				}
				after = next
			}
			if cleared != tc.wantCleared {
				t.Errorf("cleared: got %d, want %d", cleared, tc.wantCleared)
			}
			if calls < 2 {
				t.Errorf("calls: got %d, want at least 2 with a limit of 2 for 4 users", calls)
			}
			var kept []int64
			for _, uid := range []int64{f.owner, f.member, f.admin, f.stranger} {
				if f.lastDeal(t, uid) != 0 {
					kept = append(kept, uid)
				}
			}
			if len(kept) == 0 {
				kept = []int64{}
			}
			if !slices.Equal(kept, tc.wantKept) {
				t.Errorf("users with a last deal: got %v, want %v", kept, tc.wantKept)
			}
		})
	}
}

// pruneAll walks every user with PruneStaleLastDeals, two at a time, and
// returns how many last deals it cleared.
func (f *fixture) pruneAll(ctx context.Context) (int64, error) {
	var cleared, after int64
	for {
		n, next, err := f.db.PruneStaleLastDeals(ctx, after, 2)
		if err != nil {
			return cleared, err
		}
		cleared += n
		if next == 0 {
			return cleared, nil
		}
		after = next
	}
}

// A user who picks a deal they may see while a prune runs keeps it, whether
// the selection still holds the row when the prune comes by (the row is
// skipped, not waited for) or commits between the prune's read and its lock
// (the decision is made again on the locked row).
func TestPruneStaleLastDealsKeepsADealPickedMidRun(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("selection still open", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		other, err := f.db.CreateDeal(ctx, deal.Actor{UserID: f.owner}, "Borealis")
		if err != nil {
			t.Fatalf("create deal: %v", err)
		}
		// Both the member and the stranger hold a deal they cannot see.
		f.exec(t, `UPDATE users SET last_deal_id = $1 WHERE id = ANY($2)`, other.ID, []int64{f.member, f.stranger})
		tx, err := f.db.Pool.Begin(ctx)
		if err != nil {
			t.Fatalf("begin: %v", err)
		}
		defer func() {
			// Ends the transaction if a failure left it open; after the
			// commit below there is nothing to roll back.
			if err := tx.Rollback(ctx); err != nil && !errors.Is(err, pgx.ErrTxClosed) {
				t.Errorf("rollback: %v", err)
			}
		}()
		if _, err := f.db.SelectDeal(WithTx(ctx, tx), deal.Actor{UserID: f.member}, f.dealID, deal.ActionDealSelected); err != nil {
			t.Fatalf("select inside the open transaction: %v", err)
		}
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		cleared, err := f.pruneAll(pctx)
		if err != nil {
			t.Fatalf("prune while a selection holds the member's row: %v (it must skip the row, not wait)", err)
		}
		if cleared != 1 {
			t.Errorf("cleared: got %d, want 1 (the stranger only)", cleared)
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatalf("commit the selection: %v", err)
		}
		if got := f.lastDeal(t, f.member); got != f.dealID {
			t.Errorf("member's last deal: got %d, want %d (Atlas, picked mid-run)", got, f.dealID)
		}
		if got := f.lastDeal(t, f.stranger); got != 0 {
			t.Errorf("stranger's last deal: got %d, want it cleared", got)
		}
	})
	t.Run("selection commits during the prune", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		other, err := f.db.CreateDeal(ctx, deal.Actor{UserID: f.owner}, "Borealis")
		if err != nil {
			t.Fatalf("create deal: %v", err)
		}
		// Many rounds of a stale last deal, a re-selection and a prune at
		// the same time: whichever commits first, the member ends up with
		// the deal they picked.
		for round := 0; round < 30; round++ {
			f.exec(t, `UPDATE users SET last_deal_id = $1 WHERE id = $2`, other.ID, f.member)
			errs := make(chan error, 1)
			go func() {
				_, err := f.pruneAll(ctx)
				errs <- err
			}()
			if _, err := f.db.SelectDeal(ctx, deal.Actor{UserID: f.member}, f.dealID, deal.ActionDealSelected); err != nil {
				t.Fatalf("round %d: select: %v", round, err)
			}
			if err := <-errs; err != nil {
				t.Fatalf("round %d: prune: %v", round, err)
			}
			if got := f.lastDeal(t, f.member); got != f.dealID {
				t.Fatalf("round %d: member's last deal: got %d, want %d (Atlas, picked while the prune ran)", round, got, f.dealID)
			}
		}
	})
}

func TestDeleteDeal(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		user     func(f *fixture) int64
		wantCode string // "" for deleted
	}{
		"owner":    {user: func(f *fixture) int64 { return f.owner }},
		"admin":    {user: func(f *fixture) int64 { return f.admin }},
		"member":   {user: func(f *fixture) int64 { return f.member }, wantCode: deal.EFORBIDDEN},
		"stranger": {user: func(f *fixture) int64 { return f.stranger }, wantCode: deal.ENOTFOUND},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := setup(t)
			f.selectDeal(t, f.member)
			err := f.db.DeleteDeal(context.Background(), deal.Actor{UserID: tc.user(f)}, f.dealID)
			if got := deal.ErrorCode(err); got != tc.wantCode {
				t.Fatalf("delete: got code %q (%v), want %q", got, err, tc.wantCode)
			}
			var deleted bool
			if err := f.db.Pool.QueryRow(context.Background(), `SELECT deleted_at IS NOT NULL FROM deals WHERE id = $1`, f.dealID).Scan(&deleted); err != nil {
				t.Fatalf("read deal: %v", err)
			}
			wantAudit := []string(nil)
			if tc.wantCode == "" {
				wantAudit = []string{deal.ActionDealDeleted}
			}
			if deleted != (tc.wantCode == "") {
				t.Errorf("deleted_at set: got %v, want %v", deleted, tc.wantCode == "")
			}
			if got := f.lastDeal(t, f.member) != 0; got != (tc.wantCode != "") {
				t.Errorf("member's last deal kept: got %v, want %v", got, tc.wantCode != "")
			}
			if got := f.audited(t); !slices.Equal(got, wantAudit) {
				t.Errorf("audit: got %v, want %v", got, wantAudit)
			}
		})
	}
}
