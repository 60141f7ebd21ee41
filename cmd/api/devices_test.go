package main

import (
	"io"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dealctx/dealctx/internal/testserver"
)

// End-to-end tests of "your sessions" (GET/DELETE /api/me/sessions, POST
// /api/me/password) through real api processes in every store mode.

// storeModes are the SESSION_STORE values every device test runs in.
func storeModes() []string { return []string{"tiered", "redis", "postgres"} }

// uaTransport sends every request with a browser's User-Agent.
type uaTransport struct {
	ua   string
	next http.RoundTripper
}

func (u uaTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("User-Agent", u.ua)
	return u.next.RoundTrip(r)
}

// newDevice is a client on a that presents itself as ua.
func newDevice(t *testing.T, a *api, ua string) *client {
	c := newClient(t, a)
	c.http.Transport = uaTransport{ua: ua, next: c.http.Transport}
	return c
}

const (
	uaFirefoxLinux = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
	uaChromeMac    = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
	uaSafariPhone  = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)

// deviceSession is one item of GET /api/me/sessions.
type deviceSession struct {
	ID         string    `json:"id"`
	Current    bool      `json:"current"`
	CreatedAt  time.Time `json:"created_at"`
	LastSeenAt time.Time `json:"last_seen_at"`
	IP         string    `json:"ip"`
	UserAgent  string    `json:"user_agent"`
	Remembered bool      `json:"remembered"`
}

// sessions lists the client's user's sessions, failing the test unless the
// answer is 200; it returns the raw body too.
func (c *client) sessions() ([]deviceSession, string) {
	c.t.Helper()
	r := c.do("GET", "/api/me/sessions", nil)
	if r.Status != http.StatusOK {
		c.t.Fatalf("list sessions: got %d %s, want 200", r.Status, r.Body)
	}
	var out struct{ Sessions []deviceSession }
	r.JSON(c.t, &out)
	return out.Sessions, string(r.Body)
}

// currentID is the id the list gives the client's own session.
func (c *client) currentID() string {
	c.t.Helper()
	ss, _ := c.sessions()
	for _, s := range ss {
		if s.Current {
			return s.ID
		}
	}
	c.t.Fatalf("no session marked current in %+v", ss)
	return ""
}

// wantStatus fails the test unless c's GET path answers want.
func (c *client) wantStatus(what, path string, want int) {
	c.t.Helper()
	if r := c.do("GET", path, nil); r.Status != want {
		c.t.Errorf("%s: GET %s got %d %s, want %d", what, path, r.Status, r.Body, want)
	}
}

// rememberOnly is a fresh browser on a holding only the remember cookie
// value: the device coming back after its session cookie is gone.
func rememberOnly(t *testing.T, a *api, remember string) *client {
	c := newClient(t, a)
	c.setCookies(map[string]string{"remember_token": remember})
	return c
}

// auditCount counts events of action recorded (waiting in the outbox or
// moved to audit_log).
func auditCount(t *testing.T, env map[string]string, action string) int64 {
	return sqlInt(t, env, `SELECT count(*) FROM (SELECT action FROM audit_outbox UNION ALL SELECT action FROM audit_log) e WHERE action = $1`, action)
}

