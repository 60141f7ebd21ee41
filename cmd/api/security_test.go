package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dealctx/dealctx/internal/auth"
	"github.com/dealctx/dealctx/internal/httpapi"
	"github.com/dealctx/dealctx/internal/redisclient"
	"github.com/dealctx/dealctx/internal/session"
	"github.com/dealctx/dealctx/internal/testserver"
	"github.com/redis/go-redis/v9"
)

// loginAs posts a sign-in with an explicit password and client IP.
func (c *client) loginAs(email, password, ip string) response {
	c.t.Helper()
	body := map[string]any{"email": email, "password": password}
	req, _ := http.NewRequest("POST", c.base+"/api/auth/login", jsonBody(body))
	req.Header.Set("Content-Type", "application/json")
	if ip != "" {
		req.Header.Set("X-Forwarded-For", ip)
	}
	return c.send(req)
}

func TestFailedSignInsAreThrottled(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	env["LOGIN_ACCOUNT_LIMIT"] = "3"
	env["LOGIN_IP_LIMIT"] = "6"
	env["LOGIN_LIMIT_WINDOW"] = "300"
	createUser(t, env, "known@example.com", false)
	createUser(t, env, "resets@example.com", false)
	a := startAPI(t, env)
	c := newClient(t, a)

	t.Run("known and unknown accounts alike", func(t *testing.T) {
		var seen [2][]string
		for i, email := range []string{"known@example.com", "nobody@example.com"} {
			ip := "192.0.2." + strconv.Itoa(10+i)
			for n := range 3 {
				r := c.loginAs(email, "wrong-password", ip)
				if r.Status != http.StatusUnauthorized || r.ErrorCode() != "invalid_credentials" {
					t.Fatalf("%s failure %d: got %d %s, want 401 invalid_credentials", email, n+1, r.Status, r.Body)
				}
				seen[i] = append(seen[i], string(r.Body)+headerShape(r.Header))
			}
			// Even the right password waits now: the answer must not
			// tell a guessed password from a wrong one.
			r := c.loginAs(email, "password-"+email, ip)
			if r.Status != http.StatusTooManyRequests || r.ErrorCode() != "rate_limited" {
				t.Fatalf("%s 4th attempt: got %d %s, want 429 rate_limited", email, r.Status, r.Body)
			}
			if s, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || s < 1 || s > 100 {
				t.Fatalf("%s Retry-After: got %q, want 1..100 seconds", email, r.Header.Get("Retry-After"))
			}
			seen[i] = append(seen[i], string(r.Body)+headerShape(r.Header))
		}
		if !slices.Equal(seen[0], seen[1]) {
			t.Fatalf("answers for a known and an unknown account differ:\n%q\n%q", seen[0], seen[1])
		}
	})

	t.Run("a success resets the account", func(t *testing.T) {
		for round := range 3 {
			for range 2 {
				if r := c.loginAs("resets@example.com", "wrong-password", "192.0.2.20"); r.Status != http.StatusUnauthorized {
					t.Fatalf("round %d failure: got %d %s, want 401", round, r.Status, r.Body)
				}
			}
			if r := c.loginAs("resets@example.com", "password-resets@example.com", "192.0.2.21"); r.Status != http.StatusOK {
				t.Fatalf("round %d sign-in: got %d %s, want 200", round, r.Status, r.Body)
			}
		}
	})

	t.Run("the IP limit spans accounts", func(t *testing.T) {
		// 192.0.2.20 has 6 failures from the previous subtest.
		r := c.loginAs("someone-else@example.com", "wrong-password", "192.0.2.20")
		if r.Status != http.StatusTooManyRequests {
			t.Fatalf("7th failure from one IP: got %d %s, want 429", r.Status, r.Body)
		}
	})

	t.Run("shared by every api instance", func(t *testing.T) {
		b := newClient(t, startAPI(t, env))
		c.loginAs("shared@example.com", "wrong-password", "192.0.2.30")
		b.loginAs("shared@example.com", "wrong-password", "192.0.2.31")
		c.loginAs("shared@example.com", "wrong-password", "192.0.2.32")
		if r := b.loginAs("shared@example.com", "wrong-password", "192.0.2.33"); r.Status != http.StatusTooManyRequests {
			t.Fatalf("4th failure, on the second instance: got %d %s, want 429", r.Status, r.Body)
		}
	})
}

// headerShape lists the response's header names and values that must not
// differ between two equivalent answers (the request id always does).
func headerShape(h http.Header) string {
	var keys []string
	for k := range h {
		switch k {
		case "X-Request-Id", "Date", "Content-Length":
			continue
		}
		keys = append(keys, k+"="+h.Get(k))
	}
	sort.Strings(keys)
	return "|" + strings.Join(keys, "|")
}

