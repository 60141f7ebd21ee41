package access

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/dealctx/dealctx/internal/deal"
	"github.com/dealctx/dealctx/internal/postgres"
	"github.com/dealctx/dealctx/internal/postgres/pgtest"
	"github.com/dealctx/dealctx/internal/redisclient/redistest"
	"github.com/redis/go-redis/v9"
)

// setup returns copies over the shared test Redis under a key prefix of the
// test's own, relayed from a fresh database.
func setup(t *testing.T) (*Copies, *postgres.DB, redis.UniversalClient) {
	t.Helper()
	rdb := redistest.New(t)
	prefix := "dealctx-test-access-" + strconv.FormatInt(time.Now().UnixNano(), 36) + ":"
	t.Cleanup(func() {
		keys, _ := rdb.Keys(context.Background(), prefix+"*").Result()
		if len(keys) > 0 {
			rdb.Del(context.Background(), keys...)
		}
	})
	db := pgtest.NewDB(t)
	return New(rdb, prefix, db, nil), db, rdb
}

func TestACopyOnlyMovesForward(t *testing.T) {
	t.Parallel()
	c, _, rdb := setup(t)
	ctx := context.Background()
	if _, ok, err := c.Read(ctx, 1, 2); err != nil || ok {
		t.Fatalf("nothing written: got (ok %v, %v), want unknown", ok, err)
	}
	if err := c.Refill(ctx, 1, 2, postgres.Gens{User: 5, Deal: 7, Global: 1}); err != nil {
		t.Fatalf("refill: %v", err)
	}
	// A re-check that read older generations must not move a copy back.
	if err := c.Refill(ctx, 1, 2, postgres.Gens{User: 4, Deal: 8, Global: 0}); err != nil {
		t.Fatalf("refill: %v", err)
	}
	g, ok, err := c.Read(ctx, 1, 2)
	if want := (postgres.Gens{User: 5, Deal: 8, Global: 1}); err != nil || !ok || g != want {
		t.Fatalf("read: got (%+v, %v, %v), want %+v", g, ok, err, want)
	}
	// A copy deleted by hand (or evicted) is unknown, never 0.
	rdb.Del(ctx, c.Key(postgres.GenDeal, 2))
	if _, ok, err := c.Read(ctx, 1, 2); err != nil || ok {
		t.Fatalf("after DEL: got (ok %v, %v), want unknown", ok, err)
	}
}

// A re-check that reads the generation a copy already holds proves the copy
// current: it lives MaxAge from then, while a newer copy is left alone.
// Without this the global generation's one key expired for every session at
// once each MaxAge.
func TestARecheckThatAgreesExtendsTheCopysLife(t *testing.T) {
	t.Parallel()
	c, _, rdb := setup(t)
	ctx := context.Background()
	if err := c.Refill(ctx, 1, 2, postgres.Gens{User: 5, Deal: 7, Global: 1}); err != nil {
		t.Fatal(err)
	}
	for _, k := range c.Keys(1, 2) {
		rdb.Expire(ctx, k, 2*time.Second)
	}
	// The user's and the global generation agree; the deal's copy is newer
	// than what this (late) re-check read.
	if err := c.Refill(ctx, 1, 2, postgres.Gens{User: 5, Deal: 6, Global: 1}); err != nil {
		t.Fatal(err)
	}
	k := c.Keys(1, 2)
	for i, want := range []time.Duration{MaxAge, 2 * time.Second, MaxAge} {
		ttl, err := rdb.TTL(ctx, k[i]).Result()
		if err != nil || ttl > want || ttl < want-2*time.Second {
			t.Errorf("%s: TTL %v (%v), want about %v", k[i], ttl, err, want)
		}
	}
	if g, ok, err := c.Read(ctx, 1, 2); err != nil || !ok || g != (postgres.Gens{User: 5, Deal: 7, Global: 1}) {
		t.Fatalf("read: got (%+v, %v, %v), want the copies unchanged", g, ok, err)
	}
}

