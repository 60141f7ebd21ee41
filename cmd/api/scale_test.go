package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dealctx/dealctx/internal/postgres"
	"github.com/dealctx/dealctx/internal/postgres/pgtemplate"
	"github.com/dealctx/dealctx/internal/postgres/pgtest"
	"github.com/dealctx/dealctx/internal/testserver"
	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

// These tests run the api through run() on topologies of more than one
// machine, each started by the test on loopback: PgBouncer in transaction
// mode, a Sentinel group that loses its primary, a three-primary Cluster.
// The worker is the real one: ./cmd/worker built once for this test binary
// and run as a process with the same environment.

// copyEnv returns a copy of env with the given overrides.
func copyEnv(env map[string]string, kv ...string) map[string]string {
	out := make(map[string]string, len(env)+len(kv)/2)
	for k, v := range env {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

// workerBinary is ./cmd/worker, built on the first test that starts one;
// TestMain removes it.
var workerBinary = &testserver.Binary{Root: "../..", Pkg: "./cmd/worker"}

// startWorker runs the worker process with env (its metrics on a free port)
// and waits until its /healthz answers. It gets SIGTERM when the test ends;
// an earlier exit fails the test, and a failed test shows its log.
func startWorker(t *testing.T, env map[string]string) {
	t.Helper()
	port := strconv.Itoa(testserver.FreePort(t))
	p := testserver.StartProcess(t, workerBinary.Path(t), copyEnv(env, "WORKER_METRICS_PORT", port))
	waitFor(t, 15*time.Second, "the worker's /healthz", func() (bool, string) {
		select {
		case <-p.Done():
			t.Fatalf("the worker exited at start:\n%s", p.Logs.String())
		default:
		}
		resp, err := http.Get("http://127.0.0.1:" + port + "/healthz")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status
	})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("worker log:\n%s", p.Logs.String())
		}
	})
}

// scaleBrowser is a client safe to use from many goroutines: it returns errors
// instead of failing the test.
type scaleBrowser struct {
	base string
	http *http.Client
}

func newScaleBrowser(base string) *scaleBrowser {
	jar, _ := cookiejar.New(nil)
	return &scaleBrowser{base: base, http: &http.Client{Jar: jar, Timeout: 10 * time.Second}}
}

// call sends a request and returns status, request id and body.
func (b *scaleBrowser) call(method, path string, body string) (int, string, []byte, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, b.base+path, rd)
	if err != nil {
		return 0, "", nil, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := b.http.Do(req)
	if err != nil {
		return 0, "", nil, err
	}
	out, err := io.ReadAll(resp.Body)
	if cerr := resp.Body.Close(); err == nil {
		err = cerr
	}
	return resp.StatusCode, resp.Header.Get("X-Request-ID"), out, err
}

