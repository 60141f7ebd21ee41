package postgres

import (
	"context"
	"encoding/json"
	"testing"
)

// accessPlanFixture fills a fresh database with enough users, deals and
// memberships that a sequential scan of deals costs far more than an index
// probe, and analyzes it: 5000 users (every 500th an admin), 20000 deals
// (every tenth deleted), each with its owner and one other member.
func accessPlanFixture(t *testing.T) *DB {
	t.Helper()
	db := NewTestDB(t)
	ctx := context.Background()
	for _, s := range []string{
		`INSERT INTO users (id, email, password_hash, is_admin)
		 SELECT i, 'u' || i || '@example.com', 'x', i % 500 = 0 FROM generate_series(1, 5000) i`,
		`INSERT INTO deals (id, name, owner_id, deleted_at)
		 SELECT i, 'd' || i, i % 5000 + 1, CASE WHEN i % 10 = 0 THEN now() END FROM generate_series(1, 20000) i`,
		`INSERT INTO deal_members (deal_id, user_id, role) SELECT id, owner_id, 'owner' FROM deals`,
		`INSERT INTO deal_members (deal_id, user_id, role) SELECT id, (owner_id + 6) % 5000 + 1, 'member' FROM deals`,
		`ANALYZE users, deals, deal_members`,
	} {
		if _, err := db.Pool.Exec(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	return db
}

// planNode is a node of EXPLAIN (FORMAT JSON)'s plan tree.
type planNode struct {
	NodeType     string     `json:"Node Type"`
	RelationName string     `json:"Relation Name"`
	IndexName    string     `json:"Index Name"`
	ActualLoops  *float64   `json:"Actual Loops"`
	Plans        []planNode `json:"Plans"`
}

// explain returns the plan of sql with args (options as EXPLAIN takes them),
// every node flattened.
func explain(t *testing.T, db *DB, options, sql string, args ...any) []planNode {
	t.Helper()
	var raw []byte
	if err := db.Pool.QueryRow(context.Background(), `EXPLAIN (`+options+`) `+sql, args...).Scan(&raw); err != nil {
		t.Fatalf("explain: %v", err)
	}
	var top []struct{ Plan planNode }
	if err := json.Unmarshal(raw, &top); err != nil || len(top) != 1 {
		t.Fatalf("explain: %v in %s", err, raw)
	}
	var all []planNode
	var walk func(n planNode)
	walk = func(n planNode) {
		all = append(all, n)
		for _, c := range n.Plans {
			walk(c)
		}
	}
	walk(top[0].Plan)
	return all
}

func isIndexScan(n planNode) bool {
	return n.NodeType == "Index Scan" || n.NodeType == "Index Only Scan" || n.NodeType == "Bitmap Index Scan"
}

// The single-deal access reads (the deal_access view for FindDealByID and
// its kin, dealRole for the statement that locks the deal) probe indexes
// for one user and one deal, and scan no table whole.
func TestSingleDealAccessUsesIndexes(t *testing.T) {
	t.Parallel()
	db := accessPlanFixture(t)
	for _, c := range []struct {
		name string
		sql  string
	}{
		{"FindDealByID (deal_access)", findDealByIDSQL},
		{"manageableDeal (dealRole)", manageableDealSQL},
	} {
		for _, userID := range []int64{1, 500} { // a member, an admin
			nodes := explain(t, db, "FORMAT JSON", c.sql, userID, int64(4999))
			used := map[string]bool{}
			for _, n := range nodes {
				if n.NodeType == "Seq Scan" {
					t.Errorf("%s, user %d: Seq Scan on %s", c.name, userID, n.RelationName)
				}
				if isIndexScan(n) {
					used[n.IndexName] = true
				}
			}
			for _, idx := range []string{"deals_pkey", "users_pkey", "deal_members_pkey"} {
				if !used[idx] {
					t.Errorf("%s, user %d: no scan of %s (used %v)", c.name, userID, idx, used)
				}
			}
		}
	}
}

// A member's (or owner's) list of deals reads only the deals found through
// deals_owner_id_idx and deal_members_user_id_idx: deals is not scanned
// whole. The admins' branch of the statement has its Seq Scan of deals in
// the plan, so the test runs the statement (EXPLAIN ANALYZE) and looks at
// what was executed: for a member that branch never runs.
func TestMemberDealListUsesIndexes(t *testing.T) {
	t.Parallel()
	db := accessPlanFixture(t)
	ctx := context.Background()
	for _, userID := range []int64{1, 4321} {
		nodes := explain(t, db, "ANALYZE, FORMAT JSON", findDealsForUserSQL, userID)
		used := map[string]bool{}
		for _, n := range nodes {
			ran := n.ActualLoops != nil && *n.ActualLoops > 0
			if n.NodeType == "Seq Scan" && ran {
				t.Errorf("member %d: the list scanned %s whole", userID, n.RelationName)
			}
			if isIndexScan(n) && ran {
				used[n.IndexName] = true
			}
		}
		for _, idx := range []string{"deals_owner_id_idx", "deal_members_user_id_idx"} {
			if !used[idx] {
				t.Errorf("member %d: the list did not use %s (used %v)", userID, idx, used)
			}
		}
		// And the list is the member's: every live deal they own or
		// belong to.
		var want int
		if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM deals d WHERE d.deleted_at IS NULL
			AND (d.owner_id = $1 OR EXISTS (SELECT 1 FROM deal_members m WHERE m.deal_id = d.id AND m.user_id = $1))`,
			userID).Scan(&want); err != nil {
			t.Fatal(err)
		}
		list, err := db.FindDealsForUser(ctx, userID)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != want || want == 0 {
			t.Errorf("member %d: listed %d deals, want %d (and more than none)", userID, len(list), want)
		}
	}
	// An admin still lists every live deal.
	list, err := db.FindDealsForUser(ctx, 500)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 18000 {
		t.Errorf("admin: listed %d deals, want all 18000 live ones", len(list))
	}
}