// A re-check's refresh leaves each copy as the set-if-greater script would:
// an agreeing copy lives MaxAge more, a newer one is untouched, and a
// missing, older or unreadable one takes the re-check's value.
func TestARecheckRefreshMovesCopiesOnlyForward(t *testing.T) {
	t.Parallel()
	c, _, rdb := setup(t)
	ctx := context.Background()
	agrees, newer, older, missing, garbage := c.Key(postgres.GenUser, 1), c.Key(postgres.GenDeal, 2), c.Key(postgres.GenUser, 3), c.Key(postgres.GenDeal, 4), c.Key(postgres.GenUser, 5)
	for k, v := range map[string]string{agrees: "5", newer: "9", older: "2", garbage: "x"} {
		if err := rdb.Set(ctx, k, v, 2*time.Second).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.refresh(ctx, map[string]int64{agrees: 5, newer: 7, older: 4, missing: 6, garbage: 3}); err != nil {
		t.Fatalf("refresh: %v", err)
	}
	for _, tc := range []struct {
		key, want string
		ttl       time.Duration
	}{{agrees, "5", MaxAge}, {newer, "9", 2 * time.Second}, {older, "4", MaxAge}, {missing, "6", MaxAge}, {garbage, "3", MaxAge}} {
		got, err := rdb.Get(ctx, tc.key).Result()
		ttl := rdb.TTL(ctx, tc.key).Val()
		if err != nil || got != tc.want || ttl > tc.ttl || ttl < tc.ttl-2*time.Second {
			t.Errorf("%s: got %q (%v), TTL %v; want %q, TTL about %v", tc.key, got, err, ttl, tc.want, tc.ttl)
		}
	}
	if err := c.refresh(ctx, map[string]int64{newer: 1}); err != nil {
		t.Fatalf("refresh with nothing to write: %v", err)
	}
}

func TestRelayLandsTheOutboxAndEmptiesIt(t *testing.T) {
	t.Parallel()
	c, db, _ := setup(t)
	ctx := context.Background()
	u, err := db.CreateUser(ctx, "relay@example.com", "", "x", false)
	if err != nil {
		t.Fatalf("create user: %v", err)
	}
	if err := c.Refill(ctx, u.ID, 9, postgres.Gens{User: 0, Deal: 3, Global: 0}); err != nil {
		t.Fatalf("refill: %v", err)
	}
	if _, err := db.SetDisabled(ctx, "relay@example.com", true); err != nil {
		t.Fatalf("disable: %v", err)
	}
	if err := db.ResetAllAccess(ctx); err != nil {
		t.Fatalf("reset: %v", err)
	}
	if err := c.Relay(ctx); err != nil || c.Behind() {
		t.Fatalf("relay: got (%v, behind %v), want (nil, false)", err, c.Behind())
	}
	g, ok, err := c.Read(ctx, u.ID, 9)
	if want := (postgres.Gens{User: 1, Deal: 3, Global: 1}); err != nil || !ok || g != want {
		t.Fatalf("after relay: got (%+v, %v, %v), want %+v", g, ok, err, want)
	}
	if left, _ := db.PendingAccessBumps(ctx, 10); len(left) != 0 {
		t.Fatalf("outbox after relay: got %+v, want empty", left)
	}
}

func TestARelayThatCannotReachRedisLeavesTheProcessBehind(t *testing.T) {
	t.Parallel()
	_, db, _ := setup(t)
	ctx := context.Background()
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	t.Cleanup(func() { _ = dead.Close() })
	c := New(dead, "x:", db, nil)
	if err := db.ResetAllAccess(ctx); err != nil {
		t.Fatalf("reset: %v", err)
	}
	if err := c.Relay(ctx); err == nil || !c.Behind() {
		t.Fatalf("relay to an unreachable Redis: got (%v, behind %v), want an error and behind", err, c.Behind())
	}
	if left, _ := db.PendingAccessBumps(ctx, 10); len(left) != 1 {
		t.Fatalf("outbox: got %d rows, want the bump kept for another process", len(left))
	}
}

// recheckFixture is an owner's deal with one member, the member's decision
// as PostgreSQL made it, and that decision served from a session (Served).
func recheckFixture(t *testing.T) (c *Copies, db *postgres.DB, rdb redis.UniversalClient, memberID, dealID int64, g postgres.Gens) {
	t.Helper()
	c, db, rdb = setup(t)
	ctx := context.Background()
	owner, err := db.CreateUser(ctx, "owner@example.com", "", "x", false)
	if err != nil {
		t.Fatal(err)
	}
	member, err := db.CreateUser(ctx, "member@example.com", "", "x", false)
	if err != nil {
		t.Fatal(err)
	}
	d, err := db.CreateDeal(ctx, deal.Actor{UserID: owner.ID}, "Atlas")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.AddMember(ctx, deal.Actor{UserID: owner.ID}, d.ID, "member@example.com", deal.RoleMember); err != nil {
		t.Fatal(err)
	}
	if err := c.Relay(ctx); err != nil { // the outbox of the fixture's own writes
		t.Fatal(err)
	}
	if _, g, err = db.FindDealAccess(ctx, member.ID, d.ID); err != nil {
		t.Fatal(err)
	}
	if err := c.Refill(ctx, member.ID, d.ID, g); err != nil {
		t.Fatal(err)
	}
	c.Served(member.ID, d.ID, g)
	return c, db, rdb, member.ID, d.ID, g
}

// A decision in use is re-asked in the background: when it still holds,
// its copies live on (a request never finds them expired while the
// decision is served), at the cost of one statement per process.
func TestARecheckKeepsTheCopiesOfDecisionsInUseAlive(t *testing.T) {
	t.Parallel()
	c, _, rdb, memberID, dealID, g := recheckFixture(t)
	ctx := context.Background()
	for _, k := range c.Keys(memberID, dealID) {
		rdb.Expire(ctx, k, 2*time.Second)
	}
	if err := c.Recheck(ctx); err != nil {
		t.Fatal(err)
	}
	for _, k := range c.Keys(memberID, dealID) {
		if ttl, err := rdb.TTL(ctx, k).Result(); err != nil || ttl < MaxAge-2*time.Second {
			t.Errorf("%s after the re-check: TTL %v (%v), want about %v", k, ttl, err, MaxAge)
		}
	}
	if got, ok, err := c.Read(ctx, memberID, dealID); err != nil || !ok || got != g {
		t.Fatalf("copies: got (%+v, %v, %v), want %+v", got, ok, err, g)
	}
}

// A decision that no longer holds although no generation moved (a hand
// edit with the triggers off) is caught by the re-check: the deal's
// generation is bumped and its copy moves, so the next request re-checks.
func TestARecheckBumpsADecisionThatChangedWithoutABump(t *testing.T) {
	t.Parallel()
	c, db, _, memberID, dealID, g := recheckFixture(t)
	ctx := context.Background()
	conn, err := db.Pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SET session_replication_role = replica`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `DELETE FROM deal_members WHERE deal_id = $1 AND user_id = $2`, dealID, memberID); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `SET session_replication_role = DEFAULT`); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := c.Read(ctx, memberID, dealID); got != g {
		t.Fatalf("before the re-check: copies %+v, want still %+v (nothing bumped)", got, g)
	}
	if err := c.Recheck(ctx); err != nil {
		t.Fatal(err)
	}
	got, ok, err := c.Read(ctx, memberID, dealID)
	if err != nil || !ok || got.Deal <= g.Deal {
		t.Fatalf("after the re-check: copies (%+v, %v, %v), want the deal's generation above %d", got, ok, err, g.Deal)
	}
	// Nothing served since: the next re-check has nothing to do.
	if err := c.Recheck(ctx); err != nil {
		t.Fatal(err)
	}
	if again, _, _ := c.Read(ctx, memberID, dealID); again != got {
		t.Fatalf("a re-check with nothing served moved the copies: %+v, want %+v", again, got)
	}
}

// A decision that no longer holds because of a bump is not bumped again.
func TestARecheckLeavesARevocationThatWasBumpedAlone(t *testing.T) {
	t.Parallel()
	c, db, _, memberID, dealID, g := recheckFixture(t)
	ctx := context.Background()
	if _, err := db.Pool.Exec(ctx, `DELETE FROM deal_members WHERE deal_id = $1 AND user_id = $2`, dealID, memberID); err != nil {
		t.Fatal(err)
	}
	if err := c.Relay(ctx); err != nil {
		t.Fatal(err)
	}
	bumped, _, _ := c.Read(ctx, memberID, dealID)
	if bumped.Deal != g.Deal+1 {
		t.Fatalf("the trigger's bump: deal generation %d, want %d", bumped.Deal, g.Deal+1)
	}
	if err := c.Recheck(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := c.Read(ctx, memberID, dealID); got != bumped {
		t.Fatalf("after the re-check: %+v, want %+v (no second bump)", got, bumped)
	}
}
