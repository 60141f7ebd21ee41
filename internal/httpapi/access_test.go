package httpapi

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dealctx/dealctx/internal/auth"
	"github.com/dealctx/dealctx/internal/config"
	"github.com/dealctx/dealctx/internal/deal"
	"github.com/dealctx/dealctx/internal/postgres"
	"github.com/dealctx/dealctx/internal/postgres/pgtest"
	"github.com/dealctx/dealctx/internal/redisclient"
	"github.com/dealctx/dealctx/internal/redisclient/redistest"
	"github.com/dealctx/dealctx/internal/testserver"
	"github.com/redis/go-redis/v9"
)

// accessFixture is two api processes (in-process, each with its own session
// layer, relay loop and connections) over one database and one Redis, with
// an owner, a member and an admin of one deal. The Redis epoch is a
// constant stand-in for internal/redisepoch's Tracker.
type accessFixture struct {
	db                   *postgres.DB
	rdb                  redis.UniversalClient
	a, b                 *httptest.Server
	apps                 []*App
	owner, member, admin int64
	dealID               int64
	prefix               string
}

const testPassword = "correct horse battery"

func setupAccess(t testing.TB) *accessFixture {
	t.Helper()
	return setupAccessVia(t, nil, nil)
}

// setupAccessVia is setupAccess with process a and b reaching Redis through
// their own proxies (nil: directly).
func setupAccessVia(t testing.TB, viaA, viaB *testserver.Proxy) *accessFixture {
	t.Helper()
	return setupAccessWith(t, accessOptions{viaA: viaA, viaB: viaB})
}

// accessOptions vary the fixture: each process's proxy to Redis (nil:
// direct), the Redis (default the shared test Redis), and the Redis epoch
// (default a constant 1).
type accessOptions struct {
	viaA, viaB *testserver.Proxy
	redisURL   string
	epoch      func() uint64
	// tripsB, when set, counts process b's Redis round trips.
	tripsB *atomic.Int64
}

func setupAccessWith(t testing.TB, o accessOptions) *accessFixture {
	t.Helper()
	viaA, viaB := o.viaA, o.viaB
	redisURL := o.redisURL
	if redisURL == "" {
		redisURL = redistest.URL()
	}
	epoch := o.epoch
	if epoch == nil {
		epoch = func() uint64 { return 1 }
	}
	f := &accessFixture{db: pgtest.NewDB(t), prefix: "dealctx-test-gens-" + strconv.FormatInt(time.Now().UnixNano(), 36) + ":"}
	rdb, err := redisclient.New(redisURL, false)
	if err != nil {
		t.Fatal(err)
	}
	f.rdb = rdb
	t.Cleanup(func() {
		keys, _ := rdb.Keys(context.Background(), f.prefix+"*").Result()
		if len(keys) > 0 {
			rdb.Del(context.Background(), keys...)
		}
		_ = rdb.Close()
	})
	env := map[string]string{
		"DATABASE_URL": "postgres://unused", "REDIS_URL": redisURL, "REDIS_KEY_PREFIX": f.prefix,
		"SESSION_STORE": "tiered", "COOKIE_SECURE": "false", "ARGON2_MEMORY_KIB": "64", "ARGON2_TIME": "1",
	}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	for i, srv := range []**httptest.Server{&f.a, &f.b} {
		procRDB := redis.UniversalClient(rdb)
		if via := []*testserver.Proxy{viaA, viaB}[i]; via != nil {
			u, _ := url.Parse(redisURL)
			u.Host = via.Addr()
			c, err := redisclient.New(u.String(), false)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = c.Close() })
			procRDB = c
		}
		if i == 1 && o.tripsB != nil {
			c, err := redisclient.New(redisURL, false)
			if err != nil {
				t.Fatal(err)
			}
			c.AddHook(roundTrips{o.tripsB})
			t.Cleanup(func() { _ = c.Close() })
			procRDB = c
		}
		app, err := build(context.Background(), cfg, f.db, procRDB, logger, epoch)
		if err != nil {
			t.Fatal(err)
		}
		f.apps = append(f.apps, app)
		*srv = httptest.NewServer(app.Handler)
		t.Cleanup((*srv).Close)
		t.Cleanup(app.Close)
	}
	hash, err := auth.NewHasher(64, 1).Hash(testPassword)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, u := range []struct {
		id    *int64
		email string
		admin bool
	}{{&f.owner, "owner@example.com", false}, {&f.member, "member@example.com", false}, {&f.admin, "admin@example.com", true}} {
		created, err := f.db.CreateUser(ctx, u.email, "", hash, u.admin)
		if err != nil {
			t.Fatal(err)
		}
		*u.id = created.ID
	}
	d, err := f.db.CreateDeal(ctx, deal.Actor{UserID: f.owner}, "Atlas")
	if err != nil {
		t.Fatal(err)
	}
	f.dealID = d.ID
	if _, err := f.db.AddMember(ctx, deal.Actor{UserID: f.owner}, d.ID, "member@example.com", deal.RoleMember); err != nil {
		t.Fatal(err)
	}
	return f
}

