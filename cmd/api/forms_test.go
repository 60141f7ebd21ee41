package main

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// post sends a form as a browser with JavaScript off would, without
// following redirects; extra headers (an Origin) are added.
func (c *client) post(path string, form url.Values, header map[string]string) response {
	c.t.Helper()
	req, err := http.NewRequest("POST", c.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		c.t.Fatalf("request: %v", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	return c.noFollow(req)
}

// get fetches path without following redirects.
func (c *client) get(path string) response {
	c.t.Helper()
	req, err := http.NewRequest("GET", c.base+path, nil)
	if err != nil {
		c.t.Fatalf("request: %v", err)
	}
	return c.noFollow(req)
}

func (c *client) noFollow(req *http.Request) response {
	c.t.Helper()
	hc := *c.http
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("%s %s: read body: %v", req.Method, req.URL.Path, err)
	}
	return response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// wantPage fails the test unless r is an HTML page with status and text.
func wantPage(t *testing.T, what string, r response, status int, text string) {
	t.Helper()
	if r.Status != status || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") || !strings.Contains(string(r.Body), text) {
		t.Errorf("%s: got %d %s %.300s, want an HTML %d page containing %q", what, r.Status, r.Header.Get("Content-Type"), r.Body, status, text)
	}
}

// onSite reports whether a browser at base following Location stays on
// base's host: no scheme, no host, no leading "//" or "/\" (which
// browsers read as another host).
func onSite(base, location string) bool {
	if !strings.HasPrefix(location, "/") || strings.HasPrefix(location, "//") || strings.ContainsAny(location, "\\\t\r\n") {
		return false
	}
	b, err := url.Parse(base)
	if err != nil {
		return false
	}
	u, err := b.Parse(location)
	return err == nil && u.Host == b.Host
}

// TestLoginForm: the form signs in exactly as the API does and lands in
// the last deal; failures are the form again with 401 or 429; a form from
// another origin is a 403 page; next never leads off-site.
func TestLoginForm(t *testing.T) {
	t.Parallel()
	w := newWorld(t, map[string]string{"LOGIN_ACCOUNT_LIMIT": "3"})
	second := w.owner.createDeal("Second")
	if r := w.owner.do("POST", "/api/deals/"+itoa(second)+"/select", nil); r.Status != 200 {
		t.Fatalf("select: got %d, want 200", r.Status)
	}
	pw := "password-owner@example.com"
	form := func(email, password, next string, remember bool) url.Values {
		v := url.Values{"email": {email}, "password": {password}, "next": {next}}
		if remember {
			v.Set("remember", "1")
		}
		return v
	}

	t.Run("success lands in the last deal", func(t *testing.T) {
		c := newClient(t, w.api)
		logins := sqlInt(t, w.env, `SELECT count(*) FROM audit_outbox WHERE action = 'auth.login' AND actor_user_id = $1`, w.ownerID)
		r := c.post("/login", form("owner@example.com", pw, "", true), nil)
		if want := "/deals/" + itoa(second); r.Status != http.StatusSeeOther || r.Header.Get("Location") != want {
			t.Fatalf("POST /login: got %d to %q, want 303 to %s", r.Status, r.Header.Get("Location"), want)
		}
		if c.cookie("remember_token") == "" {
			t.Errorf("remember_token: got none with remember checked, want one")
		}
		if got := sqlInt(t, w.env, `SELECT count(*) FROM audit_outbox WHERE action = 'auth.login' AND actor_user_id = $1`, w.ownerID); got != logins+1 {
			t.Errorf("auth.login events: got %d, want %d", got, logins+1)
		}
		page := c.get("/deals/" + itoa(second))
		wantPage(t, "the landing deal page", page, 200, "<h1>Second</h1>")
		wantPage(t, "the landing deal page", page, 200, "Welcome back: restored from your last visit")
		if again := c.get("/deals/" + itoa(second)); strings.Contains(string(again.Body), "Welcome back") {
			t.Errorf("reload: got the welcome again, want it once")
		}
	})

	t.Run("a safe next wins; a hostile one is ignored", func(t *testing.T) {
		for next, want := range map[string]string{
			"/deals":              "/deals",
			"/./\\evil.com":       "/deals/" + itoa(second),
			"//evil.com":          "/deals/" + itoa(second),
			"https://evil.com/":   "/deals/" + itoa(second),
			"/\t/evil.com":        "/deals/" + itoa(second),
			"/a/../\\\\evil.com/": "/deals/" + itoa(second),
		} {
			c := newClient(t, w.api)
			r := c.post("/login", form("owner@example.com", pw, next, false), nil)
			if r.Status != http.StatusSeeOther || r.Header.Get("Location") != want {
				t.Errorf("POST /login next=%q: got %d to %q, want 303 to %s", next, r.Status, r.Header.Get("Location"), want)
			}
			// Signed in, GET /login?next= redirects at once: on-site only.
			g := c.get("/login?next=" + url.QueryEscape(next))
			if loc := g.Header.Get("Location"); g.Status != http.StatusSeeOther || !onSite(w.api.URL, loc) {
				t.Errorf("GET /login?next=%q signed in: got %d to %q, want 303 to a path on this site", next, g.Status, loc)
			}
		}
		c := newClient(t, w.api)
		c.login("owner@example.com", false)
		g := c.get("/login?next=/./%5Cevil.com")
		if loc := g.Header.Get("Location"); g.Status != http.StatusSeeOther || !onSite(w.api.URL, loc) {
			t.Errorf("GET /login?next=/./%%5Cevil.com: got %d to %q, want 303 to a path on this site", g.Status, loc)
		}
	})

	t.Run("wrong password is the form again with 401", func(t *testing.T) {
		c := newClient(t, w.api)
		r := c.post("/login", form("member@example.com", "wrong", "/deals", false), nil)
		wantPage(t, "wrong password", r, http.StatusUnauthorized, "Email or password is incorrect.")
		wantPage(t, "wrong password", r, http.StatusUnauthorized, `value="member@example.com"`)
		if strings.Contains(string(r.Body), "wrong") {
			t.Errorf("wrong password: the page repeats the password")
		}
		if r := c.do("GET", "/api/me", nil); r.Status != http.StatusUnauthorized {
			t.Errorf("after a refused sign-in /api/me: got %d, want 401", r.Status)
		}
	})

	t.Run("throttled is the form again with 429", func(t *testing.T) {
		c := newClient(t, w.api)
		var r response
		for range 4 {
			r = c.post("/login", form("outsider@example.com", "wrong", "", false), nil)
		}
		wantPage(t, "4th wrong password", r, http.StatusTooManyRequests, "Too many failed sign-ins")
		if r.Header.Get("Retry-After") == "" {
			t.Errorf("429 page: got no Retry-After, want one")
		}
	})

	t.Run("cross-origin is a 403 page", func(t *testing.T) {
		c := newClient(t, w.api)
		r := c.post("/login", form("owner@example.com", pw, "", false), map[string]string{"Origin": "https://evil.example"})
		wantPage(t, "cross-origin sign-in", r, http.StatusForbidden, "Cross-origin requests are not allowed.")
		if c.cookie("session") != "" {
			if me := c.do("GET", "/api/me", nil); me.Status == 200 {
				t.Errorf("cross-origin sign-in: signed in, want refused")
			}
		}
	})
}

// TestLogoutAndCreateForms: signing out and creating a deal by form, and
// the same forms from another origin refused with a 403 page.
func TestLogoutAndCreateForms(t *testing.T) {
	t.Parallel()
	w := newWorld(t, nil)
	evil := map[string]string{"Origin": "https://evil.example"}

	wantPage(t, "cross-origin create", w.owner.post("/deals", url.Values{"name": {"Evil"}}, evil), http.StatusForbidden, "Cross-origin")
	wantPage(t, "empty name", w.owner.post("/deals", url.Values{"name": {"  "}}, nil), http.StatusBadRequest, `id="create-error"`)
	r := w.owner.post("/deals", url.Values{"name": {"Form Deal"}}, nil)
	loc := r.Header.Get("Location")
	if r.Status != http.StatusSeeOther || !strings.HasPrefix(loc, "/deals/") {
		t.Fatalf("POST /deals: got %d to %q, want 303 to /deals/{id}", r.Status, loc)
	}
	wantPage(t, "the created deal", w.owner.get(loc), 200, "<h1>Form Deal</h1>")
	if r := newClient(t, w.api).post("/deals", url.Values{"name": {"Anon"}}, nil); r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/login") {
		t.Errorf("POST /deals signed out: got %d to %q, want 303 to /login", r.Status, r.Header.Get("Location"))
	}

	wantPage(t, "cross-origin sign-out", w.member.post("/logout", nil, evil), http.StatusForbidden, "Cross-origin")
	if r := w.member.do("GET", "/api/me", nil); r.Status != 200 {
		t.Fatalf("after a refused sign-out /api/me: got %d, want 200", r.Status)
	}
	r = w.member.post("/logout", nil, nil)
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/login" {
		t.Fatalf("POST /logout: got %d to %q, want 303 to /login", r.Status, r.Header.Get("Location"))
	}
	if r := w.member.do("GET", "/api/me", nil); r.Status != http.StatusUnauthorized {
		t.Errorf("after POST /logout /api/me: got %d, want 401", r.Status)
	}
}

