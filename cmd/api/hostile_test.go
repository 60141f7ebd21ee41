package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dealctx/dealctx/internal/postgres"
)

// contractCodes are the error codes the contract names.
var contractCodes = map[string]int{
	"invalid_request": 400, "unauthenticated": 401, "invalid_credentials": 401, "forbidden": 403,
	"cross_origin": 403, "not_found": 404, "deal_not_selected": 409, "payload_too_large": 413,
	"rate_limited": 429, "unavailable": 503, "unsupported_media_type": 415, "method_not_allowed": 405,
}

// checkErrorShape fails unless r is an error in the contract's shape whose
// code matches its status.
func checkErrorShape(t *testing.T, what string, r response) {
	t.Helper()
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil || e.Error.Message == "" || contractCodes[e.Error.Code] != r.Status {
		t.Errorf("%s: got %d %q, want an error in the contract's shape", what, r.Status, r.Body)
	}
}

// raw sends a request with exactly the given headers and body.
func (c *client) raw(method, path string, header http.Header, body io.Reader) response {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		c.t.Fatalf("request: %v", err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	return c.send(req)
}

// worldState is what a refused request must not change.
type worldState struct {
	Deals, Members, Users, LiveDeals, PendingOrLoggedDealEvents int64
	LastDeal                                                    *int64
}

func readWorld(t *testing.T, db *postgres.DB, userID int64) worldState {
	t.Helper()
	var w worldState
	err := db.Pool.QueryRow(context.Background(), `
SELECT (SELECT count(*) FROM deals), (SELECT count(*) FROM deal_members), (SELECT count(*) FROM users),
	(SELECT count(*) FROM deals WHERE deleted_at IS NULL),
	(SELECT count(*) FROM audit_outbox WHERE action LIKE 'deal.%' OR action LIKE 'member.%')
	 + (SELECT count(*) FROM audit_log WHERE action LIKE 'deal.%' OR action LIKE 'member.%'),
	(SELECT last_deal_id FROM users WHERE id = $1)`, userID).
		Scan(&w.Deals, &w.Members, &w.Users, &w.LiveDeals, &w.PendingOrLoggedDealEvents, &w.LastDeal)
	if err != nil {
		t.Fatalf("read world: %v", err)
	}
	return w
}

func TestHostileInputIsRefusedPolitely(t *testing.T) {
	t.Parallel()
	w := startHostileWorld(t)
	alice, dealID, db, aliceID, before := w.alice, w.dealID, w.db, w.aliceID, w.before

	jsonHeader := http.Header{"Content-Type": {"application/json"}}
	type req struct {
		name   string
		method string
		path   string
		header http.Header
		body   func() io.Reader
		want   []int // any of these statuses
	}
	var cases []req
	badIDs := map[string]string{
		"zero": "0", "negative": "-1", "overflow": "9223372036854775808", "word": "abc",
		"exponent": "1e3", "decimal": "1.0", "plus": "+1", "leading zero": "01", "space": "%201", "nul": "%00",
		"very long": strings.Repeat("9", 5000), "unicode digits": "%EF%BC%91",
	}
	for name, id := range badIDs {
		for _, route := range []struct{ method, path string }{
			{"GET", "/api/deals/" + id},
			{"DELETE", "/api/deals/" + id},
			{"POST", "/api/deals/" + id + "/select"},
			{"GET", "/api/deals/" + id + "/members"},
			{"POST", "/api/deals/" + id + "/members"},
			{"DELETE", "/api/deals/" + id + "/members/1"},
			{"DELETE", "/api/deals/" + dealID + "/members/" + id},
			{"GET", "/api/audit?deal_id=" + id},
			{"GET", "/api/audit?before=" + id},
		} {
			cases = append(cases, req{
				name:   "id " + name + ": " + route.method + " " + route.path[:min(len(route.path), 40)],
				method: route.method, path: route.path, header: jsonHeader,
				body: func() io.Reader { return strings.NewReader(`{"email":"bob@example.com","role":"member"}`) },
				want: []int{400, 404},
			})
		}
	}
	badBodies := map[string]string{
		"empty": "", "truncated": `{"name":`, "array": `[]`, "string": `"x"`, "null": `null`,
		"number for string": `{"name":1}`, "unknown field": `{"name":"a","owner_id":2}`,
		"two objects": `{"name":"a"}{"name":"b"}`, "trailing garbage": `{"name":"a"} x`,
		"not json": "name=a", "binary": "\x00\xff\xfe", "deep nesting": strings.Repeat("[", 10000),
		"huge number": `{"name":` + strings.Repeat("9", 10000) + `}`,
	}
	for name, body := range badBodies {
		for _, route := range []struct{ method, path string }{
			{"POST", "/api/deals"},
			{"POST", "/api/deals/" + dealID + "/members"},
			{"PATCH", "/api/me/preferences"},
			{"POST", "/api/auth/login"},
		} {
			cases = append(cases, req{
				name: "body " + name + ": " + route.method + " " + route.path, method: route.method, path: route.path,
				header: jsonHeader, body: func() io.Reader { return strings.NewReader(body) },
				want: []int{400, 401},
			})
		}
	}
	wrongTypes := []struct{ path, method, body string }{
		{"/api/auth/login", "POST", `{"email":"alice@example.com","password":"password-alice@example.com","remember":"yes"}`},
		{"/api/auth/login", "POST", `{"email":["alice@example.com"],"password":"x"}`},
		{"/api/me/preferences", "PATCH", `{"remember_last_deal":"false"}`},
		{"/api/me/preferences", "PATCH", `{"remember_last_deal":0}`},
		{"/api/deals/" + dealID + "/members", "POST", `{"email":"bob@example.com","role":"owner"}`},
		{"/api/deals/" + dealID + "/members", "POST", `{"email":"bob@example.com","role":7}`},
		{"/api/deals", "POST", `{"name":"` + strings.Repeat("x", 1000) + `"}`},
		{"/api/deals", "POST", `{"name":"   "}`},
	}
	for _, wt := range wrongTypes {
		cases = append(cases, req{
			name: "wrong type " + wt.body[:min(len(wt.body), 50)], method: wt.method, path: wt.path, header: jsonHeader,
			body: func() io.Reader { return strings.NewReader(wt.body) }, want: []int{400},
		})
	}
	big := bytes.Repeat([]byte("a"), 2<<20)
	bigJSON := func() []byte { return append(append([]byte(`{"name":"`), big...), `"}`...) }
	cases = append(cases,
		req{name: "2 MiB declared", method: "POST", path: "/api/deals", header: jsonHeader,
			body: func() io.Reader { return bytes.NewReader(bigJSON()) }, want: []int{413}},
		// An io.Reader of unknown length makes the client send it chunked.
		req{name: "2 MiB chunked", method: "POST", path: "/api/deals", header: jsonHeader,
			body: func() io.Reader { return io.MultiReader(bytes.NewReader(bigJSON())) }, want: []int{413}},
		req{name: "2 MiB chunked login", method: "POST", path: "/api/auth/login", header: jsonHeader,
			body: func() io.Reader { return io.MultiReader(bytes.NewReader(bigJSON())) }, want: []int{413}},
	)
	for _, c := range []struct{ name, key, value string }{
		{"browser says cross-site", "Sec-Fetch-Site", "cross-site"},
		{"browser says same-site", "Sec-Fetch-Site", "same-site"},
		{"foreign origin", "Origin", "http://evil.example"},
		{"null origin", "Origin", "null"},
	} {
		for _, route := range []struct{ method, path, body string }{
			{"POST", "/api/deals", `{"name":"Cross"}`},
			{"DELETE", "/api/deals/" + dealID, ""},
			{"POST", "/api/deals/" + dealID + "/select", ""},
			{"POST", "/api/deals/" + dealID + "/members", `{"email":"bob@example.com","role":"member"}`},
			{"PATCH", "/api/me/preferences", `{"remember_last_deal":false}`},
			{"DELETE", "/api/deals/current", ""},
			{"POST", "/api/auth/login", `{"email":"alice@example.com","password":"password-alice@example.com"}`},
			{"POST", "/api/auth/logout", ""},
		} {
			cases = append(cases, req{
				name: "cross origin " + c.name + ": " + route.method + " " + route.path, method: route.method, path: route.path,
				header: http.Header{"Content-Type": {"application/json"}, c.key: {c.value}},
				body:   func() io.Reader { return strings.NewReader(route.body) }, want: []int{403},
			})
		}
	}

	for _, tc := range cases {
		r := alice.raw(tc.method, tc.path, tc.header, tc.body())
		what := tc.name
		if !contains(tc.want, r.Status) {
			t.Errorf("%s: got %d %.200s, want one of %v", what, r.Status, r.Body, tc.want)
			continue
		}
		checkErrorShape(t, what, r)
		if r.Status == 403 && r.ErrorCode() != "cross_origin" {
			t.Errorf("%s: got code %q, want cross_origin", what, r.ErrorCode())
		}
	}

	if after := readWorld(t, db, aliceID); !equalWorld(before, after) {
		t.Errorf("database after hostile requests: got %+v, want unchanged %+v", after, before)
	}
	// And alice is still signed in, her deal intact.
	if r := alice.do("GET", "/api/deals/"+dealID, nil); r.Status != http.StatusOK {
		t.Fatalf("alice's deal after the hostile requests: got %d %s, want 200", r.Status, r.Body)
	}
}

func contains(list []int, v int) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func equalWorld(a, b worldState) bool {
	if (a.LastDeal == nil) != (b.LastDeal == nil) || a.LastDeal != nil && *a.LastDeal != *b.LastDeal {
		return false
	}
	a.LastDeal, b.LastDeal = nil, nil
	return a == b
}

func TestGarbageCookiesNeverSignInNorBreakSignIn(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	createUser(t, env, "carol@example.com", false)
	a := startAPI(t, env)
	// No cookie jar: each request carries exactly the garbage it is given.
	c := &client{t: t, base: a.URL, http: &http.Client{Timeout: 10 * time.Second}}
	values := map[string]string{
		"empty": "", "short": "x", "session-length non-base64": strings.Repeat("!", 43),
		"session-length unknown": strings.Repeat("A", 43), "very long": strings.Repeat("A", 4000),
		"quoted": `"abc"`, "percent": "%00%ff", "remember shape unknown": strings.Repeat("A", 16) + "." + strings.Repeat("B", 43),
		"remember wrong lengths": "abc.def", "many dots": "a.b.c.d", "sql": "' OR 1=1 --",
		"non-ascii": "\u00e9\u00e8",
	}
	for name, v := range values {
		for _, cookie := range []string{"session", "remember_token"} {
			header := http.Header{"Cookie": {cookie + "=" + v}}
			r := c.raw("GET", "/api/me", header, nil)
			if r.Status != http.StatusUnauthorized || r.ErrorCode() != "unauthenticated" {
				t.Errorf("%s cookie %s on GET /api/me: got %d %s, want 401 unauthenticated", cookie, name, r.Status, r.Body)
			}
			header.Set("Content-Type", "application/json")
			body := `{"email":"carol@example.com","password":"password-carol@example.com"}`
			r = c.raw("POST", "/api/auth/login", header, strings.NewReader(body))
			if r.Status != http.StatusOK {
				t.Errorf("%s cookie %s on sign-in: got %d %s, want 200", cookie, name, r.Status, r.Body)
			}
		}
	}
}

// hostileWorld is what the hostile-input tests start from: alice signed in
// with her deal Atlas selected (so auto-restore, a legitimate write, has
// nothing to do during the refused requests), bob existing, and a snapshot
// of what the database holds that a refused request must leave unchanged.
type hostileWorld struct {
	api     *api
	alice   *client
	dealID  string
	db      *postgres.DB
	aliceID int64
	before  worldState
}

func startHostileWorld(t *testing.T) hostileWorld {
	t.Helper()
	env := testEnv(t)
	w := hostileWorld{aliceID: createUser(t, env, "alice@example.com", false)}
	createUser(t, env, "bob@example.com", false)
	w.api = startAPI(t, env)
	w.alice = newClient(t, w.api)
	w.alice.login("alice@example.com", false)
	w.dealID = itoa(w.alice.createDeal("Atlas"))
	if r := w.alice.do("POST", "/api/deals/"+w.dealID+"/select", nil); r.Status != http.StatusOK {
		t.Fatalf("select: got %d %s, want 200", r.Status, r.Body)
	}
	db, err := postgres.Open(context.Background(), env["DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	w.db = db
	w.before = readWorld(t, db, w.aliceID)
	return w
}
