package main

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/dealctx/dealctx/internal/testserver"
)

// errorMessage returns the contract error message of the body, or "".
func (r response) errorMessage(t *testing.T) string {
	var e struct {
		Error struct{ Message string } `json:"error"`
	}
	r.JSON(t, &e)
	return e.Error.Message
}

// TestNULAndControlCharactersAreRefused: text PostgreSQL cannot store (NUL)
// was a 500 in every JSON string, on the anonymous sign-in too; control
// characters went into deal names. Both are 400 invalid_request now, and
// nothing reaches the database.
func TestNULAndControlCharactersAreRefused(t *testing.T) {
	t.Parallel()
	w := startHostileWorld(t)
	a, alice, dealID, db, aliceID, before := w.api, w.alice, w.dealID, w.db, w.aliceID, w.before
	anonymous := newClient(t, a)

	cases := []struct {
		name   string
		c      *client
		method string
		path   string
		body   string
	}{
		{"NUL in the sign-in email", anonymous, "POST", "/api/auth/login", `{"email":"alice@example.com\u0000","password":"password-alice@example.com"}`},
		{"NUL in the sign-in password", anonymous, "POST", "/api/auth/login", `{"email":"alice@example.com","password":"\u0000"}`},
		{"NUL in an unknown sign-in email", anonymous, "POST", "/api/auth/login", `{"email":"nobody\u0000@example.com","password":"x"}`},
		{"NUL in a deal name", alice, "POST", "/api/deals", `{"name":"At\u0000las"}`},
		{"NUL alone as a deal name", alice, "POST", "/api/deals", `{"name":"\u0000"}`},
		{"NUL in a member email", alice, "POST", "/api/deals/" + dealID + "/members", `{"email":"bob@example.com\u0000","role":"member"}`},
		{"NUL in a member role", alice, "POST", "/api/deals/" + dealID + "/members", `{"email":"bob@example.com","role":"member\u0000"}`},
		{"escape sequence in a deal name", alice, "POST", "/api/deals", `{"name":"\u001b[31mAtlas"}`},
		{"bell in a deal name", alice, "POST", "/api/deals", `{"name":"Atlas\u0007"}`},
		{"DEL in a deal name", alice, "POST", "/api/deals", "{\"name\":\"At\x7flas\"}"},
		{"newline in a deal name", alice, "POST", "/api/deals", `{"name":"Atlas\nDeleted by admin"}`},
		{"tab in a deal name", alice, "POST", "/api/deals", `{"name":"At\tlas"}`},
		{"unit separator in a deal name", alice, "POST", "/api/deals", `{"name":"At\u001flas"}`},
		{"control character in a member email", alice, "POST", "/api/deals/" + dealID + "/members", `{"email":"bob@example.com\u0007","role":"member"}`},
		{"display name in a member email", alice, "POST", "/api/deals/" + dealID + "/members", `{"email":"Bob <bob@example.com>","role":"member"}`},
	}
	for _, tc := range cases {
		r := tc.c.raw(tc.method, tc.path, http.Header{"Content-Type": {"application/json"}}, strings.NewReader(tc.body))
		if r.Status != http.StatusBadRequest || r.ErrorCode() != "invalid_request" {
			t.Errorf("%s: got %d %s, want 400 invalid_request", tc.name, r.Status, r.Body)
			continue
		}
		checkErrorShape(t, tc.name, r)
	}
	if after := readWorld(t, db, aliceID); !equalWorld(before, after) {
		t.Errorf("database after the refused requests: got %+v, want unchanged %+v", after, before)
	}
	if log := a.stderr.String(); strings.Contains(log, "internal error") {
		t.Errorf("log after the refused requests: got an internal error, want none:\n%s", log)
	}
	// The people these requests imitated are unharmed.
	anonymous.login("alice@example.com", false)
	if r := alice.do("POST", "/api/deals/"+dealID+"/members", map[string]string{"email": "bob@example.com", "role": "member"}); r.Status != http.StatusCreated {
		t.Fatalf("adding bob properly: got %d %s, want 201", r.Status, r.Body)
	}
}