// TestDealPages: a deal's address opens it and makes it current once per
// change; what the user may not open is the same 404 page; unknown paths
// are HTML outside /api/ and JSON under it; a wrong method is 405.
func TestDealPages(t *testing.T) {
	t.Parallel()
	w := newWorld(t, nil)
	other := w.outsider.createDeal("Not yours")
	gone := w.owner.createDeal("Gone")
	if r := w.owner.do("DELETE", "/api/deals/"+itoa(gone), nil); r.Status != 204 {
		t.Fatalf("delete: got %d, want 204", r.Status)
	}
	second := w.owner.createDeal("Second")

	for _, path := range []string{"/deals/" + itoa(other), "/deals/" + itoa(gone), "/deals/999999", "/deals/abc", "/deals/01", "/no-such-page", "/static/nope.js", "/static/"} {
		wantPage(t, "GET "+path, w.owner.get(path), http.StatusNotFound, "<h1>Page not found</h1>")
	}
	if r := w.owner.get("/api/no-such"); r.Status != 404 || r.ErrorCode() != "not_found" {
		t.Errorf("GET /api/no-such: got %d %s, want 404 not_found JSON", r.Status, r.Body)
	}
	if r := w.owner.do("PUT", "/api/deals", map[string]string{}); r.Status != http.StatusMethodNotAllowed || r.ErrorCode() != "method_not_allowed" || r.Header.Get("Allow") != "GET, HEAD, POST" {
		t.Errorf("PUT /api/deals: got %d %s Allow %q, want 405 method_not_allowed with Allow GET, HEAD, POST", r.Status, r.Body, r.Header.Get("Allow"))
	}
	if r := w.owner.do("BREW", "/api/no-such", nil); r.Status != http.StatusNotFound {
		t.Errorf("BREW /api/no-such: got %d, want 404 (no route has the path)", r.Status)
	}
	if r := w.owner.do("BREW", "/api/me", nil); r.Status != http.StatusMethodNotAllowed || r.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("BREW /api/me: got %d Allow %q, want 405 with Allow GET, HEAD", r.Status, r.Header.Get("Allow"))
	}
	req, _ := http.NewRequest("DELETE", w.api.URL+"/login", nil)
	r := w.owner.noFollow(req)
	wantPage(t, "DELETE /login", r, http.StatusMethodNotAllowed, "Not allowed here")
	if got := r.Header.Get("Allow"); got != "GET, HEAD, POST" {
		t.Errorf("DELETE /login Allow: got %q, want GET, HEAD, POST", got)
	}

	// Opening a deal makes it current: one deal.selected per change.
	before := w.auditCount(t, "deal.selected", second)
	for range 3 {
		wantPage(t, "the deal page", w.owner.get("/deals/"+itoa(second)), 200, "<h1>Second</h1>")
	}
	if got := w.auditCount(t, "deal.selected", second); got != before+1 {
		t.Errorf("deal.selected after opening and reloading: got %d, want %d", got, before+1)
	}
	if got := w.lastDeal(t, w.ownerID); got != second {
		t.Errorf("last_deal_id: got %d, want %d", got, second)
	}
	if r := w.owner.get("/"); r.Header.Get("Location") != "/deals/"+itoa(second) {
		t.Errorf("GET /: got %d to %q, want 303 to /deals/%d", r.Status, r.Header.Get("Location"), second)
	}

	// The activity speaks, including events still in the outbox.
	page := w.owner.get("/deals/" + itoa(w.atlas))
	for _, want := range []string{"You created this deal", "member was added by you", "You selected this deal", "just now"} {
		if !strings.Contains(string(page.Body), want) {
			t.Errorf("activity of Atlas: want %q in %s", want, page.Body)
		}
	}
	if strings.Contains(string(page.Body), "deal.selected") {
		t.Errorf("activity of Atlas shows the raw action deal.selected")
	}
}