// browser is one user's cookie jar, used against either process.
type browser struct {
	t testing.TB
	c *http.Client
}

func (f *accessFixture) signIn(t testing.TB, email string) *browser {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	b := &browser{t: t, c: &http.Client{Jar: jar}}
	if code, _ := b.do(f.a, http.MethodPost, "/api/auth/login", `{"email":"`+email+`","password":"`+testPassword+`"}`); code != http.StatusOK {
		t.Fatalf("sign in %s: got %d, want 200", email, code)
	}
	return b
}

func (b *browser) do(srv *httptest.Server, method, path, body string) (int, map[string]any) {
	b.t.Helper()
	req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// current is GET /api/deals/current's status on srv.
func (b *browser) current(srv *httptest.Server) int {
	b.t.Helper()
	code, _ := b.do(srv, http.MethodGet, "/api/deals/current", "")
	return code
}

func (b *browser) selectDeal(srv *httptest.Server, id int64) {
	b.t.Helper()
	if code, _ := b.do(srv, http.MethodPost, "/api/deals/"+strconv.FormatInt(id, 10)+"/select", ""); code != http.StatusOK {
		b.t.Fatalf("select: got %d, want 200", code)
	}
}

// silently runs sql with triggers off, as an edit that bumps no generation:
// what only a session served from its checked state would miss.
func (f *accessFixture) silently(t testing.TB, sql string, args ...any) {
	t.Helper()
	ctx := context.Background()
	conn, err := f.db.Pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SET session_replication_role = replica`); err != nil {
		t.Fatal(err)
	}
	defer func() { _, _ = conn.Exec(ctx, `SET session_replication_role = DEFAULT`) }()
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// servedThenRemovedSilently signs the member in, selects the deal on
// process a and reads it on b (which records b's decision), then removes
// the member by an edit that bumps nothing (silently): what only a decision
// served from the session would miss.
func (f *accessFixture) servedThenRemovedSilently(t testing.TB) *browser {
	t.Helper()
	m := f.signIn(t, "member@example.com")
	m.selectDeal(f.a, f.dealID)
	if got := m.current(f.b); got != http.StatusOK {
		t.Fatalf("current on the other process: got %d, want 200", got)
	}
	f.silently(t, `DELETE FROM deal_members WHERE deal_id = $1 AND user_id = $2`, f.dealID, f.member)
	return m
}

// resetDeal bumps the deal's generation, as `api access reset --deal`
// does, and relays it to Redis.
func (f *accessFixture) resetDeal(t testing.TB) {
	t.Helper()
	if err := f.db.ResetDealAccess(context.Background(), f.dealID); err != nil {
		t.Fatal(err)
	}
	if err := f.apps[0].access().Relay(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// The other process serves the selected deal from the session's checked
// state: an edit that bumps no generation goes unseen (proof that
// PostgreSQL was not asked) until the deal's access is reset.
func TestCurrentDealIsServedFromTheCheckedStateUntilAGenerationMoves(t *testing.T) {
	t.Parallel()
	f := setupAccess(t)
	m := f.servedThenRemovedSilently(t)
	if got := m.current(f.b); got != http.StatusOK {
		t.Fatalf("after an edit that bumped nothing: got %d, want 200 (served without PostgreSQL)", got)
	}
	f.resetDeal(t)
	for _, srv := range []*httptest.Server{f.b, f.a} {
		if got := m.current(srv); got != http.StatusNotFound && got != http.StatusConflict {
			t.Fatalf("after the deal's access reset: got %d, want 404 or 409", got)
		}
	}
}

// roundTrips is a go-redis hook counting round trips: one per command sent
// alone, one per pipeline.
type roundTrips struct{ n *atomic.Int64 }

func (roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}

func (h roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmds)
	}
}

// A hot read of the current deal (deal in the session, decision checked)
// costs one Redis round trip: the session and the generation copies that
// vouch for its decision come back together. Still, a generation that moved
// is seen by that same round trip.
func TestAHotReadIsOneRedisRoundTrip(t *testing.T) {
	t.Parallel()
	var trips atomic.Int64
	f := setupAccessWith(t, accessOptions{tripsB: &trips})
	m := f.signIn(t, "member@example.com")
	m.selectDeal(f.a, f.dealID)
	if got := m.current(f.b); got != http.StatusOK { // b records its check
		t.Fatalf("current: got %d, want 200", got)
	}
	// A gap between requests outlasts any background tick (the relay loop
	// and the store's probe share the client): take the fewest seen.
	best := int64(1 << 62)
	for range 5 {
		before := trips.Load()
		if got := m.current(f.b); got != http.StatusOK {
			t.Fatalf("current: got %d, want 200", got)
		}
		best = min(best, trips.Load()-before)
	}
	if best != 1 {
		t.Fatalf("a hot GET /api/deals/current made %d Redis round trips, want 1", best)
	}
	f.silently(t, `DELETE FROM deal_members WHERE deal_id = $1 AND user_id = $2`, f.dealID, f.member)
	f.resetDeal(t)
	if got := m.current(f.b); got != http.StatusNotFound && got != http.StatusConflict {
		t.Fatalf("after the deal's access reset: got %d, want 404 or 409", got)
	}
}

// An edit that bumps nothing (triggers off) is caught by the background
// re-check of the process that served the decision (every
// access.RecheckEvery; run here at once): after it, neither process serves
// the deal.
func TestAnEditThatBumpsNothingIsCaughtByTheRecheck(t *testing.T) {
	t.Parallel()
	f := setupAccess(t)
	m := f.servedThenRemovedSilently(t)
	if err := f.apps[1].access().Recheck(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, srv := range []*httptest.Server{f.b, f.a} {
		if got := m.current(srv); got != http.StatusNotFound && got != http.StatusConflict {
			t.Fatalf("after the re-check: got %d, want 404 or 409", got)
		}
	}
}

// A generation copy deleted (or evicted) from Redis is unknown: the next
// request asks PostgreSQL.
func TestAMissingGenerationCopyMeansAFullCheck(t *testing.T) {
	t.Parallel()
	f := setupAccess(t)
	m := f.servedThenRemovedSilently(t)
	copies := f.apps[1].access()
	if err := f.rdb.Del(context.Background(), copies.Key(postgres.GenDeal, f.dealID)).Err(); err != nil {
		t.Fatal(err)
	}
	if got := m.current(f.b); got != http.StatusNotFound {
		t.Fatalf("after DEL of the deal's generation: got %d, want 404 (asked PostgreSQL)", got)
	}
}

// Every revocation is seen by the next request on either process.
func TestRevocationReachesTheNextRequestOnEitherProcess(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cases := map[string]struct {
		user   string
		revoke func(t *testing.T, f *accessFixture)
	}{
		"member removed": {user: "member@example.com", revoke: func(t *testing.T, f *accessFixture) {
			o := f.signIn(t, "owner@example.com")
			if code, _ := o.do(f.a, http.MethodDelete, "/api/deals/"+strconv.FormatInt(f.dealID, 10)+"/members/"+strconv.FormatInt(f.member, 10), ""); code != http.StatusNoContent {
				t.Fatalf("remove member: got %d", code)
			}
		}},
		"deal deleted": {user: "member@example.com", revoke: func(t *testing.T, f *accessFixture) {
			o := f.signIn(t, "owner@example.com")
			if code, _ := o.do(f.a, http.MethodDelete, "/api/deals/"+strconv.FormatInt(f.dealID, 10), ""); code != http.StatusNoContent {
				t.Fatalf("delete deal: got %d", code)
			}
		}},
		"member deleted by hand": {user: "member@example.com", revoke: func(t *testing.T, f *accessFixture) {
			// The trigger bumps the deal; the relay of the process lands it.
			if _, err := f.db.Pool.Exec(ctx, `DELETE FROM deal_members WHERE deal_id = $1 AND user_id = $2`, f.dealID, f.member); err != nil {
				t.Fatal(err)
			}
			if err := f.apps[0].access().Relay(ctx); err != nil {
				t.Fatal(err)
			}
		}},
		"admin demoted": {user: "admin@example.com", revoke: func(t *testing.T, f *accessFixture) {
			if _, err := f.db.SetAdmin(ctx, "admin@example.com", false); err != nil {
				t.Fatal(err)
			}
			if err := f.apps[0].access().Relay(ctx); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := setupAccess(t)
			u := f.signIn(t, c.user)
			u.selectDeal(f.a, f.dealID)
			for _, srv := range []*httptest.Server{f.a, f.b} {
				if got := u.current(srv); got != http.StatusOK {
					t.Fatalf("before: got %d, want 200", got)
				}
			}
			c.revoke(t, f)
			for _, srv := range []*httptest.Server{f.b, f.a} {
				if got := u.current(srv); got != http.StatusNotFound && got != http.StatusConflict && got != http.StatusUnauthorized {
					t.Fatalf("after: got %d, want 404, 409 or 401", got)
				}
			}
		})
	}
}

// eventuallyDenied polls GET /api/deals/current on srv for a few replay
// ticks until the deal is refused, and fails if it never is.
func (b *browser) eventuallyDenied(srv *httptest.Server, within time.Duration) {
	b.t.Helper()
	deadline := time.Now().Add(within)
	for {
		got := b.current(srv)
		if got == http.StatusNotFound || got == http.StatusConflict || got == http.StatusUnauthorized {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("still served the deal %v after the revocation: got %d, want 404, 409 or 401", within, got)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// When the revoking process cannot write Redis after its commit, it denies
// at once itself, and the other process's relay lands the bump within a
// couple of replay ticks.
func TestARevocationRedisMissedIsRelayed(t *testing.T) {
	t.Parallel()
	proxy := testserver.StartProxy(t, mustHost(t, redistest.URL()))
	f := setupAccessVia(t, proxy, nil)
	m := f.signIn(t, "member@example.com")
	m.selectDeal(f.a, f.dealID)
	if got := m.current(f.b); got != http.StatusOK {
		t.Fatalf("before: got %d, want 200", got)
	}
	o := f.signIn(t, "owner@example.com")
	proxy.Cut()
	if code, _ := o.do(f.a, http.MethodDelete, "/api/deals/"+strconv.FormatInt(f.dealID, 10)+"/members/"+strconv.FormatInt(f.member, 10), ""); code != http.StatusNoContent {
		t.Fatalf("remove member with redis cut off: got %d, want 204", code)
	}
	if got := m.current(f.a); got != http.StatusNotFound {
		t.Fatalf("the revoking process: got %d, want 404 at once", got)
	}
	m.eventuallyDenied(f.b, 4*accessRelayTick)
}

// Redis frozen (every connection open, nothing answering) during the
// revocation and thawed after: no process serves the deal again.
func TestARevocationWhileRedisIsFrozen(t *testing.T) {
	t.Parallel()
	t.Run("SIGSTOP", func(t *testing.T) {
		t.Parallel()
		srv := testserver.StartRedis(t)
		f := setupAccessWith(t, accessOptions{redisURL: "redis://127.0.0.1:" + strconv.Itoa(srv.Port) + "/0"})
		revokeWhileFrozen(t, f, srv.Freeze, srv.Thaw)
	})
	t.Run("network black hole", func(t *testing.T) {
		t.Parallel()
		proxy := testserver.StartProxy(t, mustHost(t, redistest.URL()))
		f := setupAccessVia(t, proxy, proxy)
		revokeWhileFrozen(t, f, proxy.BlackHole, proxy.Heal)
	})
}

// revokeWhileFrozen removes the member from the deal while Redis answers
// nothing (freeze), and checks that neither process serves the deal, then or
// after thaw.
func revokeWhileFrozen(t *testing.T, f *accessFixture, freeze, thaw func()) {
	m := f.signIn(t, "member@example.com")
	m.selectDeal(f.a, f.dealID)
	if got := m.current(f.b); got != http.StatusOK {
		t.Fatalf("before: got %d, want 200", got)
	}
	o := f.signIn(t, "owner@example.com")
	freeze()
	thawed := false
	defer func() {
		if !thawed {
			thaw()
		}
	}()
	if code, _ := o.do(f.a, http.MethodDelete, "/api/deals/"+strconv.FormatInt(f.dealID, 10)+"/members/"+strconv.FormatInt(f.member, 10), ""); code != http.StatusNoContent {
		t.Fatalf("remove member with redis frozen: got %d, want 204", code)
	}
	for _, srv := range []*httptest.Server{f.a, f.b} {
		if got := m.current(srv); got == http.StatusOK {
			t.Fatalf("while frozen: got 200, want the deal refused")
		}
	}
	thaw()
	thawed = true
	for range 3 {
		for _, srv := range []*httptest.Server{f.a, f.b} {
			if got := m.current(srv); got == http.StatusOK {
				t.Fatalf("after the thaw: got 200, want the deal refused")
			}
		}
		time.Sleep(accessRelayTick)
	}
}

func mustHost(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

// Redis restarted from a snapshot taken before the revocation holds the
// old copies and the session's old decision, all consistent with each
// other: only the epoch (which internal/redisepoch's Tracker bumps when it
// sees the restarted Redis; here a stand-in moved by hand) stops them.
func TestARevocationUndoneByARedisSnapshotIsStillSeen(t *testing.T) {
	t.Parallel()
	srv := testserver.StartRedis(t)
	var epoch atomic.Uint64
	epoch.Store(1)
	f := setupAccessWith(t, accessOptions{redisURL: srv.URL(), epoch: epoch.Load})
	m := f.signIn(t, "member@example.com")
	m.selectDeal(f.a, f.dealID)
	if got := m.current(f.b); got != http.StatusOK {
		t.Fatalf("before: got %d, want 200", got)
	}
	if err := f.rdb.Save(context.Background()).Err(); err != nil {
		t.Fatalf("SAVE: %v", err)
	}
	o := f.signIn(t, "owner@example.com")
	if code, _ := o.do(f.a, http.MethodDelete, "/api/deals/"+strconv.FormatInt(f.dealID, 10)+"/members/"+strconv.FormatInt(f.member, 10), ""); code != http.StatusNoContent {
		t.Fatalf("remove member: got %d, want 204", code)
	}
	srv.Kill()
	srv.Start() // from the snapshot: the copies and the session as before the removal
	epoch.Add(1)
	for range 3 {
		for _, s := range []*httptest.Server{f.a, f.b} {
			if got := m.current(s); got == http.StatusOK {
				t.Fatalf("after the restart from the snapshot: got 200, want the deal refused")
			}
		}
		time.Sleep(accessRelayTick)
	}
}
