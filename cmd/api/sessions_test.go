package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dealctx/dealctx/internal/testserver"
	"github.com/redis/go-redis/v9"
)

// Tests of the session layer under Redis and PostgreSQL failures, through
// real api processes (run() on free ports) sharing one database and Redis.

// startAPIs starts n api processes on the same environment.
func startAPIs(t *testing.T, env map[string]string, n int) []*api {
	t.Helper()
	apis := make([]*api, n)
	for i := range apis {
		apis[i] = startAPI(t, maps.Clone(env))
	}
	return apis
}

// sessionHealth is GET /api/health/session's body, with the breaker (which
// anonymous callers no longer see there) read from /metrics.
type sessionHealth struct {
	Status string
	Store  string
	Redis  struct {
		Configured, Healthy bool
		Breaker             string `json:"-"`
	}
	Postgres struct{ Healthy bool }
}

func getHealth(t *testing.T, a *api) sessionHealth {
	t.Helper()
	resp, err := http.Get(a.URL + "/api/health/session")
	if err != nil {
		t.Fatalf("health: %v", err)
	}
	defer resp.Body.Close()
	var h sessionHealth
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&h) != nil {
		t.Fatalf("health: got %d, want 200 with the report", resp.StatusCode)
	}
	series, _ := scrape(t, a)
	if v, ok := series["dealctx_session_redis_breaker_state"]; ok {
		h.Redis.Breaker = map[float64]string{0: "closed", 1: "half-open", 2: "open"}[v]
	}
	return h
}