// TestDevicesListRevokeAndPassword, in every store mode with two api
// processes: three sign-ins are listed newest first with exactly one
// current and no token in the body; ending one signs that device out on
// both processes at once, its remember cookie included; another user's id
// and an unknown id are 404; "everywhere else" and a password change keep
// exactly the current session.
func TestDevicesListRevokeAndPassword(t *testing.T) {
	t.Parallel()
	for _, mode := range storeModes() {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			env := testEnv(t)
			env["SESSION_STORE"] = mode
			a, b := startAPI(t, maps.Clone(env)), startAPI(t, maps.Clone(env))
			email := "devices-" + mode + "@example.com"
			createUser(t, env, email, false)

			// Three devices: two on A, one remembered on B.
			laptop := newDevice(t, a, uaFirefoxLinux)
			laptop.login(email, false)
			phone := newDevice(t, b, uaSafariPhone)
			phone.login(email, true)
			time.Sleep(1100 * time.Millisecond) // created_at has second precision: keep "newest first" observable
			desk := newDevice(t, a, uaChromeMac)
			desk.login(email, false)

			list, body := desk.sessions()
			if len(list) != 3 {
				t.Fatalf("sessions: got %d %s, want 3", len(list), body)
			}
			for _, secret := range []string{laptop.sessionCookie(), phone.sessionCookie(), desk.sessionCookie(), phone.cookie("remember_token")} {
				if secret == "" || strings.Contains(body, secret) {
					t.Fatalf("sessions body: got a token (or an empty cookie) %q in %s, want none", secret, body)
				}
			}
			var current []deviceSession
			for _, s := range list {
				if s.Current {
					current = append(current, s)
				}
				if s.IP == "" || s.CreatedAt.IsZero() || s.LastSeenAt.IsZero() {
					t.Errorf("session %+v: want ip, created_at and last_seen_at", s)
				}
			}
			if len(current) != 1 || current[0].UserAgent != uaChromeMac || current[0].ID != list[0].ID {
				t.Fatalf("current sessions: got %+v, want exactly the newest one, this Chrome", current)
			}
			for i := 1; i < len(list); i++ {
				if list[i].CreatedAt.After(list[i-1].CreatedAt) {
					t.Errorf("order: got %v before %v, want newest first", list[i-1].CreatedAt, list[i].CreatedAt)
				}
			}
			var phoneID string
			for _, s := range list {
				if s.UserAgent == uaSafariPhone {
					phoneID = s.ID
					if !s.Remembered {
						t.Errorf("phone session: got remembered false, want true")
					}
				} else if s.Remembered {
					t.Errorf("session %s: got remembered true, want false", s.UserAgent)
				}
			}
			if phoneID == "" || phoneID != phone.currentID() {
				t.Fatalf("phone's id: got %q in desk's list and %q in its own, want the same", phoneID, phone.currentID())
			}

			// Another user, on the other process, cannot see or end them.
			otherEmail := "other-" + mode + "@example.com"
			createUser(t, env, otherEmail, false)
			other := newClient(t, b)
			other.login(otherEmail, false)
			if ss, _ := other.sessions(); len(ss) != 1 {
				t.Errorf("other user's sessions: got %d, want 1", len(ss))
			}
			for _, id := range []string{phoneID, "AAAAAAAAAAAAAAAAAAAAAA", "not-a-session-id", phone.sessionCookie()} {
				if r := other.do("DELETE", "/api/me/sessions/"+id, nil); r.Status != http.StatusNotFound || r.ErrorCode() != "not_found" {
					t.Errorf("other user ends %q: got %d %s, want 404 not_found", id, r.Status, r.Body)
				}
			}
			phone.wantStatus("phone after another user's attempts", "/api/me", http.StatusOK)

			// Ending the phone from the desk (process A): out at once on both
			// processes, and its remember cookie no longer signs in.
			remember := phone.cookie("remember_token")
			if r := desk.do("DELETE", "/api/me/sessions/"+phoneID, nil); r.Status != http.StatusNoContent {
				t.Fatalf("end the phone: got %d %s, want 204", r.Status, r.Body)
			}
			phone.wantStatus("ended phone on B (session and remember cookie)", "/api/me", http.StatusUnauthorized)
			phone.base = a.URL
			phone.wantStatus("ended phone on A", "/api/me", http.StatusUnauthorized)
			rememberOnly(t, b, remember).wantStatus("the ended phone's remember token", "/api/me", http.StatusUnauthorized)
			if r := desk.do("DELETE", "/api/me/sessions/"+phoneID, nil); r.Status != http.StatusNotFound {
				t.Errorf("end the phone again: got %d, want 404", r.Status)
			}
			if ss, _ := desk.sessions(); len(ss) != 2 {
				t.Errorf("sessions after ending one: got %d, want 2", len(ss))
			}

			// Everywhere else: the laptop (and a new remembered tablet on B) end, the desk stays.
			tablet := newDevice(t, b, uaSafariPhone)
			tablet.login(email, true)
			tabletRemember := tablet.cookie("remember_token")
			if r := desk.do("DELETE", "/api/me/sessions", nil); r.Status != http.StatusNoContent {
				t.Fatalf("sign out everywhere else: got %d %s, want 204", r.Status, r.Body)
			}
			laptop.wantStatus("laptop after everywhere-else", "/api/me", http.StatusUnauthorized)
			tablet.wantStatus("tablet after everywhere-else", "/api/me", http.StatusUnauthorized)
			rememberOnly(t, a, tabletRemember).wantStatus("tablet's remember token after everywhere-else", "/api/me", http.StatusUnauthorized)
			desk.wantStatus("desk after everywhere-else", "/api/me", http.StatusOK)
			if ss, _ := desk.sessions(); len(ss) != 1 || !ss[0].Current {
				t.Errorf("sessions after everywhere-else: got %+v, want only the current one", ss)
			}
			if r := other.do("GET", "/api/me", nil); r.Status != http.StatusOK {
				t.Errorf("the other user after everywhere-else: got %d, want 200", r.Status)
			}

			// Password change: checked, 12 characters, every other session
			// and remember token ends, this one stays.
			oldPassword, newPassword := "password-"+email, "a-much-longer-password"
			laptop = newDevice(t, b, uaFirefoxLinux)
			laptop.login(email, true)
			laptopRemember := laptop.cookie("remember_token")
			for _, tc := range []struct {
				name   string
				body   any
				status int
				code   string
			}{
				{"wrong current", map[string]string{"current_password": "not-the-password", "new_password": newPassword}, 401, "invalid_credentials"},
				{"new too short", map[string]string{"current_password": oldPassword, "new_password": "elevenchars"}, 400, "invalid_request"},
				{"missing current", map[string]string{"new_password": newPassword}, 400, "invalid_request"},
				{"NUL in new", map[string]string{"current_password": oldPassword, "new_password": "a-long-password\x00x"}, 400, "invalid_request"},
				{"new too long", map[string]string{"current_password": oldPassword, "new_password": strings.Repeat("x", 5000)}, 400, "invalid_request"},
				{"not json", "current_password=x", 400, "invalid_request"},
			} {
				if r := desk.do("POST", "/api/me/password", tc.body); r.Status != tc.status || r.ErrorCode() != tc.code {
					t.Errorf("password change, %s: got %d %s, want %d %s", tc.name, r.Status, r.Body, tc.status, tc.code)
				}
			}
			laptop.wantStatus("laptop after refused password changes", "/api/me", http.StatusOK)
			if r := desk.do("POST", "/api/me/password", map[string]string{"current_password": oldPassword, "new_password": newPassword}); r.Status != http.StatusNoContent {
				t.Fatalf("password change: got %d %s, want 204", r.Status, r.Body)
			}
			desk.wantStatus("desk after its password change", "/api/me", http.StatusOK)
			laptop.wantStatus("laptop after the password change", "/api/me", http.StatusUnauthorized)
			rememberOnly(t, a, laptopRemember).wantStatus("laptop's remember token after the password change", "/api/me", http.StatusUnauthorized)
			if ss, _ := desk.sessions(); len(ss) != 1 || !ss[0].Current {
				t.Errorf("sessions after the password change: got %+v, want only the current one", ss)
			}
			fresh := newClient(t, a)
			if r := fresh.do("POST", "/api/auth/login", map[string]any{"email": email, "password": oldPassword}); r.Status != http.StatusUnauthorized {
				t.Errorf("sign in with the old password: got %d, want 401", r.Status)
			}
			if r := fresh.do("POST", "/api/auth/login", map[string]any{"email": email, "password": newPassword}); r.Status != http.StatusOK {
				t.Errorf("sign in with the new password: got %d %s, want 200", r.Status, r.Body)
			}

			// Ending its own session signs the desk out.
			if r := desk.do("DELETE", "/api/me/sessions/"+desk.currentID(), nil); r.Status != http.StatusNoContent {
				t.Fatalf("end this session: got %d %s, want 204", r.Status, r.Body)
			}
			desk.wantStatus("desk after ending itself", "/api/me", http.StatusUnauthorized)

			if n := auditCount(t, env, "session.revoked"); n != 4 {
				t.Errorf("session.revoked events: got %d, want 4 (phone, laptop, tablet, desk)", n)
			}
			if n := auditCount(t, env, "auth.password_changed"); n != 1 {
				t.Errorf("auth.password_changed events: got %d, want 1", n)
			}
		})
	}
}

