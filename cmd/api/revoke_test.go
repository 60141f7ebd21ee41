package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dealctx/dealctx/internal/httpapi"
	"github.com/dealctx/dealctx/internal/session"
)

// In SESSION_STORE=redis (sessions never reach PostgreSQL), `user
// set-password` and `user disable` end every session of the user at once,
// GET /api/deals included (issue 12, item 1).
func TestUserCommandsEndSessionsInRedisMode(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	env["SESSION_STORE"] = "redis"
	a := startAPI(t, env)
	createUser(t, env, "pw@example.com", false)
	createUser(t, env, "off@example.com", false)
	createUser(t, env, "bystander@example.com", false)

	signedIn := func(email string, n int) []*client {
		cs := make([]*client, n)
		for i := range cs {
			cs[i] = newClient(t, a)
			cs[i].login(email, false)
			if r := cs[i].do("GET", "/api/deals", nil); r.Status != http.StatusOK {
				t.Fatalf("%s before the command: got %d, want 200", email, r.Status)
			}
		}
		return cs
	}
	pw, off, bystander := signedIn("pw@example.com", 2), signedIn("off@example.com", 2), signedIn("bystander@example.com", 1)

	command(t, env, "", "user", "set-password", "--email", "pw@example.com", "--password", "a-brand-new-password")
	command(t, env, "", "user", "disable", "--email", "off@example.com")
	for _, path := range []string{"/api/deals", "/api/me"} {
		for i, c := range append(pw, off...) {
			if r := c.do("GET", path, nil); r.Status != http.StatusUnauthorized {
				t.Errorf("session %d after the command, GET %s: got %d, want 401", i, path, r.Status)
			}
		}
	}
	if r := bystander[0].do("GET", "/api/deals", nil); r.Status != http.StatusOK {
		t.Errorf("another user's session: got %d, want 200", r.Status)
	}
}

// Replaying a remember validator two rotations old ends every session the
// user has that is bound to a remember token, the thief's included, audits
// auth.token_theft against the user and logs it at warn (issue 12, item 3).
func TestRememberTheftEndsRememberedSessions(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	env["LOG_LEVEL"] = "warn"
	a := startAPI(t, env)
	id := createUser(t, env, "victim@example.com", false)
	typed := newClient(t, a)
	typed.login("victim@example.com", false)

	device := newClient(t, a)
	device.login("victim@example.com", true)
	stolen := device.cookie(httpapi.RememberCookieName)
	// Two sign-ins from the remember cookie, each rotating its validator:
	// the second is the thief's session.
	var sessions []string
	for range 2 {
		device.setCookies(map[string]string{httpapi.RememberCookieName: device.cookie(httpapi.RememberCookieName)})
		if r := device.do("GET", "/api/deals", nil); r.Status != http.StatusOK {
			t.Fatalf("remember sign-in: got %d, want 200", r.Status)
		}
		sessions = append(sessions, device.cookie(session.CookieName))
	}

	replay := newClient(t, a)
	replay.setCookies(map[string]string{httpapi.RememberCookieName: stolen})
	if r := replay.do("GET", "/api/deals", nil); r.Status != http.StatusUnauthorized {
		t.Fatalf("replayed validator: got %d, want 401", r.Status)
	}
	for i, tok := range sessions {
		c := newClient(t, a)
		c.setCookies(map[string]string{session.CookieName: tok})
		if r := c.do("GET", "/api/deals", nil); r.Status != http.StatusUnauthorized {
			t.Errorf("remembered session %d after the theft: got %d, want 401", i, r.Status)
		}
	}
	if r := typed.do("GET", "/api/deals", nil); r.Status != http.StatusOK {
		t.Errorf("the password session without remember-me: got %d, want 200", r.Status)
	}
	if n := sqlInt(t, env, `SELECT count(*) FROM audit_outbox WHERE action = 'auth.token_theft' AND target_user_id = $1`, id); n != 1 {
		t.Errorf("auth.token_theft events: got %d, want 1", n)
	}
	logs := a.stderr.String()
	if !strings.Contains(logs, "remember token replayed") || !strings.Contains(logs, `"user_id":`) {
		t.Errorf("logs: got %q, want a warning naming the user_id", logs)
	}
}

// SESSION_IDLE_TIMEOUT ends a session unused that long; remember-me signs
// the user straight back in, with a new session.
func TestIdleSessionEndsAndRememberSignsBackIn(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	env["SESSION_IDLE_TIMEOUT"] = "1"
	a := startAPI(t, env)
	createUser(t, env, "idle@example.com", false)
	plain, remembered := newClient(t, a), newClient(t, a)
	plain.login("idle@example.com", false)
	remembered.login("idle@example.com", true)
	before := remembered.cookie(session.CookieName)
	time.Sleep(2100 * time.Millisecond)
	if r := plain.do("GET", "/api/deals", nil); r.Status != http.StatusUnauthorized {
		t.Errorf("idle session: got %d, want 401", r.Status)
	}
	if r := remembered.do("GET", "/api/deals", nil); r.Status != http.StatusOK {
		t.Errorf("idle session with a remember cookie: got %d, want 200", r.Status)
	}
	if after := remembered.cookie(session.CookieName); after == before || after == "" {
		t.Errorf("remember sign-in after idle: got the same session cookie, want a new session")
	}
}