// eventually polls cond every 50ms until it holds, failing the test after limit.
func eventually(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// sessionCookie is the client's session token.
func (c *client) sessionCookie() string {
	u, _ := url.Parse(c.base)
	for _, ck := range c.http.Jar.Cookies(u) {
		if ck.Name == "session" {
			return ck.Value
		}
	}
	return ""
}

// user is one signed-in browser with two deals, for load loops.
type user struct {
	c     *client
	deals [2]int64
	// current is the deal last selected.
	current int64
}

func newUser(t *testing.T, env map[string]string, a *api, email string) *user {
	t.Helper()
	createUser(t, env, email, false)
	u := &user{c: newClient(t, a)}
	u.c.login(email, false)
	u.deals = [2]int64{u.c.createDeal("One"), u.c.createDeal("Two")}
	if r := u.c.do("POST", "/api/deals/"+itoa(u.deals[0])+"/select", nil); r.Status != http.StatusOK {
		t.Fatalf("select: got %d %s, want 200", r.Status, r.Body)
	}
	u.current = u.deals[0]
	return u
}

// call is one request of a load loop; it never fails the test itself.
type call struct {
	at      time.Time
	status  int
	took    time.Duration
	problem string
}

// step makes one request through a: every fifth selects the other deal,
// the rest read the current deal and check it is the one last selected.
func (u *user) step(a *api, i int) call {
	method, path := "GET", "/api/deals/current"
	next := u.current
	if i%5 == 0 {
		next = u.deals[0] + u.deals[1] - u.current
		method, path = "POST", "/api/deals/"+itoa(next)+"/select"
	}
	req, _ := http.NewRequest(method, a.URL+path, nil)
	start := time.Now()
	resp, err := u.c.http.Do(req)
	c := call{at: start, took: time.Since(start)}
	if err != nil {
		c.problem = err.Error()
		return c
	}
	defer resp.Body.Close()
	c.status = resp.StatusCode
	var body struct {
		CurrentDeal struct{ ID int64 } `json:"current_deal"`
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		c.problem = fmt.Sprintf("%s %s: got %d %s, want 200", method, path, resp.StatusCode, b)
		return c
	}
	if err := json.Unmarshal(b, &body); err != nil {
		c.problem = fmt.Sprintf("%s %s: decode %s: %v", method, path, b, err)
		return c
	}
	if body.CurrentDeal.ID != next {
		c.problem = fmt.Sprintf("%s %s on %s: got deal %d, want %d", method, path, a.URL, body.CurrentDeal.ID, next)
		return c
	}
	u.current = next
	return c
}

// load runs every user's loop, round-robin over apis, until stop closes.
func load(users []*user, apis []*api, stop <-chan struct{}) []call {
	var mu sync.Mutex
	var calls []call
	var wg sync.WaitGroup
	for _, u := range users {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				c := u.step(apis[i%len(apis)], i)
				mu.Lock()
				calls = append(calls, c)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return calls
}

func p99(calls []call) time.Duration {
	if len(calls) == 0 {
		return 0
	}
	d := make([]time.Duration, len(calls))
	for i, c := range calls {
		d[i] = c.took
	}
	slices.Sort(d)
	return d[len(d)*99/100]
}

func between(calls []call, from, to time.Time) []call {
	var out []call
	for _, c := range calls {
		if !c.at.Before(from) && c.at.Before(to) {
			out = append(out, c)
		}
	}
	return out
}

func TestSessionsSurviveRedisKilledUnderLoadOnTwoInstances(t *testing.T) {
	t.Parallel()
	rs := testserver.StartRedis(t)
	env := testEnv(t)
	env["REDIS_URL"] = rs.URL()
	apis := startAPIs(t, env, 2)
	users := make([]*user, 4)
	for i := range users {
		users[i] = newUser(t, env, apis[0], "load"+strconv.Itoa(i)+"@example.com")
	}
	for _, a := range apis {
		if h := getHealth(t, a); h.Store != "tiered" || h.Status != "ok" {
			t.Fatalf("health before: got %+v, want tiered and ok", h)
		}
	}

	stop := make(chan struct{})
	done := make(chan []call)
	go func() { done <- load(users, apis, stop) }()
	time.Sleep(500 * time.Millisecond)
	rs.Kill()
	killedAt := time.Now()
	for _, a := range apis {
		eventually(t, 5*time.Second, "breaker opens on "+a.URL, func() bool {
			h := getHealth(t, a)
			return h.Status == "degraded" && h.Redis.Breaker == "open"
		})
	}
	time.Sleep(time.Second)
	rs.Start()
	restartedAt := time.Now()
	for _, a := range apis {
		eventually(t, 10*time.Second, "health ok again on "+a.URL, func() bool {
			h := getHealth(t, a)
			return h.Status == "ok" && h.Redis.Breaker == "closed"
		})
	}
	recoveredAt := time.Now()
	time.Sleep(500 * time.Millisecond)
	close(stop)
	calls := <-done

	problems := 0
	for _, c := range calls {
		if c.problem != "" {
			if problems++; problems <= 5 {
				t.Errorf("request at +%s: %s", c.at.Sub(killedAt).Round(time.Millisecond), c.problem)
			}
		}
	}
	if problems > 0 {
		t.Errorf("%d of %d requests failed or saw the wrong deal, want none", problems, len(calls))
	}
	outage := between(calls, killedAt, restartedAt)
	if len(outage) < 20 {
		t.Fatalf("requests during the outage: got %d, want at least 20", len(outage))
	}
	for _, c := range outage {
		if c.took > 300*time.Millisecond {
			t.Logf("slow request at +%s: %s", c.at.Sub(killedAt).Round(time.Millisecond), c.took)
		}
	}
	if d := p99(outage); d > time.Second {
		t.Errorf("p99 during the outage: got %s, want under 1s", d)
	}
	if len(between(calls, recoveredAt, time.Now())) == 0 {
		t.Errorf("requests after recovery: got none, want some")
	}
	// Redis is the fast path again: the sessions in use are back in it.
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr()})
	defer rdb.Close()
	for _, u := range users {
		key := env["REDIS_KEY_PREFIX"] + "session:" + u.c.sessionCookie()
		eventually(t, 2*time.Second, "session refilled into Redis", func() bool {
			u.step(apis[1], 1)
			return rdb.Exists(context.Background(), key).Val() == 1
		})
	}
}

