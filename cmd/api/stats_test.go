package main

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dealctx/dealctx/internal/jobs"
	"github.com/dealctx/dealctx/internal/postgres"
)

// statsBody is GET /api/admin/stats's answer.
type statsBody struct {
	Window          string    `json:"window"`
	Since           time.Time `json:"since"`
	SignIns         int64     `json:"sign_ins"`
	SignInsRestored int64     `json:"sign_ins_restored"`
	SelectorPrompts int64     `json:"selector_prompts"`
	Restores        struct {
		Restored, Denied, Deleted, Failed int64
	} `json:"restores"`
	RestoreSuccessRate *float64 `json:"restore_success_rate"`
	ActiveSessions     int64    `json:"active_sessions"`
	Store              string   `json:"store"`
	RedisHealthy       bool     `json:"redis_healthy"`
	Breaker            *string  `json:"breaker"`
}

// restrictedRole creates a login role without superuser rights, allowed
// what the api needs on env's database, and returns env's URL as that role,
// so that a test can take a grant away mid-script. It is dropped when the
// test ends, after the processes using it (register it before them).
func restrictedRole(t *testing.T, env map[string]string) (role, dbURL string) {
	t.Helper()
	role = "dealctx_stats_" + strconv.FormatInt(time.Now().UnixNano(), 36)
	sqlExec(t, env, `CREATE ROLE `+role+` LOGIN`)
	sqlExec(t, env, `GRANT ALL ON ALL TABLES IN SCHEMA public TO `+role)
	sqlExec(t, env, `GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO `+role)
	t.Cleanup(func() {
		sqlExec(t, env, `DROP OWNED BY `+role)
		sqlExec(t, env, `DROP ROLE `+role)
	})
	u, _ := url.Parse(env["DATABASE_URL"])
	u.User = url.User(role)
	return role, u.String()
}