// TestEmailErrorsSayWhatIsWrong: a 300-character email answered "Email and
// password are required".
func TestEmailErrorsSayWhatIsWrong(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	createUser(t, env, "alice@example.com", false)
	a := startAPI(t, env)
	alice := newClient(t, a)
	alice.login("alice@example.com", false)
	dealID := itoa(alice.createDeal("Atlas"))
	long := strings.Repeat("x", 288) + "@example.com"

	cases := []struct {
		name, path string
		c          *client
		body       map[string]string
		want       string
	}{
		{"sign-in, 300-character email", "/api/auth/login", newClient(t, a), map[string]string{"email": long, "password": "whatever"}, "Email is too long (at most 254 characters)."},
		{"sign-in, no password", "/api/auth/login", newClient(t, a), map[string]string{"email": "alice@example.com"}, "Email and password are required."},
		{"member, 300-character email", "/api/deals/" + dealID + "/members", alice, map[string]string{"email": long, "role": "member"}, "Email is too long (at most 254 characters)."},
		{"member, not an address", "/api/deals/" + dealID + "/members", alice, map[string]string{"email": "bob", "role": "member"}, "Email must be a plain address such as name@example.com."},
		{"member, no email", "/api/deals/" + dealID + "/members", alice, map[string]string{"role": "member"}, "Email is required."},
	}
	for _, tc := range cases {
		r := tc.c.do("POST", tc.path, tc.body)
		if r.Status != http.StatusBadRequest || r.ErrorCode() != "invalid_request" {
			t.Errorf("%s: got %d %s, want 400 invalid_request", tc.name, r.Status, r.Body)
			continue
		}
		if got := r.errorMessage(t); got != tc.want {
			t.Errorf("%s: got message %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestBodiesThatAreNotJSONAre415: JSON endpoints took text/plain (what an
// HTML form can send cross-site without a preflight) and form bodies.
func TestBodiesThatAreNotJSONAre415(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	createUser(t, env, "alice@example.com", false)
	a := startAPI(t, env)
	alice := newClient(t, a)
	alice.login("alice@example.com", false)
	dealID := itoa(alice.createDeal("Atlas"))
	anonymous := newClient(t, a)

	routes := []struct {
		c            *client
		method, path string
		body         string
		wantOK       int
	}{
		{anonymous, "POST", "/api/auth/login", `{"email":"alice@example.com","password":"password-alice@example.com"}`, 200},
		{alice, "POST", "/api/deals", `{"name":"Typed"}`, 201},
		{alice, "POST", "/api/deals/" + dealID + "/members", `{"email":"alice@example.com","role":"member"}`, 201},
		{alice, "PATCH", "/api/me/preferences", `{"remember_last_deal":true}`, 200},
	}
	for _, rt := range routes {
		for _, ct := range []string{"text/plain", "text/plain; charset=utf-8", "application/x-www-form-urlencoded",
			"multipart/form-data; boundary=x", "application/xml", "application/json; charset=latin1", "application/jsonp"} {
			r := rt.c.raw(rt.method, rt.path, http.Header{"Content-Type": {ct}}, strings.NewReader(rt.body))
			what := rt.method + " " + rt.path + " as " + ct
			if r.Status != http.StatusUnsupportedMediaType || r.ErrorCode() != "unsupported_media_type" {
				t.Errorf("%s: got %d %s, want 415 unsupported_media_type", what, r.Status, r.Body)
				continue
			}
			var e struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			if r.JSON(t, &e); e.Error.Message == "" {
				t.Errorf("%s: got no message, want one", what)
			}
		}
		// JSON with parameters, in any case, is JSON.
		for _, ct := range []string{"application/json; charset=utf-8", "Application/JSON;charset=UTF-8"} {
			if r := rt.c.raw(rt.method, rt.path, http.Header{"Content-Type": {ct}}, strings.NewReader(rt.body)); r.Status != rt.wantOK {
				t.Errorf("%s %s as %s: got %d %s, want %d", rt.method, rt.path, ct, r.Status, r.Body, rt.wantOK)
			}
		}
	}
	// Endpoints without a body still need no Content-Type.
	if r := alice.raw("POST", "/api/deals/"+dealID+"/select", nil, nil); r.Status != http.StatusOK {
		t.Errorf("select without a body or Content-Type: got %d %s, want 200", r.Status, r.Body)
	}
	if r := alice.raw("POST", "/api/auth/logout", nil, nil); r.Status != http.StatusNoContent {
		t.Errorf("logout without a body or Content-Type: got %d %s, want 204", r.Status, r.Body)
	}
}

// TestAddingMembersIsNotAnEmailOracle: any signed-in user could create a deal
// and test emails for accounts (201 versus 404) as fast as they liked.
func TestAddingMembersIsNotAnEmailOracle(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	env["MEMBER_LOOKUP_LIMIT"] = "3"
	env["MEMBER_LOOKUP_WINDOW"] = "300"
	env["LOG_LEVEL"] = "info"
	createUser(t, env, "prober@example.com", false)
	createUser(t, env, "honest@example.com", false)
	createUser(t, env, "real1@example.com", false)
	createUser(t, env, "real2@example.com", false)
	a := startAPI(t, env)
	prober := newClient(t, a)
	prober.login("prober@example.com", false)
	dealID := itoa(prober.createDeal("Probe"))
	add := func(c *client, dealID, email string) response {
		return c.do("POST", "/api/deals/"+dealID+"/members", map[string]string{"email": email, "role": "member"})
	}

	// Known emails do not count: the two answers are as they were.
	if r := add(prober, dealID, "real1@example.com"); r.Status != http.StatusCreated {
		t.Fatalf("known email: got %d %s, want 201", r.Status, r.Body)
	}
	for i := range 3 {
		r := add(prober, dealID, "guess"+strconv.Itoa(i)+"@example.com")
		if r.Status != http.StatusNotFound || r.ErrorCode() != "not_found" {
			t.Fatalf("unknown email %d: got %d %s, want 404 not_found", i+1, r.Status, r.Body)
		}
	}
	// Past the limit every addition waits, known or not, so the answer
	// tells nothing about the email.
	for _, email := range []string{"guess3@example.com", "real2@example.com"} {
		r := add(prober, dealID, email)
		if r.Status != http.StatusTooManyRequests || r.ErrorCode() != "rate_limited" {
			t.Fatalf("%s after 3 unknown emails: got %d %s, want 429 rate_limited", email, r.Status, r.Body)
		}
		// 3 per 300 s: one comes back every 100 s.
		if s, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || s < 1 || s > 100 {
			t.Fatalf("%s Retry-After: got %q, want 1..100 seconds", email, r.Header.Get("Retry-After"))
		}
	}
	if n := sqlInt(t, env, `SELECT count(*) FROM deal_members m JOIN users u ON u.id = m.user_id WHERE u.email = 'real2@example.com'`); n != 0 {
		t.Fatalf("real2's memberships after the throttled addition: got %d, want 0", n)
	}
	// The limit is the prober's alone.
	honest := newClient(t, a)
	honest.login("honest@example.com", false)
	honestDeal := itoa(honest.createDeal("Honest"))
	if r := add(honest, honestDeal, "typo@example.com"); r.Status != http.StatusNotFound {
		t.Fatalf("another user's unknown email: got %d %s, want 404", r.Status, r.Body)
	}
	if r := add(honest, honestDeal, "real2@example.com"); r.Status != http.StatusCreated {
		t.Fatalf("another user's known email: got %d %s, want 201", r.Status, r.Body)
	}

	// Recorded: counted, and logged without the email.
	series, _ := scrape(t, a)
	for key, want := range map[string]float64{
		`dealctx_member_add_refused_total{reason="unknown_email"}`: 4,
		`dealctx_member_add_refused_total{reason="rate_limited"}`:  2,
	} {
		if series[key] != want {
			t.Errorf("%s: got %v, want %v", key, series[key], want)
		}
	}
	log := a.stderr.String()
	if got := strings.Count(log, "member addition: no user with that email"); got != 4 {
		t.Errorf("log lines for unknown emails: got %d, want 4", got)
	}
	if strings.Contains(log, "guess0@example.com") || strings.Contains(log, "typo@example.com") {
		t.Errorf("log: got a probed email, want none")
	}
}

// TestReadyzUnavailableSaysWhenToRetry: /readyz 503 had no Retry-After,
// unlike every other 503.
func TestReadyzUnavailableSaysWhenToRetry(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	u, err := url.Parse(env["DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	proxy := testserver.StartProxy(t, u.Host)
	u.Host = proxy.Addr()
	env["DATABASE_URL"] = u.String()
	a := startAPI(t, env)
	c := newClient(t, a)
	if r := c.do("GET", "/readyz", nil); r.Status != http.StatusOK {
		t.Fatalf("/readyz with PostgreSQL up: got %d %s, want 200", r.Status, r.Body)
	}
	proxy.Cut()
	r := c.do("GET", "/readyz", nil)
	if r.Status != http.StatusServiceUnavailable || r.ErrorCode() != "unavailable" {
		t.Fatalf("/readyz with PostgreSQL cut off: got %d %s, want 503 unavailable", r.Status, r.Body)
	}
	if s, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || s < 1 {
		t.Fatalf("/readyz 503 Retry-After: got %q, want a number of seconds", r.Header.Get("Retry-After"))
	}
	proxy.Restore()
}

// TestTrustedProxyHopsDecideTheThrottledIP: the api trusted the last
// X-Forwarded-For hop even when reached directly, so a client chose its IP
// and escaped the per-IP sign-in limit. TRUSTED_PROXY_HOPS says how many
// proxies append a hop; 0 means the connection's own address.
func TestTrustedProxyHopsDecideTheThrottledIP(t *testing.T) {
	t.Parallel()
	type scenario struct {
		name       string
		first      string // X-Forwarded-For of the two failures
		then       string // X-Forwarded-For of the next attempt
		sameClient bool   // whether the api must count both as one IP
	}
	cases := []struct {
		hops      string
		scenarios []scenario
	}{
		{"0", []scenario{
			{"a client's own header is ignored", "198.51.100.1", "198.51.100.2", true},
		}},
		{"1", []scenario{
			{"the router's hop counts", "203.0.113.5, 198.51.100.11", "203.0.113.5, 198.51.100.12", false},
			{"what the client prepends does not", "203.0.113.6, 198.51.100.13", "203.0.113.7, 198.51.100.13", true},
		}},
		{"2", []scenario{
			{"the outer proxy's hop counts", "198.51.100.21, 10.0.0.1", "198.51.100.22, 10.0.0.1", false},
			{"what the client prepends does not", "203.0.113.8, 198.51.100.23, 10.0.0.2", "203.0.113.9, 198.51.100.23, 10.0.0.3", true},
			{"fewer hops than proxies is the connection", "198.51.100.24", "198.51.100.25", true},
		}},
	}
	for _, tc := range cases {
		t.Run("TRUSTED_PROXY_HOPS="+tc.hops, func(t *testing.T) {
			t.Parallel()
			env := testEnv(t)
			env["TRUSTED_PROXY_HOPS"] = tc.hops
			env["LOGIN_IP_LIMIT"] = "2"
			env["LOGIN_ACCOUNT_LIMIT"] = "100"
			env["LOGIN_LIMIT_WINDOW"] = "300"
			a := startAPI(t, env)
			c := newClient(t, a)
			for i, sc := range tc.scenarios {
				// Fresh accounts each time: only the IP limit can bite.
				account := func(n int) string { return "s" + strconv.Itoa(i) + "-" + strconv.Itoa(n) + "@example.com" }
				for n := range 2 {
					if r := c.loginAs(account(n), "wrong-password", sc.first); r.Status != http.StatusUnauthorized {
						t.Fatalf("%s: failure %d: got %d %s, want 401", sc.name, n+1, r.Status, r.Body)
					}
				}
				r := c.loginAs(account(2), "wrong-password", sc.then)
				want := map[bool]int{true: http.StatusTooManyRequests, false: http.StatusUnauthorized}[sc.sameClient]
				if r.Status != want {
					t.Fatalf("%s (%q, then %q): got %d %s, want %d", sc.name, sc.first, sc.then, r.Status, r.Body, want)
				}
			}
		})
	}
}

// TestUserCreateRefusesControlCharactersInNames: `api user create --name`
// stored escape sequences that every page and terminal showing the name
// would then run.
func TestUserCreateRefusesControlCharactersInNames(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	for _, name := range []string{"\x1b[2JEvil", "Eve\nAdmin", "Eve\x00"} {
		var out, errb strings.Builder
		err := run(context.Background(), []string{"user", "create", "--email", "eve@example.com", "--name", name, "--password", "password-eve"},
			func(k string) string { return env[k] }, strings.NewReader(""), &out, &errb)
		if err == nil || !strings.Contains(err.Error(), "--name: Name must not contain control characters.") {
			t.Errorf("user create --name %q: got %v, want an error about --name's control characters", name, err)
		}
	}
	if n := sqlInt(t, env, `SELECT count(*) FROM users`); n != 0 {
		t.Fatalf("users after the refused commands: got %d, want 0", n)
	}
	createUser(t, env, "eve@example.com", false)
}

// TestFormsRefuseNULAndControlCharacters: the forms skip the JSON decoder,
// so the same rules hold for them through the domain's validation.
func TestFormsRefuseNULAndControlCharacters(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	createUser(t, env, "alice@example.com", false)
	a := startAPI(t, env)
	alice := newClient(t, a)
	alice.login("alice@example.com", false)
	form := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	for _, tc := range []struct {
		name string
		c    *client
		path string
		form url.Values
	}{
		{"NUL in the sign-in email", newClient(t, a), "/login", url.Values{"email": {"alice@example.com\x00"}, "password": {"password-alice@example.com"}}},
		{"NUL in the sign-in password", newClient(t, a), "/login", url.Values{"email": {"alice@example.com"}, "password": {"pass\x00word"}}},
		{"NUL in a deal name", alice, "/deals", url.Values{"name": {"At\x00las"}}},
		{"escape sequence in a deal name", alice, "/deals", url.Values{"name": {"\x1b[31mAtlas"}}},
	} {
		r := tc.c.raw("POST", tc.path, form, strings.NewReader(tc.form.Encode()))
		if r.Status != http.StatusBadRequest {
			t.Errorf("%s: got %d %.200s, want 400", tc.name, r.Status, r.Body)
		}
	}
	if n := sqlInt(t, env, `SELECT count(*) FROM deals`); n != 0 {
		t.Errorf("deals after the refused forms: got %d, want 0", n)
	}
}
