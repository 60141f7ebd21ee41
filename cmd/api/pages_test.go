package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestPagesOverHTTP checks what the pages promise below the browser:
// redirects for visitors who are signed out, safe ?next= handling, headers,
// escaping and the embedded static files.
func TestPagesOverHTTP(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	createUser(t, env, "pia@example.com", false)
	a := startAPI(t, env)

	anon := newClient(t, a)
	anon.http.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for path, want := range map[string]string{
		"/deal":      "/login?next=%2Fdeal",
		"/":          "/login",
		"/deal?x=1":  "/login?next=%2Fdeal%3Fx%3D1",
		"/deal?x=//": "/login?next=%2Fdeal%3Fx%3D%2F%2F",
	} {
		r := anon.do("GET", path, nil)
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != want {
			t.Errorf("GET %s signed out: got %d to %q, want 303 to %q", path, r.Status, r.Header.Get("Location"), want)
		}
	}

	login := anon.do("GET", "/login", nil)
	if login.Status != http.StatusOK {
		t.Fatalf("GET /login: got %d, want 200", login.Status)
	}
	for header, want := range map[string]string{
		"Content-Type":  "text/html; charset=utf-8",
		"Cache-Control": "no-store",
	} {
		if got := login.Header.Get(header); got != want {
			t.Errorf("/login %s: got %q, want %q", header, got, want)
		}
	}
	csp := login.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("/login CSP: got %q, want it to contain %q", csp, want)
		}
	}
	for _, want := range []string{`<label for="email">`, `<label for="password">`, `<label for="remember">Remember me</label>`, `type="checkbox"`, `<button type="submit">Sign in</button>`, `name="viewport"`} {
		if !strings.Contains(string(login.Body), want) {
			t.Errorf("/login: want the page to contain %s", want)
		}
	}
	if strings.Contains(string(login.Body), "<script>") || strings.Contains(string(login.Body), " style=") {
		t.Errorf("/login has inline script or style, which the CSP refuses")
	}

	// ?next= only ever leads to a path on this site.
	for next, want := range map[string]string{
		"/deal":                    `data-next="/deal"`,
		"//evil.example/x":         `data-next="/"`,
		"https://evil.example/":    `data-next="/"`,
		"/\\evil.example":          `data-next="/"`,
		"javascript:alert(1)":      `data-next="/"`,
		`/deal"><script>x</scr`:    `data-next="/deal&#34;&gt;&lt;script&gt;x&lt;/scr"`,
		strings.Repeat("/a", 2000): `data-next="/"`,
	} {
		r := anon.do("GET", "/login?next="+url.QueryEscape(next), nil)
		if r.Status != http.StatusOK || !strings.Contains(string(r.Body), want) {
			t.Errorf("/login?next=%.40s: got %d, want 200 with %s", next, r.Status, want)
		}
	}

	for path, want := range map[string]int{
		"/static/app.js":      http.StatusOK,
		"/static/app.css":     http.StatusOK,
		"/static/favicon.svg": http.StatusOK,
		"/static/":            http.StatusNotFound,
		"/static/nope.js":     http.StatusNotFound,
		"/static/../main.go":  http.StatusNotFound,
	} {
		if r := anon.do("GET", path, nil); r.Status != want {
			t.Errorf("GET %s: got %d, want %d", path, r.Status, want)
		}
	}

	// Signed in: /login goes on to next; names are escaped; no deal at all
	// is the selector with a prompt, not an error.
	c := newClient(t, a)
	c.http.CheckRedirect = anon.http.CheckRedirect
	c.login("pia@example.com", false)
	if r := c.do("GET", "/login?next=%2Fdeal", nil); r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/deal" {
		t.Errorf("GET /login signed in: got %d to %q, want 303 to /deal", r.Status, r.Header.Get("Location"))
	}
	r := c.do("GET", "/deal", nil)
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/deals" {
		t.Errorf("GET /deal with no deals: got %d to %q, want 303 to /deals", r.Status, r.Header.Get("Location"))
	}
	r = c.do("GET", "/deals", nil)
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), "<h1>Choose a deal</h1>") || !strings.Contains(string(r.Body), `class="prompt"`) {
		t.Errorf("GET /deals with no deals: got %d %s, want 200 with the selector and a prompt", r.Status, r.Body)
	}
	id := c.createDeal(`<script>alert(1)</script>`)
	r = c.do("GET", "/deal", nil) // the only deal: restored
	if want := "/deals/" + itoa(id); r.Status != http.StatusSeeOther || r.Header.Get("Location") != want {
		t.Errorf("GET /deal with one deal: got %d to %q, want 303 to %s", r.Status, r.Header.Get("Location"), want)
	}
	r = c.do("GET", "/deals/"+itoa(id), nil)
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), "<h1>&lt;script&gt;alert(1)&lt;/script&gt;</h1>") {
		t.Errorf("GET /deals/%d: got %d %s, want 200 with the deal's name escaped in the h1", id, r.Status, r.Body)
	}
}

// TestDealPageSaysWhenTheLastDealWentAwayWhileSignedOut: a deal revoked while
// the member was signed out is not restored at the next sign-in, and /deal
// says why instead of only prompting for a choice.
func TestDealPageSaysWhenTheLastDealWentAwayWhileSignedOut(t *testing.T) {
	t.Parallel()
	w := newWorld(t, nil)
	w.owner.createDeal("Second")
	w.member.do("POST", "/api/deals/"+itoa(w.atlas)+"/select", nil)
	w.member.do("POST", "/api/auth/logout", nil)
	if r := w.owner.do("DELETE", "/api/deals/"+itoa(w.atlas)+"/members/"+itoa(w.memberID), nil); r.Status != 204 {
		t.Fatalf("remove member: got %d, want 204", r.Status)
	}
	// The stale id is still there, as after a revocation the api did not see.
	sqlExec(t, w.env, `UPDATE users SET last_deal_id = $1 WHERE id = $2`, w.atlas, w.memberID)
	w.member.login("member@example.com", false)
	r := w.member.do("GET", "/deal", nil)
	if r.Status != 200 || !strings.Contains(string(r.Body), "no longer available to you") {
		t.Fatalf("/deal: got %d, want 200 with the notice; body:\n%s", r.Status, r.Body)
	}
	r = w.member.do("GET", "/deal", nil)
	if strings.Contains(string(r.Body), "no longer available to you") {
		t.Fatalf("/deal again: the notice shows twice, want once")
	}
}