// flushAudit moves the audit outbox into audit_log, as the worker does.
func flushAudit(t *testing.T, env map[string]string) {
	t.Helper()
	ctx := context.Background()
	db, err := postgres.Open(ctx, env["DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := jobs.FlushAudit(ctx, jobs.Deps{DB: db, Logger: slog.New(slog.DiscardHandler), BatchSize: 200}); err != nil {
		t.Fatalf("flush audit: %v", err)
	}
}

// TestStatsCountADayOnTwoProcesses scripts a day of sign-ins, restores of
// every outcome and selector prompts on two api processes sharing one
// database, and checks that the admin figures count both.
func TestStatsCountADayOnTwoProcesses(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	ada := createUser(t, env, "ada@example.com", true)
	users := map[string]int64{}
	for _, name := range []string{"ben", "cy", "dee", "fay", "gus", "eve"} {
		users[name] = createUser(t, env, name+"@example.com", false)
	}
	deal := func(name string, owner int64) int64 {
		return sqlInt(t, env, `INSERT INTO deals (name, owner_id) VALUES ($1, $2) RETURNING id`, name, owner)
	}
	orion, vega, lyra, draco := deal("Orion", ada), deal("Vega", ada), deal("Lyra", users["dee"]), deal("Draco", ada)
	for _, m := range []struct {
		deal int64
		user string
	}{{orion, "ben"}, {orion, "fay"}, {orion, "gus"}, {draco, "gus"}} {
		sqlExec(t, env, `INSERT INTO deal_members (deal_id, user_id, role) VALUES ($1, $2, 'member')`, m.deal, users[m.user])
	}
	// Last deals as a previous day left them: Ben's and Fay's they may
	// open, Cy's Vega they were removed from, Dee's Lyra deleted since.
	for user, d := range map[string]int64{"ben": orion, "fay": orion, "cy": vega, "dee": lyra} {
		sqlExec(t, env, `UPDATE users SET last_deal_id = $1 WHERE id = $2`, d, users[user])
	}
	sqlExec(t, env, `UPDATE deals SET deleted_at = now() WHERE id = $1`, lyra)

	role, restricted := restrictedRole(t, env)
	a := startAPI(t, env)
	envB := map[string]string{}
	for k, v := range env {
		envB[k] = v
	}
	envB["DATABASE_URL"] = restricted
	b := startAPI(t, envB)

	// The day, spread over both processes.
	for _, login := range []struct {
		on   *api
		user string
		deal bool
	}{{a, "ben", true}, {b, "ben", true}, {b, "cy", false}, {a, "dee", false}, {a, "eve", false}} {
		c := newClient(t, login.on)
		first := login.user == "ben" && login.on == a
		r := c.login(login.user+"@example.com", first)
		if first {
			// Ben works in his deal: three page loads.
			for range 3 {
				if r := c.do("GET", "/deals/"+itoa(orion), nil); r.Status != http.StatusOK {
					t.Fatalf("Ben's deal page: got %d, want 200", r.Status)
				}
			}
			// Next morning his browser on b holds only the remember-me
			// cookie: one request signs him in with his deal.
			next := newClient(t, b)
			next.setCookies(map[string]string{"remember_token": c.cookie("remember_token")})
			if r := next.do("GET", "/api/deals/current", nil); r.Status != http.StatusOK {
				t.Fatalf("Ben's remembered browser: got %d %s, want 200 with his deal", r.Status, r.Body)
			}
		}
		var body struct {
			CurrentDeal *struct{ ID int64 } `json:"current_deal"`
		}
		r.JSON(t, &body)
		if got := body.CurrentDeal != nil; got != login.deal {
			t.Fatalf("%s's sign-in: got a current deal %v, want %v", login.user, got, login.deal)
		}
	}
	// Fay signs in on b while b may not read memberships (the table, and
	// the deal_access view, which reads it with its owner's rights): the
	// restore fails on a real PostgreSQL error, and the sign-in still
	// succeeds.
	sqlExec(t, env, `REVOKE SELECT ON deal_members, deal_access FROM `+role)
	newClient(t, b).login("fay@example.com", false)
	sqlExec(t, env, `GRANT SELECT ON deal_members, deal_access TO `+role)
	// Gus has two deals and no last one: asked to choose, by the API on a
	// and by the deal page on b.
	gusA, gusB := newClient(t, a), newClient(t, b)
	gusA.login("gus@example.com", false)
	gusB.login("gus@example.com", false)
	if r := gusA.do("GET", "/api/deals/current", nil); r.ErrorCode() != "deal_not_selected" {
		t.Fatalf("Gus's current deal: got %d %s, want deal_not_selected", r.Status, r.Body)
	}
	if r := gusB.do("GET", "/deals", nil); r.Status != http.StatusOK {
		t.Fatalf("Gus's selector: got %d, want 200", r.Status)
	}
	admin := newClient(t, a)
	admin.login("ada@example.com", false)
	flushAudit(t, env)

	want := statsBody{SignIns: 10, SignInsRestored: 3, SelectorPrompts: 2}
	want.Restores.Restored, want.Restores.Denied, want.Restores.Deleted, want.Restores.Failed = 3, 1, 1, 1
	same := func(got statsBody) bool {
		return got.SignIns == want.SignIns && got.SignInsRestored == want.SignInsRestored &&
			got.SelectorPrompts == want.SelectorPrompts && got.Restores == want.Restores
	}
	for _, window := range []string{"24h", "7d"} {
		var got statsBody
		// The api records counts off the request path: give the last
		// batch a moment to land.
		deadline := time.Now().Add(5 * time.Second)
		for {
			r := admin.do("GET", "/api/admin/stats?window="+window, nil)
			if r.Status != http.StatusOK {
				t.Fatalf("GET /api/admin/stats?window=%s as admin: got %d %s, want 200", window, r.Status, r.Body)
			}
			got = statsBody{}
			r.JSON(t, &got)
			if same(got) || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if !same(got) {
			t.Errorf("window %s: got sign-ins %d (restored %d), prompts %d, restores %+v; want %d (%d), %d, %+v",
				window, got.SignIns, got.SignInsRestored, got.SelectorPrompts, got.Restores,
				want.SignIns, want.SignInsRestored, want.SelectorPrompts, want.Restores)
		}
		if got.Window != window {
			t.Errorf("window: got %q, want %q", got.Window, window)
		}
		if got.RestoreSuccessRate == nil || *got.RestoreSuccessRate != 0.5 {
			t.Errorf("window %s restore_success_rate: got %v, want 0.5", window, got.RestoreSuccessRate)
		}
		span := map[string]time.Duration{"24h": 24 * time.Hour, "7d": 7 * 24 * time.Hour}[window]
		if d := time.Since(got.Since) - span; d < 0 || d > time.Minute {
			t.Errorf("window %s since: got %v, want about %v ago", window, got.Since, span)
		}
		if got.ActiveSessions != 10 {
			t.Errorf("window %s active_sessions: got %d, want 10 (every browser signed in)", window, got.ActiveSessions)
		}
		if got.Store != "tiered" || !got.RedisHealthy || got.Breaker == nil || *got.Breaker != "closed" {
			t.Errorf("window %s store: got %q, redis healthy %v, breaker %v; want tiered, true, closed", window, got.Store, got.RedisHealthy, got.Breaker)
		}
	}
	// Process b's own series saw the failed restore.
	if series, _ := scrape(t, b); series[`dealctx_deal_auto_restore_total{outcome="error"}`] != 1 {
		t.Errorf(`b's dealctx_deal_auto_restore_total{outcome="error"}: got %v, want 1`, series[`dealctx_deal_auto_restore_total{outcome="error"}`])
	}

	// The page: the figures with their targets, and the last seven days.
	r := admin.do("GET", "/admin", nil)
	if r.Status != http.StatusOK || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /admin as admin: got %d %s, want 200 HTML", r.Status, r.Header.Get("Content-Type"))
	}
	page := string(r.Body)
	for _, s := range []string{
		`Auto-restore success</strong> 50% (target 95%) <span class="verdict-missed">missed`,
		"3 restored, 1 denied, 1 deleted, 1 failed",
		"10, 3 of them back with a deal",
		`Selector prompts</strong> 50% of page loads (2 of 4) (target &lt; 1% of page loads) <span class="verdict-missed">missed`,
		"Last 24 hours", "Last 7 days", "<svg", "tiered", "closed",
	} {
		if !strings.Contains(page, s) {
			t.Errorf("/admin: missing %q in\n%s", s, page)
		}
	}
}

func TestStatsAreForAdminsOnly(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	createUser(t, env, "ida@example.com", true)
	createUser(t, env, "jon@example.com", false)
	a := startAPI(t, env)

	if r := newClient(t, a).do("GET", "/api/admin/stats", nil); r.Status != http.StatusUnauthorized {
		t.Errorf("GET /api/admin/stats signed out: got %d, want 401", r.Status)
	}
	jon := newClient(t, a)
	jon.login("jon@example.com", false)
	if r := jon.do("GET", "/api/admin/stats?window=24h", nil); r.Status != http.StatusForbidden || r.ErrorCode() != "forbidden" {
		t.Errorf("GET /api/admin/stats as a member: got %d %s, want 403 forbidden", r.Status, r.Body)
	}
	r := jon.do("GET", "/admin", nil)
	if r.Status != http.StatusNotFound || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") || strings.Contains(string(r.Body), "Auto-restore success") {
		t.Errorf("GET /admin as a member: got %d %s %q, want the 404 page without figures", r.Status, r.Header.Get("Content-Type"), r.Body)
	}

	ida := newClient(t, a)
	ida.login("ida@example.com", false)
	for _, w := range []string{"30d", "24", "24h%00", "7D"} {
		if r := ida.do("GET", "/api/admin/stats?window="+w, nil); r.Status != http.StatusBadRequest || r.ErrorCode() != "invalid_request" {
			t.Errorf("window=%s: got %d %s, want 400 invalid_request", w, r.Status, r.Body)
		}
	}
	// No attempts yet: the rate is null, not 0 or NaN.
	var got statsBody
	if r := ida.do("GET", "/api/admin/stats", nil); r.Status != http.StatusOK {
		t.Fatalf("GET /api/admin/stats (default window): got %d %s, want 200", r.Status, r.Body)
	} else if r.JSON(t, &got); got.Window != "24h" || got.RestoreSuccessRate != nil {
		t.Errorf("default window: got window %q, rate %v; want 24h, null", got.Window, got.RestoreSuccessRate)
	}
	anon := newClient(t, a)
	anon.http.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if r := anon.do("GET", "/admin", nil); r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/login?next=%2Fadmin" {
		t.Errorf("GET /admin signed out: got %d to %q, want 303 to /login?next=%%2Fadmin", r.Status, r.Header.Get("Location"))
	}
}
