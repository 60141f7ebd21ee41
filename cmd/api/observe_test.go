package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// scrape fetches /metrics and returns each sample by its series, written as
// in the text format: name{label="value",...} (labels sorted by name).
func scrape(t *testing.T, a *api) (map[string]float64, string) {
	t.Helper()
	resp, err := http.Get(a.URL + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: got %d, want 200", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("GET /metrics Content-Type: got %q, want text/plain", ct)
	}
	body, _ := io.ReadAll(resp.Body)
	series := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		series[line[:i]] = v
	}
	return series, string(body)
}

func TestMetricsAfterTraffic(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	createUser(t, env, "mia@example.com", false)
	a := startAPI(t, env)

	first := newClient(t, a)
	first.login("mia@example.com", false)
	id := first.createDeal("Atlas")
	if r := first.do("POST", "/api/deals/"+itoa(id)+"/select", nil); r.Status != http.StatusOK {
		t.Fatalf("select: got %d %s, want 200", r.Status, r.Body)
	}
	if r := first.do("GET", "/api/deals/987654321", nil); r.Status != http.StatusNotFound {
		t.Fatalf("GET unknown deal: got %d, want 404", r.Status)
	}
	// Paths no route takes, and a method no one uses: each must fold into
	// one series, never a series per path or per method.
	for _, p := range []string{"/no/such/page-7f3a", "/api/secret-token-in-path-91c2", "/wp-admin/setup.php"} {
		if r := first.do("GET", p, nil); r.Status != http.StatusNotFound {
			t.Fatalf("GET %s: got %d, want 404", p, r.Status)
		}
	}
	if r := first.do("BREW", "/api/me", nil); r.Status < 400 || r.Status >= 500 {
		t.Fatalf("BREW /api/me: got %d, want a 4xx", r.Status)
	}

	// A new browser: signing in restores the deal from the database, and
	// the restored counter says so.
	const restored = `dealctx_deal_auto_restore_total{outcome="restored"}`
	before, _ := scrape(t, a)
	second := newClient(t, a)
	second.login("mia@example.com", false)
	series, text := scrape(t, a)
	if got := series[restored] - before[restored]; got != 1 {
		t.Errorf("%s after a restoring sign-in: went up by %v, want 1", restored, got)
	}

	wants := []struct {
		series string
		want   float64
	}{
		{`dealctx_deal_auto_restore_total{outcome="denied"}`, 0},
		{`dealctx_deal_auto_restore_total{outcome="error"}`, 0},
		{`dealctx_deal_selections_total`, 1},
		{`dealctx_http_request_duration_seconds_count{method="POST",route="/api/deals/{id}/select",status="200"}`, 1},
		{`dealctx_http_request_duration_seconds_count{method="POST",route="/api/auth/login",status="200"}`, 2},
		{`dealctx_http_request_duration_seconds_count{method="GET",route="/api/deals/{id}",status="404"}`, 1},
		{`dealctx_http_request_duration_seconds_count{method="GET",route="unmatched",status="404"}`, 3},
	}
	for _, w := range wants {
		got, ok := series[w.series]
		if !ok {
			t.Errorf("%s: missing from /metrics", w.series)
			continue
		}
		if got != w.want {
			t.Errorf("%s: got %v, want %v", w.series, got, w.want)
		}
	}
	for _, leak := range []string{"page-7f3a", "secret-token-in-path", "wp-admin", "BREW", "987654321"} {
		if strings.Contains(text, leak) {
			t.Errorf("/metrics contains %q from a request; want only route patterns and known methods", leak)
		}
	}
	other := 0.0
	for s, v := range series {
		if strings.HasPrefix(s, "dealctx_http_request_duration_seconds_count{") && strings.Contains(s, `method="OTHER"`) {
			other += v
		}
	}
	if other != 1 {
		t.Errorf(`requests with method="OTHER": got %v, want 1`, other)
	}

	// Pool, Go and process collectors.
	positive := []string{
		"dealctx_pgxpool_total_conns",
		"dealctx_pgxpool_max_conns",
		"dealctx_pgxpool_acquire_total",
		"dealctx_pgxpool_new_conns_total",
		"go_goroutines",
		"process_start_time_seconds",
	}
	for _, s := range positive {
		if v, ok := series[s]; !ok || v <= 0 {
			t.Errorf("%s: got %v (present %v), want a positive value", s, v, ok)
		}
	}
	for _, s := range []string{"dealctx_pgxpool_acquired_conns", "dealctx_pgxpool_idle_conns", "dealctx_pgxpool_empty_acquire_total", "dealctx_pgxpool_acquire_duration_seconds_total"} {
		if _, ok := series[s]; !ok {
			t.Errorf("%s: missing from /metrics", s)
		}
	}
	if series["dealctx_pgxpool_total_conns"] > series["dealctx_pgxpool_max_conns"] {
		t.Errorf("pool total conns %v exceeds max %v", series["dealctx_pgxpool_total_conns"], series["dealctx_pgxpool_max_conns"])
	}
}

