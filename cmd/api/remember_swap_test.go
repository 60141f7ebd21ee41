package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestSignInOverAnotherUsersRememberCookie is issue #23 item 6: on a shared
// browser, Alice signs in with "remember me", then Bob signs in over it
// without. Alice's token must be revoked and its cookie cleared, so that
// when Bob's session ends the browser is anonymous, not Alice. Through
// both doors (the API and the form), and with Alice's session already gone
// (the remember-me cookie signs her back in on the very sign-in request).
func TestSignInOverAnotherUsersRememberCookie(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	a := startAPI(t, env)
	for _, tc := range []struct {
		name        string
		form        bool
		sessionGone bool
	}{
		{name: "api"},
		{name: "form", form: true},
		{name: "api, Alice's session gone", sessionGone: true},
		{name: "form, Alice's session gone", form: true, sessionGone: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tag := strings.NewReplacer(" ", "-", ",", "", "'", "").Replace(tc.name)
			alice, bob := "alice-"+tag+"@example.com", "bob-"+tag+"@example.com"
			createUser(t, env, alice, false)
			createUser(t, env, bob, false)

			shared := newClient(t, a)
			shared.t = t
			shared.login(alice, true)
			aliceToken := shared.cookie("remember_token")
			selector, _, ok := strings.Cut(aliceToken, ".")
			if !ok {
				t.Fatalf("Alice's remember_token: got %q, want one", aliceToken)
			}
			if tc.sessionGone {
				shared.setCookies(map[string]string{"remember_token": aliceToken})
			}

			if tc.form {
				r := shared.post("/login", url.Values{"email": {bob}, "password": {"password-" + bob}}, nil)
				if r.Status != http.StatusSeeOther {
					t.Fatalf("POST /login as Bob: got %d %s, want 303", r.Status, r.Body)
				}
			} else {
				shared.login(bob, false)
			}
			var me struct{ User struct{ Email string } }
			if r := shared.do("GET", "/api/me", nil); r.Status != http.StatusOK {
				t.Fatalf("GET /api/me after Bob's sign-in: got %d %s, want 200", r.Status, r.Body)
			} else if r.JSON(t, &me); me.User.Email != bob {
				t.Fatalf("GET /api/me after Bob's sign-in: got %q, want %q", me.User.Email, bob)
			}
			if got := shared.cookie("remember_token"); got != "" {
				t.Errorf("remember_token after Bob's sign-in without remember: got %q, want none", got)
			}
			if n := sqlInt(t, env, `SELECT count(*) FROM remember_tokens WHERE selector = $1`, selector); n != 0 {
				t.Errorf("Alice's remember token after Bob's sign-in: got %d rows, want it revoked", n)
			}

			// Bob's session ends: he signs out everywhere else from another
			// device. The shared browser must then be anonymous.
			phone := newClient(t, a)
			phone.t = t
			phone.login(bob, false)
			if r := phone.do("DELETE", "/api/me/sessions", nil); r.Status != http.StatusNoContent {
				t.Fatalf("DELETE /api/me/sessions: got %d %s, want 204", r.Status, r.Body)
			}
			if r := shared.do("GET", "/api/me", nil); r.Status != http.StatusUnauthorized {
				t.Errorf("GET /api/me once Bob's session ended: got %d %s, want 401 (not Alice)", r.Status, r.Body)
			}
			if r := shared.get("/deals"); r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/login") {
				t.Errorf("GET /deals once Bob's session ended: got %d Location %q, want 303 to /login", r.Status, r.Header.Get("Location"))
			}
		})
	}
}

// TestSignInWithRememberOverAnotherUsersCookieReplacesIt checks that when
// Bob asks to be remembered over Alice's cookie, the browser holds Bob's
// token alone and Alice's is revoked.
func TestSignInWithRememberOverAnotherUsersCookieReplacesIt(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	createUser(t, env, "alice@example.com", false)
	bobID := createUser(t, env, "bob@example.com", false)
	a := startAPI(t, env)

	shared := newClient(t, a)
	shared.login("alice@example.com", true)
	aliceSelector, _, _ := strings.Cut(shared.cookie("remember_token"), ".")
	shared.login("bob@example.com", true)
	bobSelector, _, _ := strings.Cut(shared.cookie("remember_token"), ".")
	if bobSelector == "" || bobSelector == aliceSelector {
		t.Fatalf("remember_token after Bob's sign-in with remember: got selector %q, want a new one (Alice's %q)", bobSelector, aliceSelector)
	}
	if n := sqlInt(t, env, `SELECT count(*) FROM remember_tokens WHERE selector = $1`, aliceSelector); n != 0 {
		t.Errorf("Alice's remember token: got %d rows, want it revoked", n)
	}
	if n := sqlInt(t, env, `SELECT user_id FROM remember_tokens WHERE selector = $1`, bobSelector); n != bobID {
		t.Errorf("the browser's remember token: got user %d, want Bob (%d)", n, bobID)
	}
}