func TestSignInThrottlingSurvivesRedisFailure(t *testing.T) {
	t.Parallel()
	rs := testserver.StartRedis(t)
	env := testEnv(t)
	env["REDIS_URL"] = rs.URL()
	env["LOGIN_ACCOUNT_LIMIT"] = "3"
	createUser(t, env, "redisdown@example.com", false)
	a := startAPI(t, env)
	c := newClient(t, a)

	c.loginAs("redisdown@example.com", "wrong-password", "192.0.2.40")
	rs.Kill()
	start := time.Now()
	for n := 2; n <= 3; n++ {
		if r := c.loginAs("redisdown@example.com", "wrong-password", "192.0.2.40"); r.Status != http.StatusUnauthorized {
			t.Fatalf("failure %d with Redis down: got %d %s, want 401", n, r.Status, r.Body)
		}
	}
	if r := c.loginAs("redisdown@example.com", "wrong-password", "192.0.2.40"); r.Status != http.StatusTooManyRequests {
		t.Fatalf("4th attempt with Redis down: got %d %s, want 429 (counted in process)", r.Status, r.Body)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("three sign-ins with Redis down took %s, want well under 5s", d)
	}
	// Another account signs in normally while Redis is down.
	createUser(t, env, "fine@example.com", false)
	if r := c.loginAs("fine@example.com", "password-fine@example.com", "192.0.2.41"); r.Status != http.StatusOK {
		t.Fatalf("sign-in with Redis down: got %d %s, want 200", r.Status, r.Body)
	}
}

func TestUnknownEmailTakesAsLongAsAWrongPassword(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	// A real hashing cost, so the hash dominates the request's time.
	env["ARGON2_MEMORY_KIB"] = "19456"
	env["ARGON2_TIME"] = "2"
	env["LOGIN_ACCOUNT_LIMIT"] = "1000"
	env["LOGIN_IP_LIMIT"] = "1000"
	createUser(t, env, "timed@example.com", false)
	a := startAPI(t, env)
	c := newClient(t, a)
	median := func(email string) time.Duration {
		var ds []time.Duration
		for range 5 {
			start := time.Now()
			if r := c.loginAs(email, "wrong-password", ""); r.Status != http.StatusUnauthorized {
				t.Fatalf("%s: got %d %s, want 401", email, r.Status, r.Body)
			}
			ds = append(ds, time.Since(start))
		}
		slices.Sort(ds)
		return ds[len(ds)/2]
	}
	known, unknown := median("timed@example.com"), median("nobody@example.com")
	// Generous: without the dummy hash an unknown email answers many
	// times faster than a wrong password.
	if unknown < known/3 {
		t.Fatalf("median time: unknown email %s, wrong password %s; want them alike", unknown, known)
	}
}