// TestRefusedRequestsAreLabelledWithTheirRoute: requests refused before
// routing (cross-origin, too large, wrong method) count under the route
// their path belongs to, not "unmatched".
func TestRefusedRequestsAreLabelledWithTheirRoute(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	createUser(t, env, "lia@example.com", false)
	a := startAPI(t, env)
	c := newClient(t, a)
	c.login("lia@example.com", false)

	if r := c.post("/api/deals", url.Values{}, map[string]string{"Origin": "https://evil.example"}); r.Status != http.StatusForbidden || r.ErrorCode() != "cross_origin" {
		t.Fatalf("cross-origin POST /api/deals: got %d %s, want 403 cross_origin", r.Status, r.Body)
	}
	req, _ := http.NewRequest("POST", a.URL+"/api/deals", strings.NewReader(strings.Repeat("x", 2<<20)))
	req.Header.Set("Content-Type", "application/json")
	if r := c.noFollow(req); r.Status != http.StatusRequestEntityTooLarge || r.ErrorCode() != "payload_too_large" {
		t.Fatalf("2 MiB POST /api/deals: got %d %.100s, want 413 payload_too_large", r.Status, r.Body)
	}
	if r := c.do("PATCH", "/api/deals/7", map[string]string{}); r.Status != http.StatusMethodNotAllowed || r.Header.Get("Allow") != "GET, HEAD, DELETE" {
		t.Fatalf("PATCH /api/deals/7: got %d Allow %q, want 405 with Allow GET, HEAD, DELETE", r.Status, r.Header.Get("Allow"))
	}
	series, _ := scrape(t, a)
	for _, s := range []string{
		`dealctx_http_request_duration_seconds_count{method="POST",route="/api/deals",status="403"}`,
		`dealctx_http_request_duration_seconds_count{method="POST",route="/api/deals",status="413"}`,
		`dealctx_http_request_duration_seconds_count{method="PATCH",route="/api/deals/{id}",status="405"}`,
	} {
		if series[s] != 1 {
			t.Errorf("%s: got %v, want 1", s, series[s])
		}
	}
}