// TestDevicesPasswordChangeThrottled: wrong current passwords count toward
// sign-in throttling, so guessing is 429 with Retry-After, for the change
// and for sign-in alike.
func TestDevicesPasswordChangeThrottled(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	env["LOGIN_ACCOUNT_LIMIT"] = "3"
	a := startAPI(t, env)
	email := "guess@example.com"
	createUser(t, env, email, false)
	c := newClient(t, a)
	c.login(email, false)
	wrong := map[string]string{"current_password": "a-wrong-guess", "new_password": "a-much-longer-password"}
	for i := range 3 {
		if r := c.do("POST", "/api/me/password", wrong); r.Status != http.StatusUnauthorized {
			t.Fatalf("wrong current password %d: got %d %s, want 401", i+1, r.Status, r.Body)
		}
	}
	r := c.do("POST", "/api/me/password", map[string]string{"current_password": "password-" + email, "new_password": "a-much-longer-password"})
	if r.Status != http.StatusTooManyRequests || r.ErrorCode() != "rate_limited" || r.Header.Get("Retry-After") == "" {
		t.Errorf("after 3 wrong passwords: got %d %s (Retry-After %q), want 429 rate_limited with Retry-After", r.Status, r.Body, r.Header.Get("Retry-After"))
	}
	if r := newClient(t, a).do("POST", "/api/auth/login", map[string]any{"email": email, "password": "password-" + email}); r.Status != http.StatusTooManyRequests {
		t.Errorf("sign-in after 3 wrong passwords on the change form: got %d, want 429", r.Status)
	}
}

