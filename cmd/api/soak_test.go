package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dealctx/dealctx/internal/jobs"
	"github.com/dealctx/dealctx/internal/postgres"
	"github.com/dealctx/dealctx/internal/testserver"
)

// soakFor is how long each drill's load runs: `make soak` sets 60s; plain
// `go test` runs the short version.
var soakFor = flag.Duration("soak", 0, "run the failure drills' load for this long (default: a short version)")

func drillDuration() time.Duration {
	if *soakFor > 0 {
		return *soakFor
	}
	return 6 * time.Second
}

func drillUsers() int {
	if *soakFor > 0 {
		return 24
	}
	return 8
}

// drill is one run of mixed load against one api, with a stand-in worker.
type drill struct {
	t       *testing.T
	api     *api
	db      *postgres.DB
	allow5x bool // 503s are expected (PostgreSQL outage)

	mu        sync.Mutex
	problems  []string
	nProblems int
	selects   map[string]bool // request id → response was 200
	requests  atomic.Int64
	status    [600]atomic.Int64
	reqSeq    atomic.Int64
}

func (d *drill) problem(format string, args ...any) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.nProblems++
	if len(d.problems) < 20 {
		d.problems = append(d.problems, fmt.Sprintf(format, args...))
	}
}

// send is one request from a simulated browser; it never fails the test
// from its goroutine.
func (d *drill) send(c *http.Client, method, path, reqID string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, d.api.URL+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if reqID != "" {
		req.Header.Set("X-Request-ID", reqID)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	d.requests.Add(1)
	if resp.StatusCode < len(d.status) {
		d.status[resp.StatusCode].Add(1)
	}
	return resp.StatusCode, b, nil
}

// check judges a status: 5xx are problems unless 503 during a PostgreSQL
// outage; 401 on a signed-in browser means someone was signed out.
func (d *drill) check(what string, status int, body []byte, err error, want int) (ok bool) {
	switch {
	case err != nil:
		d.problem("%s: %v", what, err)
	case status == want:
		return true
	case status == http.StatusServiceUnavailable && d.allow5x:
	case status >= 500:
		d.problem("%s: got %d %s, want %d", what, status, body, want)
	case status == http.StatusUnauthorized:
		d.problem("%s: got 401 %s: a signed-in user was signed out", what, body)
	default:
		d.problem("%s: got %d %s, want %d", what, status, body, want)
	}
	return false
}

func newBrowser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 15 * time.Second}
}

// soakUser is one simulated person with deals of their own, in one browser at a
// time.
type soakUser struct {
	email string
	deals []int64
}

// run drives one user until ctx ends: sign in, select, read, restore in a
// new browser, create a deal now and then, sign out now and then.
func (d *drill) run(ctx context.Context, u *soakUser, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 7))
	browser, signedIn := newBrowser(), false
	pause := func() { time.Sleep(time.Duration(5+rng.IntN(20)) * time.Millisecond) }
	for ctx.Err() == nil {
		if !signedIn {
			st, b, err := d.send(browser, "POST", "/api/auth/login", "", map[string]any{
				"email": u.email, "password": "password-" + u.email, "remember": rng.IntN(2) == 0})
			if d.check(u.email+" sign-in", st, b, err, 200) {
				signedIn = true
			} else {
				pause()
				continue
			}
		}
		switch n := rng.IntN(20); {
		case n < 10:
			id := u.deals[rng.IntN(len(u.deals))]
			reqID := "soak-" + strconv.FormatInt(d.reqSeq.Add(1), 10)
			st, b, err := d.send(browser, "POST", "/api/deals/"+itoa(id)+"/select", reqID, nil)
			ok := d.check(u.email+" select", st, b, err, 200)
			d.mu.Lock()
			d.selects[reqID] = ok
			d.mu.Unlock()
		case n < 15:
			st, b, err := d.send(browser, "GET", "/api/me", "", nil)
			d.check(u.email+" me", st, b, err, 200)
		case n < 17:
			// A new browser: signing in restores the last deal.
			browser = newBrowser()
			signedIn = false
		case n < 18:
			st, b, err := d.send(browser, "POST", "/api/deals", "", map[string]string{"name": "Soak " + strconv.Itoa(rng.IntN(1000))})
			d.check(u.email+" create", st, b, err, 201)
		default:
			st, b, err := d.send(browser, "POST", "/api/auth/logout", "", nil)
			if d.check(u.email+" logout", st, b, err, 204) {
				signedIn = false
			} else {
				// Unknown outcome: start over in a fresh browser.
				browser, signedIn = newBrowser(), false
			}
		}
		pause()
	}
	browser.CloseIdleConnections()
}