func TestOpenAPIServed(t *testing.T) {
	t.Parallel()
	a := startAPI(t, testEnv(t))
	r := newClient(t, a).do("GET", "/api/openapi.json", nil)
	if r.Status != http.StatusOK {
		t.Fatalf("GET /api/openapi.json: got %d, want 200", r.Status)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type: got %q, want application/json", ct)
	}
	var doc struct {
		OpenAPI string                     `json:"openapi"`
		Paths   map[string]json.RawMessage `json:"paths"`
	}
	r.JSON(t, &doc)
	if !strings.HasPrefix(doc.OpenAPI, "3.1.") {
		t.Errorf("openapi: got %q, want 3.1.x", doc.OpenAPI)
	}
	if _, ok := doc.Paths["/api/deals/{id}/select"]; !ok {
		t.Errorf("paths: /api/deals/{id}/select missing")
	}
}

// logLine is one decoded JSON log record.
type logLine map[string]any

func (l logLine) str(k string) string { s, _ := l[k].(string); return s }

func TestLogsCarryRequestIDAndNoSecrets(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	env["LOG_LEVEL"] = "debug"
	env["LOG_FORMAT"] = "json"
	// Trust authentication ignores the password, so it can be any secret.
	dbURL, _ := url.Parse(env["DATABASE_URL"])
	dbURL.User = url.UserPassword(dbURL.User.Username(), "db-pw-Qx81vL")
	env["DATABASE_URL"] = dbURL.String()
	createUser(t, env, "lea@example.com", false)
	a := startAPI(t, env)

	var requestIDs []string
	note := func(r response) response {
		requestIDs = append(requestIDs, r.Header.Get("X-Request-ID"))
		return r
	}
	first := newClient(t, a)
	note(first.login("lea@example.com", true))
	if r := note(first.do("POST", "/api/deals", map[string]string{"name": "Borealis"})); r.Status != http.StatusCreated {
		t.Fatalf("create deal: got %d %s, want 201", r.Status, r.Body)
	}
	if r := note(first.do("POST", "/api/auth/login", map[string]any{"email": "lea@example.com", "password": "wrong-Pw-zz93", "remember": true})); r.Status != http.StatusUnauthorized {
		t.Fatalf("wrong password: got %d, want 401", r.Status)
	}

	// A second browser holding only the remember-me cookie: one request
	// signs in from the token and restores the deal, logging both.
	base, _ := url.Parse(a.URL)
	var remember, session string
	for _, c := range first.http.Jar.Cookies(base) {
		switch c.Name {
		case "remember_token":
			remember = c.Value
		case "session":
			session = c.Value
		}
	}
	if remember == "" || session == "" {
		t.Fatalf("cookies after login: remember_token %q, session %q; want both", remember, session)
	}
	second := newClient(t, a)
	second.http.Jar.SetCookies(base, []*http.Cookie{{Name: "remember_token", Value: remember}})
	me := note(second.do("GET", "/api/me?token=query-secret-77", nil))
	if me.Status != http.StatusOK {
		t.Fatalf("GET /api/me with remember cookie: got %d %s, want 200", me.Status, me.Body)
	}
	var rotated, secondSession string
	for _, c := range second.http.Jar.Cookies(base) {
		switch c.Name {
		case "remember_token":
			rotated = c.Value
		case "session":
			secondSession = c.Value
		}
	}
	a.Stop()

	lines := parseLogs(t, a.stderr.String())
	byID := map[string][]logLine{}
	for _, l := range lines {
		if id := l.str("request_id"); id != "" {
			byID[id] = append(byID[id], l)
		}
		// Lines about a user or a request are request-scoped.
		if _, ok := l["user_id"]; ok && l.str("request_id") == "" {
			t.Errorf("log line about a user without request_id: %v", l)
		}
		if l.str("msg") == "request" && l.str("request_id") == "" {
			t.Errorf("access line without request_id: %v", l)
		}
	}
	for _, id := range requestIDs {
		if id == "" {
			t.Fatal("a response had no X-Request-ID")
		}
		access := 0
		for _, l := range byID[id] {
			if l.str("msg") == "request" {
				access++
				for _, k := range []string{"method", "route", "status", "duration_ms"} {
					if _, ok := l[k]; !ok {
						t.Errorf("access line %v: missing %s", l, k)
					}
				}
			}
		}
		if access != 1 {
			t.Errorf("request %s: got %d access lines, want 1", id, access)
		}
	}
	msgs := map[string]bool{}
	for _, l := range byID[me.Header.Get("X-Request-ID")] {
		msgs[l.str("msg")] = true
	}
	for _, want := range []string{"signed in from remember token", "auto-restored deal", "request"} {
		if !msgs[want] {
			t.Errorf("lines of the remember-me request: got messages %v, want %q among them", msgs, want)
		}
	}

	logs := a.stderr.String()
	secrets := map[string]string{
		"password":              "password-lea@example.com",
		"wrong password":        "wrong-Pw-zz93",
		"session cookie":        session,
		"second session cookie": secondSession,
		"remember cookie":       remember,
		"rotated remember":      rotated,
		"remember validator":    remember[strings.IndexByte(remember, '.')+1:],
		"database password":     "db-pw-Qx81vL",
		"query string":          "query-secret-77",
	}
	for what, s := range secrets {
		if s != "" && strings.Contains(logs, s) {
			t.Errorf("logs contain the %s (%q)", what, s)
		}
	}
}