func TestSessionsRedisBlackHoled(t *testing.T) {
	t.Parallel()
	rs := testserver.StartRedis(t)
	proxy := testserver.StartProxy(t, rs.Addr())
	env := testEnv(t)
	env["REDIS_URL"] = "redis://" + proxy.Addr() + "/0"
	a := startAPI(t, env)
	u := newUser(t, env, a, "hole@example.com")

	measure := func(n int) []call {
		var calls []call
		for i := 1; i <= n; i++ {
			c := u.step(a, i)
			if c.problem != "" {
				t.Fatalf("request %d: %s", i, c.problem)
			}
			calls = append(calls, c)
		}
		return calls
	}
	before := p99(measure(40))
	proxy.BlackHole()
	during := measure(60)
	if h := getHealth(t, a); h.Status != "degraded" || h.Redis.Breaker == "closed" || h.Redis.Healthy {
		t.Errorf("health with Redis black-holed: got %+v, want degraded, redis unhealthy, breaker not closed", h)
	}
	// A few requests pay one Redis budget (150ms) before the breaker opens;
	// the rest pay nothing. The bound is generous for -race on a busy machine.
	if d := p99(during); d > before+600*time.Millisecond {
		t.Errorf("p99 with Redis black-holed: got %s, want under %s (normal %s plus a bounded cost)", d, before+600*time.Millisecond, before)
	}
	slow := 0
	for _, c := range during {
		if c.took > before+100*time.Millisecond {
			slow++
		}
	}
	if slow > 10 {
		t.Errorf("requests slowed by the black hole: got %d of %d, want at most 10 (the breaker should open)", slow, len(during))
	}
	proxy.Heal()
	eventually(t, 10*time.Second, "health ok after the black hole heals", func() bool {
		return getHealth(t, a).Status == "ok"
	})
}

func TestSessionsStartWithRedisUnreachable(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	port := strconv.Itoa(testserver.FreePort(t))
	env["REDIS_URL"] = "redis://:s3cret-pass@127.0.0.1:" + port + "/0"
	createUser(t, env, "early@example.com", false)
	start := time.Now()
	a := startAPI(t, env)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("serving after %s, want within 3s", d)
	}
	logs := a.stderr.String()
	var line string
	for l := range strings.Lines(logs) {
		if strings.Contains(l, "session store:") {
			if line != "" {
				t.Errorf("log: got two session store lines, want one:\n%s", logs)
			}
			line = l
		}
	}
	if !strings.Contains(line, "session store: postgres (redis unavailable: connection refused)") {
		t.Errorf("log: got %q, want the postgres store and its reason", line)
	}
	if strings.Contains(logs, "s3cret") || strings.Contains(line, port) {
		t.Errorf("log reveals the Redis URL:\n%s", logs)
	}
	if h := getHealth(t, a); h.Store != "postgres" || h.Status != "ok" || !h.Redis.Configured || h.Redis.Healthy {
		t.Errorf("health: got %+v, want store postgres, ok, redis configured but unhealthy", h)
	}
	c := newClient(t, a)
	c.login("early@example.com", false)
	if r := c.do("GET", "/api/me", nil); r.Status != http.StatusOK {
		t.Errorf("me: got %d %s, want 200", r.Status, r.Body)
	}
}

func TestSessionsLogoutDuringRedisOutageHoldsAfter(t *testing.T) {
	t.Parallel()
	rs := testserver.StartRedis(t)
	proxy := testserver.StartProxy(t, rs.Addr()) // cut the link; Redis keeps its data
	env := testEnv(t)
	env["REDIS_URL"] = "redis://" + proxy.Addr() + "/0"
	apis := startAPIs(t, env, 2)
	u := newUser(t, env, apis[0], "leaver@example.com")
	token := u.c.sessionCookie()
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr()})
	defer rdb.Close()
	key := env["REDIS_KEY_PREFIX"] + "session:" + token
	if rdb.Exists(context.Background(), key).Val() != 1 {
		t.Fatalf("session in Redis before the outage: got none, want it")
	}

	proxy.Cut()
	for _, a := range apis {
		eventually(t, 5*time.Second, "breaker opens on "+a.URL, func() bool { return getHealth(t, a).Redis.Breaker == "open" })
	}
	u.c.base = apis[1].URL
	if r := u.c.do("POST", "/api/auth/logout", nil); r.Status != http.StatusNoContent {
		t.Fatalf("logout during the outage: got %d %s, want 204", r.Status, r.Body)
	}
	if v := rdb.Get(context.Background(), key).Val(); v == "" || v == "revoked" {
		t.Fatalf("Redis during the outage: want it still holding the live session")
	}

	proxy.Restore()
	for _, a := range apis {
		eventually(t, 10*time.Second, "health ok again on "+a.URL, func() bool { return getHealth(t, a).Status == "ok" })
	}
	for _, a := range apis {
		req, _ := http.NewRequest("GET", a.URL+"/api/me", nil)
		req.AddCookie(&http.Cookie{Name: "session", Value: token})
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("old session on %s after Redis returned: got %d, want 401", a.URL, resp.StatusCode)
		}
	}
	if v := rdb.Get(context.Background(), key).Val(); v != "revoked" {
		t.Errorf("Redis after recovery: got %q, want the tombstone (the logout replayed)", v)
	}
}

