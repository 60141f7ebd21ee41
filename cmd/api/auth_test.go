package main

import (
	"net/http"
	"strings"
	"testing"
)

func TestLoginFailuresLookAlike(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	createUser(t, env, "ann@example.com", false)
	a := startAPI(t, env)
	c := newClient(t, a)
	wrong := c.do("POST", "/api/auth/login", map[string]string{"email": "ann@example.com", "password": "nope-nope"})
	unknown := c.do("POST", "/api/auth/login", map[string]string{"email": "nobody@example.com", "password": "nope-nope"})
	if wrong.Status != 401 || unknown.Status != 401 || string(wrong.Body) != string(unknown.Body) || wrong.ErrorCode() != "invalid_credentials" {
		t.Fatalf("wrong password %d %s vs unknown email %d %s: want identical 401 invalid_credentials", wrong.Status, wrong.Body, unknown.Status, unknown.Body)
	}
	if r := c.do("GET", "/api/me", nil); r.Status != 401 {
		t.Fatalf("/api/me after failed login: got %d, want 401", r.Status)
	}
	if n := sqlInt(t, env, `SELECT count(*) FROM audit_outbox WHERE action = 'auth.login_failed'`); n != 2 {
		t.Fatalf("auth.login_failed events: got %d, want 2", n)
	}
}

func TestLoginRenewsTheSessionTokenAndSetsContractCookies(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	env["COOKIE_SECURE"] = "true"
	createUser(t, env, "ann@example.com", false)
	a := startAPI(t, env)
	c := newClient(t, a)
	r := c.do("POST", "/api/auth/login", map[string]any{"email": "ANN@example.com", "password": "password-ann@example.com", "remember": true})
	if r.Status != 200 {
		t.Fatalf("login: got %d %s, want 200", r.Status, r.Body)
	}
	cookies := map[string]string{}
	for _, sc := range r.Header.Values("Set-Cookie") {
		cookies[strings.SplitN(sc, "=", 2)[0]] = sc
	}
	for _, name := range []string{"session", "remember_token"} {
		sc, ok := cookies[name]
		if !ok {
			t.Fatalf("login: no %s cookie in %v", name, r.Header.Values("Set-Cookie"))
		}
		for _, attr := range []string{"HttpOnly", "SameSite=Lax", "Path=/", "Secure"} {
			if !strings.Contains(sc, attr) {
				t.Errorf("%s cookie %q: missing %s", name, sc, attr)
			}
		}
	}
	var body struct {
		User struct {
			Email            string `json:"email"`
			RememberLastDeal bool   `json:"remember_last_deal"`
		} `json:"user"`
	}
	r.JSON(t, &body)
	if body.User.Email != "ann@example.com" || !body.User.RememberLastDeal {
		t.Fatalf("login user: got %+v", body.User)
	}
}

func TestLogoutDestroysSessionKeepsLastDeal(t *testing.T) {
	t.Parallel()
	w := newWorld(t, nil)
	w.member.do("POST", "/api/deals/"+itoa(w.atlas)+"/select", nil)
	token := w.member.cookie("session")
	if r := w.member.do("POST", "/api/auth/logout", nil); r.Status != 204 {
		t.Fatalf("logout: got %d %s, want 204", r.Status, r.Body)
	}
	// Even a client that kept the old cookie is signed out.
	w.member.setCookies(map[string]string{"session": token})
	if r := w.member.do("GET", "/api/me", nil); r.Status != 401 {
		t.Fatalf("/api/me with the old token: got %d, want 401", r.Status)
	}
	if id := w.lastDeal(t, w.memberID); id != w.atlas {
		t.Fatalf("last_deal_id after logout: got %d, want %d kept", id, w.atlas)
	}
	if r := newClient(t, w.api).do("POST", "/api/auth/logout", nil); r.Status != 401 {
		t.Fatalf("anonymous logout: got %d, want 401", r.Status)
	}
}

// rememberSetup signs a user in with remember-me and returns the api, the
// env and the remember cookie value.
func rememberSetup(t *testing.T) (*api, map[string]string, string) {
	t.Helper()
	env := testEnv(t)
	createUser(t, env, "ann@example.com", false)
	a := startAPI(t, env)
	c := newClient(t, a)
	c.login("ann@example.com", true)
	v := c.cookie("remember_token")
	if v == "" {
		t.Fatalf("no remember_token cookie after login with remember")
	}
	if n := sqlInt(t, env, `SELECT count(*) FROM remember_tokens WHERE validator_hash::text LIKE '%' || $1 || '%'`, strings.SplitN(v, ".", 2)[1]); n != 0 {
		t.Fatalf("the validator is stored in clear")
	}
	return a, env, v
}