// parseLogs decodes JSON log output, one record a line.
func parseLogs(t *testing.T, s string) []logLine {
	t.Helper()
	var out []logLine
	for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
		var l logLine
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("log line %q is not JSON: %v", line, err)
		}
		out = append(out, l)
	}
	return out
}

func TestMetricsCountThePromise(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	createUser(t, env, "noor@example.com", false)
	a := startAPI(t, env)

	// A first sign-in has no deal to come back to; asking for the current
	// deal and opening the deal page are two selector prompts, and the page
	// is a page load.
	first := newClient(t, a)
	first.login("noor@example.com", false)
	if r := first.do("GET", "/api/deals/current", nil); r.ErrorCode() != "deal_not_selected" {
		t.Fatalf("GET /api/deals/current without a deal: got %d %s, want deal_not_selected", r.Status, r.Body)
	}
	if r := first.do("GET", "/deals", nil); r.Status != http.StatusOK {
		t.Fatalf("GET /deals: got %d, want 200", r.Status)
	}
	id := first.createDeal("Cygnus")
	if r := first.do("POST", "/api/deals/"+itoa(id)+"/select", nil); r.Status != http.StatusOK {
		t.Fatalf("select: got %d %s, want 200", r.Status, r.Body)
	}
	// A second browser's sign-in comes back with the deal.
	newClient(t, a).login("noor@example.com", false)

	series, _ := scrape(t, a)
	for _, w := range []struct {
		series string
		want   float64
	}{
		{`dealctx_sign_ins_total{restored="false"}`, 1},
		{`dealctx_sign_ins_total{restored="true"}`, 1},
		{`dealctx_selector_prompts_total`, 2},
		{`dealctx_page_loads_total`, 1},
	} {
		if got, ok := series[w.series]; !ok || got != w.want {
			t.Errorf("%s: got %v (present %v), want %v", w.series, got, ok, w.want)
		}
	}
}