// TestDevicesRevokeDuringRedisOutage (tiered, two processes): a device
// ended while Redis is unreachable is out at once on both processes, and
// stays out (session and remember cookie) after Redis returns with its
// stale copy of the session.
func TestDevicesRevokeDuringRedisOutage(t *testing.T) {
	t.Parallel()
	rs := testserver.StartRedis(t)
	proxy := testserver.StartProxy(t, rs.Addr()) // cut the link; Redis keeps its data
	env := testEnv(t)
	env["SESSION_STORE"] = "tiered"
	env["REDIS_URL"] = "redis://" + proxy.Addr() + "/0"
	apis := startAPIs(t, env, 2)
	email := "outage-devices@example.com"
	createUser(t, env, email, false)
	desk := newDevice(t, apis[0], uaChromeMac)
	desk.login(email, false)
	phone := newDevice(t, apis[1], uaSafariPhone)
	phone.login(email, true)
	phoneID, remember, token := phone.currentID(), phone.cookie("remember_token"), phone.sessionCookie()

	proxy.Cut()
	for _, a := range apis {
		eventually(t, 5*time.Second, "breaker opens on "+a.URL, func() bool { return getHealth(t, a).Redis.Breaker == "open" })
	}
	if r := desk.do("DELETE", "/api/me/sessions/"+phoneID, nil); r.Status != http.StatusNoContent {
		t.Fatalf("end the phone during the outage: got %d %s, want 204", r.Status, r.Body)
	}
	stale := func(a *api) *client {
		c := newClient(t, a)
		c.setCookies(map[string]string{"session": token})
		return c
	}
	for _, a := range apis {
		stale(a).wantStatus("ended phone during the outage on "+a.URL, "/api/me", http.StatusUnauthorized)
		rememberOnly(t, a, remember).wantStatus("ended phone's remember token during the outage on "+a.URL, "/api/me", http.StatusUnauthorized)
	}

	proxy.Restore()
	for _, a := range apis {
		eventually(t, 10*time.Second, "health ok again on "+a.URL, func() bool { return getHealth(t, a).Status == "ok" })
	}
	for _, a := range apis {
		stale(a).wantStatus("ended phone after Redis returned on "+a.URL, "/api/me", http.StatusUnauthorized)
		rememberOnly(t, a, remember).wantStatus("ended phone's remember token after Redis returned on "+a.URL, "/api/me", http.StatusUnauthorized)
	}
	desk.wantStatus("desk after the outage", "/api/me", http.StatusOK)
	if ss, _ := desk.sessions(); len(ss) != 1 || !ss[0].Current {
		t.Errorf("sessions after the outage: got %+v, want only the desk", ss)
	}
}