// withRemember returns a new browser holding only the remember cookie.
func withRemember(t *testing.T, a *api, value string) *client {
	c := newClient(t, a)
	c.setCookies(map[string]string{"remember_token": value})
	return c
}

func TestRememberTokenRotatesAndSignsIn(t *testing.T) {
	t.Parallel()
	a, _, v := rememberSetup(t)
	c := withRemember(t, a, v)
	if r := c.do("GET", "/api/me", nil); r.Status != 200 {
		t.Fatalf("/api/me with remember cookie: got %d %s, want 200", r.Status, r.Body)
	}
	rotated := c.cookie("remember_token")
	if rotated == "" || rotated == v || strings.SplitN(rotated, ".", 2)[0] != strings.SplitN(v, ".", 2)[0] {
		t.Fatalf("rotation: got %q from %q, want same selector, new validator", rotated, v)
	}
	// The rotated cookie works in yet another browser.
	if r := withRemember(t, a, rotated).do("GET", "/api/me", nil); r.Status != 200 {
		t.Fatalf("rotated cookie: got %d, want 200", r.Status)
	}
}

func TestRememberPreviousValidatorWorksWithinGraceWindow(t *testing.T) {
	t.Parallel()
	a, _, v := rememberSetup(t)
	// Two tabs race: the first rotates, the second still sends the old one.
	if r := withRemember(t, a, v).do("GET", "/api/me", nil); r.Status != 200 {
		t.Fatalf("first tab: got %d, want 200", r.Status)
	}
	if r := withRemember(t, a, v).do("GET", "/api/me", nil); r.Status != 200 {
		t.Fatalf("second tab with the previous validator inside the grace window: got %d, want 200", r.Status)
	}
}

func TestRememberOldValidatorAfterGraceRevokesAllTokens(t *testing.T) {
	t.Parallel()
	a, env, v := rememberSetup(t)
	thief := withRemember(t, a, v)
	thief.do("GET", "/api/me", nil) // rotates
	current := thief.cookie("remember_token")
	sqlExec(t, env, `UPDATE remember_tokens SET rotated_at = now() - interval '10 minutes'`)
	// The victim's stale copy shows up after the grace window: theft.
	if r := withRemember(t, a, v).do("GET", "/api/me", nil); r.Status != 401 {
		t.Fatalf("old validator after grace: got %d, want 401", r.Status)
	}
	if n := sqlInt(t, env, `SELECT count(*) FROM remember_tokens`); n != 0 {
		t.Fatalf("remember tokens after theft: got %d, want 0 (all revoked)", n)
	}
	if r := withRemember(t, a, current).do("GET", "/api/me", nil); r.Status != 401 {
		t.Fatalf("current validator after theft: got %d, want 401", r.Status)
	}
}

func TestLogoutRevokesRememberToken(t *testing.T) {
	t.Parallel()
	a, env, v := rememberSetup(t)
	c := withRemember(t, a, v)
	c.do("GET", "/api/me", nil)
	if r := c.do("POST", "/api/auth/logout", nil); r.Status != 204 {
		t.Fatalf("logout: got %d, want 204", r.Status)
	}
	if n := sqlInt(t, env, `SELECT count(*) FROM remember_tokens`); n != 0 {
		t.Fatalf("remember tokens after logout: got %d, want 0", n)
	}
	if r := withRemember(t, a, v).do("GET", "/api/me", nil); r.Status != 401 {
		t.Fatalf("remember cookie after logout: got %d, want 401", r.Status)
	}
}

func TestGarbageCookiesAreIgnored(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	a := startAPI(t, env)
	for _, kv := range []map[string]string{
		{"session": "garbage"},
		{"session": strings.Repeat("A", 43)},
		{"remember_token": "x.y"},
		{"remember_token": strings.Repeat("a", 16) + "." + strings.Repeat("b", 43)},
		{"session": "%%%", "remember_token": "...."},
	} {
		c := newClient(t, a)
		c.setCookies(kv)
		if r := c.do("GET", "/api/me", nil); r.Status != http.StatusUnauthorized {
			t.Errorf("cookies %v: got %d %s, want 401", kv, r.Status, r.Body)
		}
	}
}