// worker runs the worker's audit job (jobs.FlushAudit, what its audit:flush
// handler and sweep run) in a loop until ctx ends; cancelling ctx mid-move
// is a crash. The asynq plumbing around it is tested in cmd/worker.
func (d *drill) worker(ctx context.Context) {
	deps := jobs.Deps{DB: d.db, Logger: slog.New(slog.DiscardHandler), BatchSize: 200}
	for ctx.Err() == nil {
		// An error while ctx ends is the crash; during a PostgreSQL outage
		// (allow5x) it is expected. Any other is a problem.
		if _, err := jobs.FlushAudit(ctx, deps); err != nil && ctx.Err() == nil && !d.allow5x {
			d.problem("worker: audit flush: %v", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// load runs the users and the worker for dur, calling faults at given
// fractions of dur in order.
func (d *drill) load(users []*soakUser, dur time.Duration, faults []fault) {
	ctx, cancel := context.WithTimeout(context.Background(), dur)
	defer cancel()
	var wg sync.WaitGroup
	for i, u := range users {
		wg.Go(func() { d.run(ctx, u, uint64(i)) })
	}
	start := time.Now()
	for _, f := range faults {
		time.Sleep(time.Until(start.Add(time.Duration(f.at * float64(dur)))))
		d.t.Logf("%5.1fs %s", time.Since(start).Seconds(), f.name)
		f.do()
	}
	<-ctx.Done()
	wg.Wait()
}

type fault struct {
	at   float64
	name string
	do   func()
}

// startWorker runs a stand-in worker and returns its kill switch.
func (d *drill) startWorker() (kill func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.worker(ctx); close(done) }()
	return func() { cancel(); <-done }
}

// setupDrill creates the users (each with two deals) and signs each in
// once, through an api on env.
func setupDrill(t *testing.T, env map[string]string, allow5x bool) (*drill, []*soakUser) {
	t.Helper()
	a := startAPI(t, env)
	db, err := postgres.Open(context.Background(), env["DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	d := &drill{t: t, api: a, db: db, allow5x: allow5x, selects: map[string]bool{}}
	var users []*soakUser
	for i := range drillUsers() {
		u := &soakUser{email: "soak" + strconv.Itoa(i) + "@example.com"}
		createUser(t, env, u.email, false)
		c := newClient(t, a)
		c.login(u.email, false)
		u.deals = []int64{c.createDeal("A " + u.email), c.createDeal("B " + u.email)}
		c.http.CloseIdleConnections()
		users = append(users, u)
	}
	return d, users
}

// checkAudit waits for the outbox to drain with a worker running and checks that
// every select answered 200 was audited exactly once, and no select twice.
func (d *drill) checkAudit(t *testing.T) {
	t.Helper()
	kill := d.startWorker()
	defer kill()
	deadline := time.Now().Add(20 * time.Second)
	for {
		n, err := d.db.PendingAuditEvents(context.Background())
		if err == nil && n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("audit outbox after the drill: got %d pending (%v), want 0 within 20s", n, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	rows, err := d.db.Pool.Query(context.Background(),
		`SELECT request_id, count(*) FROM audit_log WHERE action = 'deal.selected' GROUP BY request_id`)
	if err != nil {
		t.Fatal(err)
	}
	logged := map[string]int{}
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			t.Fatal(err)
		}
		logged[id] = n
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	ok200 := 0
	for id, ok := range d.selects {
		if ok {
			ok200++
			if logged[id] != 1 {
				t.Errorf("select %s answered 200: audited %d times, want exactly once", id, logged[id])
			}
		}
	}
	for id, n := range logged {
		if n > 1 {
			t.Errorf("select %s: audited %d times, want at most once", id, n)
		}
	}
	if ok200 == 0 {
		t.Fatalf("no select succeeded during the drill: the load did not run")
	}
	t.Logf("selects: %d answered 200 of %d sent; %d audited", ok200, len(d.selects), len(logged))
}

func (d *drill) report(t *testing.T) {
	t.Helper()
	var counts []string
	for st := range d.status {
		if n := d.status[st].Load(); n > 0 {
			counts = append(counts, fmt.Sprintf("%d×%d", n, st))
		}
	}
	t.Logf("requests: %d %v", d.requests.Load(), counts)
	if d.nProblems > 0 {
		t.Errorf("%d problems during the drill, first ones:\n%s", d.nProblems, joinLines(d.problems))
		for _, line := range bytes.Split([]byte(d.api.stderr.String()), []byte("\n")) {
			if bytes.Contains(line, []byte(`"level":"ERROR"`)) {
				t.Logf("api: %s", line)
			}
		}
	}
}

func joinLines(ss []string) string {
	var b bytes.Buffer
	for _, s := range ss {
		b.WriteString("  " + s + "\n")
	}
	return b.String()
}

// footprint is the process's goroutines and live heap after a GC.
type footprint struct {
	goroutines int
	heap       uint64
}

func measure() footprint {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return footprint{goroutines: runtime.NumGoroutine(), heap: m.HeapAlloc}
}

// checkFlat fails unless goroutines and heap came back to about where they
// were before the load (the api runs in this process).
func checkFlat(t *testing.T, before footprint) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		after := measure()
		gOK := after.goroutines <= before.goroutines+10
		hOK := after.heap <= 2*before.heap+32<<20
		if gOK && hOK {
			t.Logf("goroutines %d → %d, heap %d MiB → %d MiB", before.goroutines, after.goroutines, before.heap>>20, after.heap>>20)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the drill: goroutines %d (before %d), heap %d MiB (before %d MiB); want them flat",
				after.goroutines, before.goroutines, after.heap>>20, before.heap>>20)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestSoakRedisAndWorkerFailures: a mixed load while Redis is killed and
// restarted twice and the worker is killed once. No 5xx, no one signed out,
// every successful select audited exactly once, goroutines and memory flat.
// Not parallel: it measures the whole process.
func TestSoakRedisAndWorkerFailures(t *testing.T) {
	rs := testserver.StartRedis(t)
	env := testEnv(t)
	env["REDIS_URL"] = rs.URL()
	d, users := setupDrill(t, env, false)
	before := measure()

	killWorker := d.startWorker()
	d.load(users, drillDuration(), []fault{
		{0.15, "kill Redis", rs.Kill},
		{0.30, "restart Redis", rs.Start},
		{0.40, "kill the worker", killWorker},
		{0.55, "kill Redis", rs.Kill},
		{0.70, "restart Redis", rs.Start},
		{0.75, "restart the worker", func() { killWorker = d.startWorker() }},
	})
	killWorker()
	d.report(t)
	d.checkAudit(t)
	checkFlat(t, before)
}

// TestSoakPostgresRestart: the same load while PostgreSQL is killed and
// restarted once: 503s during the outage only, nothing half-written, and
// recovery without intervention.
func TestSoakPostgresRestart(t *testing.T) {
	pg := testserver.StartPostgres(t)
	env := testEnv(t)
	// The private cluster runs with synchronous_commit=off for speed; that
	// loses acknowledged commits on a crash, which production's default
	// (on) does not. The drill asks for production's setting.
	env["DATABASE_URL"] = pg.URL() + "&synchronous_commit=on"
	command(t, env, "", "migrate", "up")
	d, users := setupDrill(t, env, true)
	before := measure()

	killWorker := d.startWorker()
	d.load(users, drillDuration(), []fault{
		{0.30, "kill PostgreSQL", pg.Kill},
		{0.50, "restart PostgreSQL", pg.Start},
	})
	killWorker()
	d.report(t)
	if d.status[http.StatusServiceUnavailable].Load() == 0 {
		t.Errorf("503s during the outage: got none, want some (did the fault take effect?)")
	}

	// Recovery by itself: every user can sign in and read within 20s.
	deadline := time.Now().Add(20 * time.Second)
	for _, u := range users {
		b := newBrowser()
		for {
			st, _, err := d.send(b, "POST", "/api/auth/login", "", map[string]any{"email": u.email, "password": "password-" + u.email})
			if err == nil && st == 200 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s sign-in after PostgreSQL came back: got %d (%v), want 200 within 20s", u.email, st, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		b.CloseIdleConnections()
	}
	d.checkAudit(t)

	// Nothing half-written: every deal has its owner row and its
	// deal.created event; every last deal is one the user may open.
	for name, q := range map[string]string{
		"deals without an owner row": `SELECT count(*) FROM deals d WHERE NOT EXISTS (
			SELECT 1 FROM deal_members m WHERE m.deal_id = d.id AND m.user_id = d.owner_id AND m.role = 'owner')`,
		"deals without a deal.created event": `SELECT count(*) FROM deals d WHERE NOT EXISTS (
			SELECT 1 FROM audit_log a WHERE a.deal_id = d.id AND a.action = 'deal.created')`,
		"deal.created events without a deal": `SELECT count(*) FROM audit_log a WHERE a.action = 'deal.created'
			AND NOT EXISTS (SELECT 1 FROM deals d WHERE d.id = a.deal_id)`,
		"last deals the user may not open": `SELECT count(*) FROM users u WHERE u.last_deal_id IS NOT NULL
			AND NOT EXISTS (SELECT 1 FROM deal_members m WHERE m.deal_id = u.last_deal_id AND m.user_id = u.id)`,
	} {
		if n := sqlInt(t, env, q); n != 0 {
			t.Errorf("%s: got %d, want 0", name, n)
		}
	}
	checkFlat(t, before)
}
