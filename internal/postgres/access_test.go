package postgres

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/dealctx/dealctx/internal/deal"
	"github.com/jackc/pgx/v5"
)

// Every way the store decides access (the deal_access view, the explicit
// dealRole of the statements that lock the deal or walk many users, and a
// user's list of deals) gives, for every user and deal of a fixture that has
// each case, the role the rule says, or no access.
func TestAccessFormsAgree(t *testing.T) {
	t.Parallel()
	db := NewTestDB(t)
	ctx := context.Background()
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := db.Pool.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	users := []string{"owner", "co-owner", "member", "admin member", "admin", "removed", "disabled", "stranger"}
	id := map[string]int64{}
	for i, name := range users {
		u, err := db.CreateUser(ctx, fmt.Sprintf("user%d@example.com", i), "", "x",
			name == "admin" || name == "admin member")
		if err != nil {
			t.Fatal(err)
		}
		id[name] = u.ID
	}
	mkDeal := func(name, owner string) int64 {
		t.Helper()
		d, err := db.CreateDeal(ctx, deal.Actor{UserID: id[owner]}, name)
		if err != nil {
			t.Fatal(err)
		}
		id[name] = d.ID
		return d.ID
	}
	// Atlas: live, with an owner, an owner member, members, and a member
	// removed and one disabled since.
	atlas := mkDeal("Atlas", "owner")
	exec(`INSERT INTO deal_members (deal_id, user_id, role) VALUES ($1, $2, 'owner')`, atlas, id["co-owner"])
	for _, m := range []string{"member", "admin member", "removed", "disabled"} {
		exec(`INSERT INTO deal_members (deal_id, user_id, role) VALUES ($1, $2, 'member')`, atlas, id[m])
	}
	exec(`DELETE FROM deal_members WHERE deal_id = $1 AND user_id = $2`, atlas, id["removed"])
	exec(`UPDATE users SET disabled_at = now() WHERE id = $1`, id["disabled"])
	// Borealis: deleted, with a member.
	borealis := mkDeal("Borealis", "owner")
	exec(`INSERT INTO deal_members (deal_id, user_id, role) VALUES ($1, $2, 'member')`, borealis, id["member"])
	exec(`UPDATE deals SET deleted_at = now() WHERE id = $1`, borealis)
	// Cygnus: an admin's own deal.
	mkDeal("Cygnus", "admin")
	// Draco: an owner by deals.owner_id alone, with no membership row.
	var draco int64
	if err := db.Pool.QueryRow(ctx, `INSERT INTO deals (name, owner_id) VALUES ('Draco', $1) RETURNING id`, id["owner"]).Scan(&draco); err != nil {
		t.Fatal(err)
	}
	id["Draco"] = draco
	deals := []string{"Atlas", "Borealis", "Cygnus", "Draco"}

	// The rule, case by case: the role, "" for no access.
	want := map[[2]string]string{
		{"owner", "Atlas"}: deal.RoleOwner, {"co-owner", "Atlas"}: deal.RoleOwner,
		{"member", "Atlas"}: deal.RoleMember, {"admin member", "Atlas"}: deal.RoleAdmin, {"admin", "Atlas"}: deal.RoleAdmin,
		{"admin", "Cygnus"}: deal.RoleOwner, {"admin member", "Cygnus"}: deal.RoleAdmin,
		{"owner", "Draco"}: deal.RoleOwner, {"admin", "Draco"}: deal.RoleAdmin, {"admin member", "Draco"}: deal.RoleAdmin,
	}

	for _, un := range users {
		uid := id[un]
		listed := map[int64]string{}
		list, err := db.FindDealsForUser(ctx, uid)
		if err != nil {
			t.Fatalf("list for %s: %v", un, err)
		}
		for _, d := range list {
			listed[d.ID] = d.Role
		}
		for _, dn := range deals {
			did := id[dn]
			w := want[[2]string{un, dn}]
			forms := map[string]string{}

			// The view, as the single-deal reads ask it.
			var role string
			err := db.Pool.QueryRow(ctx, `SELECT role FROM deal_access WHERE user_id = $1 AND deal_id = $2 AND deleted_at IS NULL`, uid, did).Scan(&role)
			if err != nil && !errors.Is(err, pgx.ErrNoRows) {
				t.Fatal(err)
			}
			forms["deal_access"] = role

			d, err := db.FindDealByID(ctx, uid, did)
			if err != nil && !errors.Is(err, deal.ErrNotFound) {
				t.Fatal(err)
			}
			forms["FindDealByID"] = d.Role

			// The explicit rule, in the statement that locks the deal.
			role = ""
			tx, err := db.Pool.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			err = tx.QueryRow(ctx, manageableDealSQL, uid, did).Scan(&role)
			_ = tx.Rollback(ctx)
			if err != nil && !errors.Is(err, pgx.ErrNoRows) {
				t.Fatal(err)
			}
			forms["manageableDeal (dealRole, FOR UPDATE)"] = role

			forms["FindDealsForUser"] = listed[did]

			// The background re-check (many pairs in one statement)
			// allows exactly what the view allows.
			rc, err := db.RecheckAccess(ctx, []AccessPair{{UserID: uid, DealID: did}})
			if err != nil || len(rc) != 1 {
				t.Fatalf("RecheckAccess: %v, %d answers", err, len(rc))
			}
			forms["RecheckAccess allows"] = fmt.Sprint(rc[0].Allowed)

			if un != "disabled" {
				// The prune keeps a last deal exactly when it is
				// accessible. (It judges a disabled user's last deal as
				// if the user were enabled, so the disabled user is
				// left out here.)
				exec(`UPDATE users SET last_deal_id = $1, remember_last_deal = true WHERE id = $2`, did, uid)
				if _, _, err := db.PruneStaleLastDeals(ctx, uid-1, 1); err != nil {
					t.Fatal(err)
				}
				var kept bool
				if err := db.Pool.QueryRow(ctx, `SELECT last_deal_id IS NOT NULL FROM users WHERE id = $1`, uid).Scan(&kept); err != nil {
					t.Fatal(err)
				}
				forms["PruneStaleLastDeals keeps"] = fmt.Sprint(kept)

				// Restoring the last deal restores it exactly when
				// accessible, in the same role.
				exec(`UPDATE users SET last_deal_id = $1 WHERE id = $2`, did, uid)
				d, outcome, _, err := db.RestoreLastDeal(ctx, deal.Actor{UserID: uid})
				if err != nil {
					t.Fatal(err)
				}
				forms["RestoreLastDeal"] = d.Role
				if (outcome == deal.RestoreRestored) != (w != "") {
					t.Errorf("%s on %s: restore outcome %q, want restored: %v", un, dn, outcome, w != "")
				}
				if dn == "Borealis" && outcome != deal.RestoreDeleted {
					t.Errorf("%s on %s: restore outcome %q, want %q", un, dn, outcome, deal.RestoreDeleted)
				}
			}

			for form, got := range forms {
				wantForm := w
				if form == "PruneStaleLastDeals keeps" || form == "RecheckAccess allows" {
					wantForm = fmt.Sprint(w != "")
				}
				if got != wantForm {
					t.Errorf("%s on %s: %s says %q, want %q", un, dn, form, got, wantForm)
				}
			}
		}
	}
}