func TestSessionsTwoInstancesRoundRobin(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	apis := startAPIs(t, env, 2)
	u := newUser(t, env, apis[0], "rr@example.com")
	token := u.c.sessionCookie()
	for i := 1; i <= 1000; i++ {
		if c := u.step(apis[i%2], i); c.problem != "" {
			t.Fatalf("request %d: %s", i, c.problem)
		}
	}
	if got := u.c.sessionCookie(); got != token {
		t.Errorf("session token after 1,000 requests: changed, want the same session throughout")
	}
}

func TestSessionsPostgresRestartedUnderLoad(t *testing.T) {
	t.Parallel()
	pg := testserver.StartPostgres(t)
	rs := testserver.StartRedis(t)
	env := testEnv(t)
	env["DATABASE_URL"] = pg.URL()
	env["REDIS_URL"] = rs.URL()
	command(t, env, "", "migrate", "up")
	a := startAPI(t, env)
	users := []*user{newUser(t, env, a, "pg1@example.com"), newUser(t, env, a, "pg2@example.com")}

	stop := make(chan struct{})
	done := make(chan []call)
	go func() { done <- load(users, []*api{a}, stop) }()
	time.Sleep(300 * time.Millisecond)
	pg.Kill()
	time.Sleep(time.Second)
	pg.Start()
	eventually(t, 15*time.Second, "requests succeed again", func() bool {
		return users[0].c.do("GET", "/api/deals/list", nil).Status == http.StatusOK
	})
	time.Sleep(300 * time.Millisecond)
	close(stop)
	calls := <-done

	unavailable := 0
	for _, c := range calls {
		switch {
		case c.status == http.StatusServiceUnavailable:
			unavailable++
		case c.status >= 500 || c.status == 0:
			t.Errorf("request during the restart: got %d (%s), want 200 or 503", c.status, c.problem)
		}
	}
	if unavailable == 0 {
		t.Errorf("503s during the restart: got none in %d requests, want some", len(calls))
	}
	// Nobody was signed out and the selections survived.
	for _, u := range users {
		if c := u.step(a, 1); c.problem != "" {
			t.Errorf("after recovery: %s", c.problem)
		}
	}

	// Both stores down: the contract's 503, never a plain 500.
	pg.Kill()
	rs.Kill()
	r := users[0].c.do("GET", "/api/deals/current", nil)
	if r.Status != http.StatusServiceUnavailable || r.ErrorCode() != "unavailable" {
		t.Errorf("both stores down: got %d %s, want 503 unavailable", r.Status, r.Body)
	}
	if r := users[0].c.do("GET", "/readyz", nil); r.Status != http.StatusServiceUnavailable {
		t.Errorf("readyz with PostgreSQL down: got %d, want 503", r.Status)
	}
	if h := getHealth(t, a); h.Status != "degraded" || h.Postgres.Healthy {
		t.Errorf("health with both down: got %+v, want degraded", h)
	}
	if r := users[0].c.do("GET", "/healthz", nil); r.Status != http.StatusOK {
		t.Errorf("healthz: got %d, want 200 while the process runs", r.Status)
	}
}