// expect sends a request and returns an error unless the status is want.
func (b *scaleBrowser) expect(want int, method, path, body string) (string, []byte, error) {
	status, rid, out, err := b.call(method, path, body)
	if err != nil {
		return "", nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if status != want {
		return rid, out, fmt.Errorf("%s %s: got %d %s, want %d", method, path, status, out, want)
	}
	return rid, out, nil
}

func (b *scaleBrowser) login(email string, remember bool) (currentDeal int64, err error) {
	_, out, err := b.expect(http.StatusOK, "POST", "/api/auth/login",
		fmt.Sprintf(`{"email":%q,"password":"password-%s","remember":%t}`, email, email, remember))
	if err != nil {
		return 0, err
	}
	var r struct {
		CurrentDeal *struct{ ID int64 } `json:"current_deal"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		return 0, err
	}
	if r.CurrentDeal == nil {
		return 0, nil
	}
	return r.CurrentDeal.ID, nil
}

func (b *scaleBrowser) createDeal(name string) (int64, error) {
	_, out, err := b.expect(http.StatusCreated, "POST", "/api/deals", fmt.Sprintf(`{"name":%q}`, name))
	if err != nil {
		return 0, err
	}
	var r struct{ Deal struct{ ID int64 } }
	return r.Deal.ID, json.Unmarshal(out, &r)
}

// selectDeal selects id and returns the request id its audit event carries.
func (b *scaleBrowser) selectDeal(id int64) (string, error) {
	rid, _, err := b.expect(http.StatusOK, "POST", fmt.Sprintf("/api/deals/%d/select", id), "")
	if err == nil && rid == "" {
		err = fmt.Errorf("select %d: no X-Request-ID", id)
	}
	return rid, err
}

// currentDeal reads the session's current deal.
func (b *scaleBrowser) currentDeal() (int64, error) {
	_, out, err := b.expect(http.StatusOK, "GET", "/api/deals/current", "")
	if err != nil {
		return 0, err
	}
	var r struct {
		CurrentDeal struct{ ID int64 } `json:"current_deal"`
	}
	return r.CurrentDeal.ID, json.Unmarshal(out, &r)
}

// healthReport is the part of /api/health/session these tests read, with
// the Redis topology and node that only admins see (/api/admin/stats).
type healthReport struct {
	Status string
	Redis  struct {
		Healthy  bool
		Topology string
		Node     string
	}
}

// health reads the public report; with an admin's email it also signs in as
// that admin, afresh each time (a session may not outlive an outage), and
// reads the topology and node from /api/admin/stats.
func health(base, admin string) (healthReport, error) {
	var h healthReport
	_, out, err := newScaleBrowser(base).expect(http.StatusOK, "GET", "/api/health/session", "")
	if err != nil {
		return h, err
	}
	if err := json.Unmarshal(out, &h); err != nil || admin == "" {
		return h, err
	}
	b := newScaleBrowser(base)
	if _, err := b.login(admin, false); err != nil {
		return h, err
	}
	_, out, err = b.expect(http.StatusOK, "GET", "/api/admin/stats", "")
	if err != nil {
		return h, err
	}
	var st struct {
		Topology *string `json:"redis_topology"`
		Node     *string `json:"redis_node"`
	}
	if err := json.Unmarshal(out, &st); err != nil {
		return h, err
	}
	if st.Topology != nil {
		h.Redis.Topology = *st.Topology
	}
	if st.Node != nil {
		h.Redis.Node = *st.Node
	}
	return h, nil
}

// waitFor polls cond every 50 ms until it holds, failing the test after
// within.
func waitFor(t *testing.T, within time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ok, last := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v (last: %s)", what, within, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// auditedOnce waits until audit_log holds one deal.selected event per
// request id and the outbox is empty, then checks each id has exactly one.
func auditedOnce(t *testing.T, env map[string]string, requestIDs []string, within time.Duration) {
	t.Helper()
	waitFor(t, within, "every selection in audit_log", func() (bool, string) {
		n := sqlInt(t, env, `SELECT count(*) FROM audit_log WHERE action = 'deal.selected'`)
		waiting := sqlInt(t, env, `SELECT count(*) FROM audit_outbox`)
		return n == int64(len(requestIDs)) && waiting == 0, fmt.Sprintf("%d in audit_log, %d waiting, want %d", n, waiting, len(requestIDs))
	})
	db, err := postgres.Open(context.Background(), env["DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	pgtest.RequireSelectedOnce(t, db, requestIDs)
}

// emptyDatabase creates a database with no schema on the test server and
// returns its name; it is dropped when the test ends.
func emptyDatabase(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pgtemplate.AdminURL())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(ctx) }()
	name := fmt.Sprintf("dealctx_scale_%d", time.Now().UnixNano())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), pgtemplate.AdminURL())
		if err != nil {
			t.Logf("drop %s: %v", name, err)
			return
		}
		defer func() { _ = c.Close(context.Background()) }()
		if _, err := c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("drop %s: %v", name, err)
		}
	})
	return name
}

func TestTwoAPIsAndAWorkerThroughPgBouncerInTransactionMode(t *testing.T) {
	t.Parallel()
	bouncer := testserver.StartPgBouncer(t, pgtemplate.AdminURL(), 4)
	database := emptyDatabase(t)
	redisSrv := testserver.StartRedis(t)
	env := copyEnv(testEnv(t),
		"DATABASE_URL", bouncer.URLFor(database),
		"REDIS_URL", redisSrv.URL(),
		"AUDIT_SWEEP_CRON", "@every 1s",
		"SESSION_CLEANUP_CRON", "@every 2s",
		"PRUNE_STALE_DEALS_CRON", "@every 2s")

	// The schema goes in through the pooler: goose takes no session lock.
	if out := command(t, env, "", "migrate", "up"); !strings.Contains(out, "applied") || strings.Contains(out, "pending") {
		t.Fatalf("migrate up through PgBouncer: got\n%s\nwant every migration applied", out)
	}
	const clients = 24
	for i := range clients {
		createUser(t, env, fmt.Sprintf("pooled%d@example.com", i), false)
	}
	apis := []*api{startAPI(t, copyEnv(env)), startAPI(t, copyEnv(env))}
	startWorker(t, env)
	servers := watchServerConnections(t, database)

	var (
		mu       sync.Mutex
		selected []string
		errs     []error
		wg       sync.WaitGroup
	)
	for i := range clients {
		wg.Go(func() {
			err := func() error {
				b := newScaleBrowser(apis[i%2].URL)
				email := fmt.Sprintf("pooled%d@example.com", i)
				if _, err := b.login(email, i%3 == 0); err != nil {
					return err
				}
				var deals []int64
				for d := range 2 {
					id, err := b.createDeal(fmt.Sprintf("%s deal %d", email, d))
					if err != nil {
						return err
					}
					deals = append(deals, id)
				}
				for round := range 6 {
					want := deals[round%2]
					rid, err := b.selectDeal(want)
					if err != nil {
						return err
					}
					mu.Lock()
					selected = append(selected, rid)
					mu.Unlock()
					// The other api reads what this one wrote.
					other := &scaleBrowser{base: apis[(i+1)%2].URL, http: b.http}
					got, err := other.currentDeal()
					if err != nil {
						return err
					}
					if got != want {
						return fmt.Errorf("%s round %d: current deal on the other api: got %d, want %d", email, round, got, want)
					}
					if _, _, err := b.expect(http.StatusOK, "GET", "/api/deals/list", ""); err != nil {
						return err
					}
				}
				return nil
			}()
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		t.Logf("api logs:\n%s\n%s", apis[0].stderr.String(), apis[1].stderr.String())
		return
	}
	auditedOnce(t, env, selected, 20*time.Second)
	if out := command(t, env, "", "migrate", "status"); strings.Contains(out, "pending") {
		t.Errorf("migrate status through PgBouncer: got\n%s\nwant nothing pending", out)
	}
	// Three processes' pools and 24 clients shared PgBouncer's 4 server
	// connections: PostgreSQL never saw more.
	most := servers.Stop()
	t.Logf("PostgreSQL held at most %d connections to %s", most, database)
	if most == 0 || most > 4 {
		t.Errorf("PostgreSQL connections to %s while 2 apis and a worker ran through PgBouncer: got at most %d, want 1 to 4", database, most)
	}
}

// connectionWatch samples how many connections the real PostgreSQL server
// holds to one database.
type connectionWatch struct {
	stop chan struct{}
	done chan int64
}

// watchServerConnections samples pg_stat_activity on the test server (not
// through the pooler) every 10 ms until Stop.
func watchServerConnections(t *testing.T, database string) *connectionWatch {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pgtemplate.AdminURL())
	if err != nil {
		t.Fatal(err)
	}
	w := &connectionWatch{stop: make(chan struct{}), done: make(chan int64, 1)}
	go func() {
		defer func() { _ = conn.Close(ctx) }()
		var most int64
		for {
			var n int64
			if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = $1`, database).Scan(&n); err == nil && n > most {
				most = n
			}
			select {
			case <-w.stop:
				w.done <- most
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	t.Cleanup(func() {
		select {
		case <-w.stop:
		default:
			w.Stop()
		}
	})
	return w
}

// Stop ends the sampling and returns the most connections seen.
func (w *connectionWatch) Stop() int64 {
	close(w.stop)
	return <-w.done
}

// load keeps signed-in browsers reading and selecting until stop is
// closed, and records every answer a user would notice: a 5xx, a sign-out
// (401) or a wrong current deal.
type loadRun struct {
	stop     chan struct{}
	wg       sync.WaitGroup
	requests atomic.Int64
	mu       sync.Mutex
	failures []string
	selected []string
}

func startLoad(browsers []*scaleBrowser, deals []int64) *loadRun {
	l := &loadRun{stop: make(chan struct{})}
	for i, b := range browsers {
		l.wg.Go(func() {
			for n := 0; ; n++ {
				select {
				case <-l.stop:
					return
				default:
				}
				var err error
				if n%4 == 0 {
					var rid string
					if rid, err = b.selectDeal(deals[i]); err == nil {
						l.mu.Lock()
						l.selected = append(l.selected, rid)
						l.mu.Unlock()
					}
				} else {
					var got int64
					if got, err = b.currentDeal(); err == nil && got != deals[i] {
						err = fmt.Errorf("current deal: got %d, want %d", got, deals[i])
					}
				}
				l.requests.Add(1)
				if err != nil {
					l.mu.Lock()
					l.failures = append(l.failures, err.Error())
					l.mu.Unlock()
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
	return l
}

// Stop ends the load and returns what went wrong and the selections made.
func (l *loadRun) Stop() (failures, selected []string) {
	close(l.stop)
	l.wg.Wait()
	return l.failures, l.selected
}

// signedIn creates n users, signs each in on base with a deal selected, and
// returns the browsers, their deals and the selections' request ids.
func signedIn(t *testing.T, env map[string]string, base, who string, n int) ([]*scaleBrowser, []int64, []string) {
	t.Helper()
	var browsers []*scaleBrowser
	var deals []int64
	var selected []string
	for i := range n {
		email := fmt.Sprintf("%s%d@example.com", who, i)
		createUser(t, env, email, false)
		b := newScaleBrowser(base)
		if _, err := b.login(email, false); err != nil {
			t.Fatal(err)
		}
		id, err := b.createDeal(email + " deal")
		if err != nil {
			t.Fatal(err)
		}
		rid, err := b.selectDeal(id)
		if err != nil {
			t.Fatal(err)
		}
		browsers, deals, selected = append(browsers, b), append(deals, id), append(selected, rid)
	}
	return browsers, deals, selected
}

// sessionKeys counts the keys of env's session prefix on the server at addr.
func sessionKeys(t *testing.T, addr, prefix string) int {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: time.Second, ReadTimeout: time.Second, MaxRetries: -1})
	defer func() { _ = c.Close() }()
	keys, err := c.Keys(context.Background(), prefix+"session:*").Result()
	if err != nil {
		t.Fatalf("KEYS on %s: %v", addr, err)
	}
	return len(keys)
}

// holds reports whether the cluster node at addr stores key itself.
func holds(t *testing.T, addr, key string) bool {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: time.Second, ReadTimeout: time.Second, MaxRetries: -1})
	defer func() { _ = c.Close() }()
	n, err := c.Exists(context.Background(), key).Result()
	return err == nil && n == 1 // another node's slot answers MOVED
}

func TestSentinelFailoverUnderLoadSignsNoOneOut(t *testing.T) {
	t.Parallel()
	group := testserver.StartSentinelGroup(t)
	env := copyEnv(testEnv(t),
		"REDIS_URL", "",
		"REDIS_SENTINEL_ADDRS", strings.Join(group.Addrs(), ","),
		"REDIS_SENTINEL_MASTER", group.MasterName(),
		"SESSION_STORE", "tiered",
		"AUDIT_SWEEP_CRON", "@every 1s")
	createUser(t, env, "failover-admin@example.com", true)
	a := startAPI(t, env)
	startWorker(t, env)
	primary := group.MasterAddr()
	waitFor(t, 10*time.Second, "health names the Sentinel master", func() (bool, string) {
		h, err := health(a.URL, "failover-admin@example.com")
		return err == nil && h.Status == "ok" && h.Redis.Topology == "sentinel" && h.Redis.Node == primary, fmt.Sprintf("%+v %v", h, err)
	})
	browsers, deals, selected := signedIn(t, env, a.URL, "failover", 6)

	l := startLoad(browsers, deals)
	group.KillPrimary()
	promoted := group.WaitFailover(primary, 30*time.Second)
	waitFor(t, 30*time.Second, "health ok on the promoted primary without a restart", func() (bool, string) {
		h, err := health(a.URL, "failover-admin@example.com")
		return err == nil && h.Status == "ok" && h.Redis.Node == promoted, fmt.Sprintf("%+v %v", h, err)
	})
	// A little load on the promoted primary, through the closed breaker.
	before := l.requests.Load()
	waitFor(t, 10*time.Second, "requests after the failover", func() (bool, string) {
		return l.requests.Load() >= before+20, ""
	})
	failures, more := l.Stop()
	for _, f := range failures {
		t.Errorf("during the failover: %s", f)
	}
	t.Logf("%d requests under load; primary %s -> %s", l.requests.Load(), primary, promoted)

	// New sessions are written to the promoted primary.
	keysBefore := sessionKeys(t, promoted, env["REDIS_KEY_PREFIX"])
	createUser(t, env, "after@example.com", false)
	b := newScaleBrowser(a.URL)
	if _, err := b.login("after@example.com", false); err != nil {
		t.Fatal(err)
	}
	if got := sessionKeys(t, promoted, env["REDIS_KEY_PREFIX"]); got <= keysBefore {
		t.Errorf("session keys on the promoted primary %s: got %d after a sign-in, want more than %d", promoted, got, keysBefore)
	}
	id, err := b.createDeal("after the failover")
	if err != nil {
		t.Fatal(err)
	}
	rid, err := b.selectDeal(id)
	if err != nil {
		t.Fatal(err)
	}
	// Selections committed after the failover, each browser's other deal.
	after := []string{rid}
	for i, br := range browsers {
		id, err := br.createDeal(fmt.Sprintf("failover%d deal after", i))
		if err != nil {
			t.Fatal(err)
		}
		if rid, err = br.selectDeal(id); err != nil {
			t.Fatal(err)
		}
		after = append(after, rid)
	}
	// The worker process lived through the failover: its wakes and its
	// schedule, now on the promoted primary, moved every event into audit_log.
	auditedOnce(t, env, append(append(selected, more...), after...), 20*time.Second)
}

func TestRedisClusterSignInSelectRestoreAndLogoutDuringAnOutage(t *testing.T) {
	t.Parallel()
	cluster := testserver.StartCluster(t)
	env := copyEnv(testEnv(t),
		"REDIS_URL", "",
		"REDIS_CLUSTER_ADDRS", strings.Join(cluster.Addrs(), ","),
		"SESSION_STORE", "tiered",
		"AUDIT_SWEEP_CRON", "@every 1s",
		"SESSION_CLEANUP_CRON", "@every 1s")
	createUser(t, env, "cluster-admin@example.com", true)
	a := startAPI(t, env)
	startWorker(t, env)
	waitFor(t, 10*time.Second, "health names the cluster", func() (bool, string) {
		h, err := health(a.URL, "cluster-admin@example.com")
		return err == nil && h.Status == "ok" && h.Redis.Topology == "cluster" && h.Redis.Node != "", fmt.Sprintf("%+v %v", h, err)
	})
	browsers, deals, selected := signedIn(t, env, a.URL, "cluster", 3)

	// Restore: a new sign-in brings back the deal last selected.
	b := browsers[0]
	if _, _, err := b.expect(http.StatusNoContent, "POST", "/api/auth/logout", ""); err != nil {
		t.Fatal(err)
	}
	got, err := b.login("cluster0@example.com", true)
	if err != nil {
		t.Fatal(err)
	}
	if got != deals[0] {
		t.Fatalf("restored deal after signing in again: got %d, want %d", got, deals[0])
	}
	if cur, err := b.currentDeal(); err != nil || cur != deals[0] {
		t.Fatalf("current deal after restore: got %d (%v), want %d", cur, err, deals[0])
	}

	// Logout during an outage: a node other than the one holding browser
	// 1's session dies, the cluster stops serving, and browser 1 signs out
	// meanwhile; its Redis copy survives on the live node.
	out := browsers[1]
	u, _ := url.Parse(a.URL)
	// stale keeps the cookie that logout is about to end.
	stale := newScaleBrowser(a.URL)
	stale.http.Jar.SetCookies(u, out.http.Jar.Cookies(u))
	var token string
	for _, c := range out.http.Jar.Cookies(u) {
		if c.Name == "session" {
			token = c.Value
		}
	}
	holder := -1
	for i, n := range cluster.Nodes {
		if holds(t, n.Addr(), env["REDIS_KEY_PREFIX"]+"session:"+token) {
			holder = i
		}
	}
	if token == "" || holder < 0 {
		t.Fatalf("browser 1's session (token %t) is on no node", token != "")
	}
	victim, alive := (holder+1)%3, holder
	cluster.Nodes[victim].Kill()
	waitFor(t, 15*time.Second, "the cluster refuses to serve", func() (bool, string) {
		s, err := cluster.State(alive)
		return err == nil && s == "fail", fmt.Sprintf("%q %v", s, err)
	})
	if _, _, err := out.expect(http.StatusNoContent, "POST", "/api/auth/logout", ""); err != nil {
		t.Fatalf("logout while the cluster is down: %v", err)
	}
	// The others keep their sessions, carried by PostgreSQL.
	for _, i := range []int{0, 2} {
		if cur, err := browsers[i].currentDeal(); err != nil || cur != deals[i] {
			t.Errorf("browser %d while the cluster is down: got %d (%v), want %d", i, cur, err, deals[i])
		}
	}
	cluster.Nodes[victim].Start()
	waitFor(t, 30*time.Second, "health ok once the cluster is back", func() (bool, string) {
		h, err := health(a.URL, "")
		return err == nil && h.Status == "ok", fmt.Sprintf("%+v %v", h, err)
	})
	if status, _, body, err := stale.call("GET", "/api/deals/current", ""); err != nil || status != http.StatusUnauthorized {
		t.Errorf("the signed-out session's cookie after the outage: got %d %s (%v), want 401", status, body, err)
	}
	for _, i := range []int{0, 2} {
		rid, err := browsers[i].selectDeal(deals[i])
		if err != nil {
			t.Fatal(err)
		}
		selected = append(selected, rid)
	}
	// The worker's jobs ran on the cluster: the audit events landed.
	auditedOnce(t, env, selected, 20*time.Second)
}
