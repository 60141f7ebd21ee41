package postgres

import (
	"context"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dealctx/dealctx/internal/deal"
)

// Store methods called inside Transact take part in its transaction: while
// it is open, what they wrote is seen inside it and not outside, and when fn
// returns an error none of it is left behind. The statements that commit on
// their own (alone) do so: a session revoked inside stays revoked.
func TestTransactRollsBackWhatItsMethodsWrote(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	countOutside := func(sql string, args ...any) int {
		t.Helper()
		var n int
		if err := f.db.Pool.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		return n
	}
	if _, err := f.db.CommitSession(ctx, "tok-live", []byte{1}, time.Now().Add(time.Hour), SessionRecord{UserID: f.owner}); err != nil {
		t.Fatal(err)
	}
	errAbort := errors.New("abort")
	err := f.db.Transact(ctx, func(ctx context.Context) error {
		u, err := f.db.CreateUser(ctx, "newcomer@example.com", "", "x", false)
		if err != nil {
			return err
		}
		d, err := f.db.CreateDeal(ctx, deal.Actor{UserID: f.owner}, "Cassiopeia")
		if err != nil {
			return err
		}
		if _, err := f.db.AddMember(ctx, deal.Actor{UserID: f.owner}, d.ID, "newcomer@example.com", deal.RoleMember); err != nil {
			return err
		}
		if err := f.db.RecordEvent(ctx, deal.Actor{UserID: f.owner}, deal.ActionDealSelected, d.ID, 0, map[string]any{}); err != nil {
			return err
		}
		if err := f.db.RevokeSession(ctx, "tok-live", time.Hour); err != nil {
			return err
		}
		// Inside, the transaction's own writes are seen ...
		if got, err := f.db.FindDealByID(ctx, u.ID, d.ID); err != nil || got.Role != deal.RoleMember {
			t.Errorf("inside: the newcomer's deal: %+v, %v; want it as a member", got, err)
		}
		// ... and outside, not yet.
		if n := countOutside(`SELECT count(*) FROM users WHERE email = 'newcomer@example.com'`); n != 0 {
			t.Errorf("outside, during the transaction: %d newcomers, want 0", n)
		}
		return errAbort
	})
	if !errors.Is(err, errAbort) {
		t.Fatalf("Transact: got %v, want fn's error", err)
	}
	for what, sql := range map[string]string{
		"users":         `SELECT count(*) FROM users WHERE email = 'newcomer@example.com'`,
		"deals":         `SELECT count(*) FROM deals WHERE name = 'Cassiopeia'`,
		"deal_members":  `SELECT count(*) FROM deal_members m JOIN deals d ON d.id = m.deal_id WHERE d.name = 'Cassiopeia'`,
		"audit_outbox":  `SELECT count(*) FROM audit_outbox`,
		"access_outbox": `SELECT count(*) FROM access_outbox a JOIN deals d ON d.id = a.key_id AND a.kind = 'd' WHERE d.name = 'Cassiopeia'`,
	} {
		if n := countOutside(sql); n != 0 {
			t.Errorf("after the rollback: %d rows in %s, want none", n, what)
		}
	}
	if data, found, err := f.db.FindSession(ctx, "tok-live"); err != nil || found {
		t.Errorf("after the rollback: session revoked inside is live again (%v, %v, %v); a revocation commits alone", data, found, err)
	}

	// The same work, committed, is all there.
	err = f.db.Transact(ctx, func(ctx context.Context) error {
		_, err := f.db.CreateUser(ctx, "newcomer@example.com", "", "x", false)
		return err
	})
	if err != nil {
		t.Fatalf("Transact: %v", err)
	}
	if n := countOutside(`SELECT count(*) FROM users WHERE email = 'newcomer@example.com'`); n != 1 {
		t.Errorf("after the commit: %d newcomers, want 1", n)
	}
}

// No method of this package reaches the pool but through q (the context's
// transaction, else the pool) or, for the few statements that must commit
// on their own whatever the caller, alone: so a method called inside
// Transact cannot run a statement outside it by mistake.
func TestStoreMethodsHonourTheTransaction(t *testing.T) {
	t.Parallel()
	// The functions that may touch db.Pool: the accessors themselves and
	// what is about the pool, not a statement.
	poolUsers := []string{"q", "alone", "Close", "Ping", "Migrate", "QueryExecMode"}
	// The statements that commit alone, each saying why where it runs.
	aloneUsers := []string{"RevokeSessions", "QueueSessionInvalidations", "ObserveRedisIdentity", "RedisEpoch"}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		file, err := parser.ParseFile(fset, name, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range file.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			checked++
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				sel, ok := n.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				switch {
				case sel.Sel.Name == "Pool" && !slices.Contains(poolUsers, fn.Name.Name):
					t.Errorf("%s: %s uses .Pool; run statements on db.q(ctx) (or db.alone(), saying why)",
						fset.Position(sel.Pos()), fn.Name.Name)
				case sel.Sel.Name == "alone" && !slices.Contains(aloneUsers, fn.Name.Name) && fn.Name.Name != "alone":
					t.Errorf("%s: %s commits alone (db.alone()); if it must, say why there and add it to this test",
						fset.Position(sel.Pos()), fn.Name.Name)
				}
				return true
			})
		}
	}
	if checked < 50 {
		t.Fatalf("checked %d functions; the package has more (run from its directory)", checked)
	}
}