func TestChangingPasswordOrDisablingEndsEverySession(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	rdb, err := redisclient.New(env["REDIS_URL"], false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	a := startAPI(t, env)
	cases := []struct {
		name    string
		command func(email string)
		// after checks signing in once the command ran.
		after func(t *testing.T, c *client, email string)
	}{
		{
			name: "set-password",
			command: func(email string) {
				command(t, env, "a-new-password\n", "user", "set-password", "--email", email)
			},
			after: func(t *testing.T, c *client, email string) {
				if r := c.loginAs(email, "password-"+email, ""); r.Status != http.StatusUnauthorized {
					t.Fatalf("old password: got %d %s, want 401", r.Status, r.Body)
				}
				if r := c.loginAs(email, "a-new-password", ""); r.Status != http.StatusOK {
					t.Fatalf("new password: got %d %s, want 200", r.Status, r.Body)
				}
			},
		},
		{
			name:    "disable",
			command: func(email string) { command(t, env, "", "user", "disable", "--email", email) },
			after: func(t *testing.T, c *client, email string) {
				if r := c.loginAs(email, "password-"+email, ""); r.Status != http.StatusUnauthorized || r.ErrorCode() != "invalid_credentials" {
					t.Fatalf("disabled user's sign-in: got %d %s, want 401 invalid_credentials", r.Status, r.Body)
				}
				command(t, env, "", "user", "enable", "--email", email)
				if r := c.loginAs(email, "password-"+email, ""); r.Status != http.StatusOK {
					t.Fatalf("re-enabled user's sign-in: got %d %s, want 200", r.Status, r.Body)
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			email := tc.name + "@example.com"
			createUser(t, env, email, false)
			plain, remembered := newClient(t, a), newClient(t, a)
			plain.login(email, false)
			remembered.login(email, true)
			plain.createDeal("Kept")

			// A copy of the session as the tiered store would hold it.
			token := cookieValue(t, plain, session.CookieName)
			key := env["REDIS_KEY_PREFIX"] + "session:" + token
			if err := rdb.Set(context.Background(), key, "cached", time.Minute).Err(); err != nil {
				t.Fatal(err)
			}

			rememberValue := cookieValue(t, remembered, httpapi.RememberCookieName)

			tc.command(email)

			if r := plain.do("GET", "/api/me", nil); r.Status != http.StatusUnauthorized {
				t.Fatalf("signed-in client after %s: got %d %s, want 401", tc.name, r.Status, r.Body)
			}
			if r := remembered.do("GET", "/api/deals", nil); r.Status != http.StatusUnauthorized {
				t.Fatalf("remembered client after %s: got %d %s, want 401", tc.name, r.Status, r.Body)
			}
			// The remember cookie alone, in a browser that lost its session.
			fresh := newClient(t, a)
			u, _ := url.Parse(a.URL)
			fresh.http.Jar.SetCookies(u, []*http.Cookie{{Name: httpapi.RememberCookieName, Value: rememberValue}})
			if r := fresh.do("GET", "/api/me", nil); r.Status != http.StatusUnauthorized {
				t.Fatalf("remember cookie after %s: got %d %s, want 401", tc.name, r.Status, r.Body)
			}
			// The copy is gone: tombstoned, as logout leaves a session (or deleted).
			if v, err := rdb.Get(context.Background(), key).Result(); err != nil && !errors.Is(err, redis.Nil) || v == "cached" {
				t.Fatalf("Redis copy of the session after %s: got %q (%v), want it replaced", tc.name, v, err)
			}
			tc.after(t, newClient(t, a), email)
		})
	}
}

// cookieValue returns the value of the client's cookie name, failing the
// test when it has none.
func cookieValue(t *testing.T, c *client, name string) string {
	t.Helper()
	u, _ := url.Parse(c.base)
	for _, ck := range c.http.Jar.Cookies(u) {
		if ck.Name == name {
			if name == httpapi.RememberCookieName {
				if _, ok := auth.ParseRememberToken(ck.Value); !ok {
					t.Fatalf("cookie %s: got malformed %q", name, ck.Value)
				}
			}
			return ck.Value
		}
	}
	t.Fatalf("client has no %s cookie", name)
	return ""
}

func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	plainEnv := testEnv(t)
	createUser(t, plainEnv, "headers@example.com", false)
	plainAPI := startAPI(t, plainEnv)
	secureEnv := testEnv(t)
	secureEnv["COOKIE_SECURE"] = "true"
	secureAPI := startAPI(t, secureEnv)

	always := map[string]string{
		"X-Content-Type-Options": "nosniff",
		"Referrer-Policy":        "same-origin",
		"Cache-Control":          "no-store",
	}
	cases := []struct {
		name   string
		api    *api
		method string
		path   string
		body   any
		status int
		hsts   bool
	}{
		{"sign-in setting cookies", plainAPI, "POST", "/api/auth/login", map[string]any{"email": "headers@example.com", "password": "password-headers@example.com", "remember": true}, 200, false},
		{"error", plainAPI, "GET", "/api/me", nil, 401, false},
		{"probe", plainAPI, "GET", "/healthz", nil, 200, false},
		{"unknown route", plainAPI, "GET", "/nope", nil, 404, false},
		{"secure cookies: error", secureAPI, "GET", "/api/me", nil, 401, true},
		{"secure cookies: probe", secureAPI, "GET", "/healthz", nil, 200, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newClient(t, tc.api).do(tc.method, tc.path, tc.body)
			if r.Status != tc.status {
				t.Fatalf("status: got %d %s, want %d", r.Status, r.Body, tc.status)
			}
			for k, want := range always {
				if got := r.Header.Get(k); got != want {
					t.Errorf("%s: got %q, want %q", k, got, want)
				}
			}
			if csp := r.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
				t.Errorf("Content-Security-Policy: got %q, want frame-ancestors 'none'", csp)
			}
			if got := r.Header.Get("Strict-Transport-Security") != ""; got != tc.hsts {
				t.Errorf("Strict-Transport-Security present: got %v, want %v", got, tc.hsts)
			}
		})
	}
}

// jsonBody encodes v for a request body.
func jsonBody(v any) *bytes.Reader {
	b, _ := json.Marshal(v)
	return bytes.NewReader(b)
}

// send performs req with the client's cookies and reads the reply.
func (c *client) send(req *http.Request) response {
	c.t.Helper()
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(resp.Body); err != nil {
		c.t.Fatalf("%s %s: reading the body: %v", req.Method, req.URL.Path, err)
	}
	return response{Status: resp.StatusCode, Header: resp.Header, Body: b.Bytes()}
}