// TestDevicesIdleTimeout, in every store mode: a session unused for
// SESSION_IDLE_TIMEOUT ends; remember-me signs the user back in with the
// deal restored, and without it the next request is 401.
func TestDevicesIdleTimeout(t *testing.T) {
	t.Parallel()
	for _, mode := range storeModes() {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			env := testEnv(t)
			env["SESSION_STORE"] = mode
			env["SESSION_IDLE_TIMEOUT"] = "2"
			a := startAPI(t, env)
			email := "idle-" + mode + "@example.com"
			createUser(t, env, email, false)
			kept := newClient(t, a)
			kept.login(email, true)
			dealID := kept.createDeal("Idle Deal")
			if r := kept.do("POST", "/api/deals/"+itoa(dealID)+"/select", nil); r.Status != http.StatusOK {
				t.Fatalf("select: got %d %s, want 200", r.Status, r.Body)
			}
			plain := newClient(t, a)
			plain.login(email, false)
			keptToken := kept.sessionCookie()

			time.Sleep(2500 * time.Millisecond) // just past the idle timeout

			plain.wantStatus("idle session without remember-me", "/api/me", http.StatusUnauthorized)
			r := kept.do("GET", "/api/me", nil)
			if r.Status != http.StatusOK {
				t.Fatalf("idle session with remember-me: got %d %s, want 200", r.Status, r.Body)
			}
			var me struct {
				CurrentDeal *struct{ ID int64 } `json:"current_deal"`
				Restored    bool
			}
			r.JSON(t, &me)
			if me.CurrentDeal == nil || me.CurrentDeal.ID != dealID || !me.Restored {
				t.Errorf("back from idle with remember-me: got %s, want deal %d restored", r.Body, dealID)
			}
			if kept.sessionCookie() == keptToken {
				t.Errorf("session token after idle expiry: unchanged, want a new session")
			}
			stale := newClient(t, a)
			stale.setCookies(map[string]string{"session": keptToken})
			stale.wantStatus("the idle session's old token", "/api/me", http.StatusUnauthorized)
		})
	}
}

// TestDevicesDoorsAndRefusals: signed out, the list is 401 (API) or a
// redirect to sign in (page); the page's forms and the API refuse another
// origin; an unknown device on the page is the HTML 404 page.
func TestDevicesDoorsAndRefusals(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	a := startAPI(t, env)
	email := "doors@example.com"
	createUser(t, env, email, false)
	anon := newClient(t, a)
	anon.http.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if r := anon.do("GET", "/api/me/sessions", nil); r.Status != http.StatusUnauthorized || r.ErrorCode() != "unauthenticated" {
		t.Errorf("anonymous list: got %d %s, want 401 unauthenticated", r.Status, r.Body)
	}
	if r := anon.do("GET", "/account/sessions", nil); r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/login?next=%2Faccount%2Fsessions" {
		t.Errorf("anonymous page: got %d to %q, want 303 to /login?next=%%2Faccount%%2Fsessions", r.Status, r.Header.Get("Location"))
	}

	desk := newClient(t, a)
	desk.login(email, false)
	desk.http.CheckRedirect = anon.http.CheckRedirect
	laptop := newClient(t, a)
	laptop.login(email, false)
	send := func(method, path string, header map[string]string, form string) response {
		req, _ := http.NewRequest(method, a.URL+path, strings.NewReader(form))
		if form != "" {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := desk.http.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		_, _ = io.Copy(&b, resp.Body)
		return response{Status: resp.StatusCode, Header: resp.Header, Body: []byte(b.String())}
	}
	for _, tc := range []struct{ method, path string }{
		{"POST", "/account/sessions/revoke-others"},
		{"POST", "/account/password"},
		{"DELETE", "/api/me/sessions"},
	} {
		for _, h := range []map[string]string{{"Sec-Fetch-Site": "cross-site"}, {"Origin": "https://evil.example"}} {
			if r := send(tc.method, tc.path, h, ""); r.Status != http.StatusForbidden {
				t.Errorf("%s %s with %v: got %d, want 403", tc.method, tc.path, h, r.Status)
			}
		}
	}
	laptop.wantStatus("laptop after refused cross-origin requests", "/api/me", http.StatusOK)

	r := send("POST", "/account/sessions/AAAAAAAAAAAAAAAAAAAAAA/revoke", map[string]string{"Sec-Fetch-Site": "same-origin"}, "")
	if r.Status != http.StatusNotFound || !strings.Contains(r.Header.Get("Content-Type"), "text/html") {
		t.Errorf("page: sign out an unknown device: got %d %s, want the HTML 404 page", r.Status, r.Header.Get("Content-Type"))
	}
	r = send("POST", "/account/password", map[string]string{"Sec-Fetch-Site": "same-origin"}, "current_password=wrong-password&new_password=a-much-longer-password")
	if r.Status != http.StatusUnauthorized || !strings.Contains(string(r.Body), "The current password is incorrect.") {
		t.Errorf("page: wrong current password: got %d, want 401 with the message on the page", r.Status)
	}
	r = send("POST", "/account/sessions/revoke-others", map[string]string{"Sec-Fetch-Site": "same-origin"}, "")
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/account/sessions?done=others" {
		t.Errorf("page: sign out everywhere else: got %d to %q, want 303 to /account/sessions?done=others", r.Status, r.Header.Get("Location"))
	}
	laptop.wantStatus("laptop after everywhere else from the page", "/api/me", http.StatusUnauthorized)
}
