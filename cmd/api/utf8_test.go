package main

import (
	"net/http"
	"strings"
	"testing"
)

// TestBytesThatAreNotUTF8Are400 is issue #23 item 4 over a real server:
// form fields, JSON strings, query parameters and path parameters holding
// bytes that are not UTF-8 reached PostgreSQL and failed with SQLSTATE
// 22021 (a 500). Each is a 400: an HTML page outside /api/, the contract's
// invalid_request under it; and nothing is created.
func TestBytesThatAreNotUTF8Are400(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	createUser(t, env, "uma@example.com", false)
	a := startAPI(t, env)
	anon := newClient(t, a)
	c := newClient(t, a)
	c.login("uma@example.com", false)
	form := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	jsonBody := http.Header{"Content-Type": {"application/json"}}

	for _, tc := range []struct {
		what   string
		c      *client
		method string
		path   string
		header http.Header
		body   string
	}{
		{"form sign-in, email %FF%FE", anon, "POST", "/login", form, "email=%FF%FE@example.com&password=password-uma@example.com"},
		{"form deal, name Project%20%C3", c, "POST", "/deals", form, "name=Project%20%C3"},
		{"form password change", c, "POST", "/account/password", form, "current_password=%C3&new_password=a-long-enough-password"},
		{"JSON sign-in", anon, "POST", "/api/auth/login", jsonBody, "{\"email\":\"\xff\xfe@example.com\",\"password\":\"x\"}"},
		{"JSON deal", c, "POST", "/api/deals", jsonBody, "{\"name\":\"Project \xc3\"}"},
		{"audit filter", c, "GET", "/api/audit?action=%FF", nil, ""},
		{"sign-in page next", anon, "GET", "/login?next=%2Fdeals%C3", nil, ""},
		{"deal page id", c, "GET", "/deals/1%C3", nil, ""},
		{"API deal id", c, "GET", "/api/deals/%FF", nil, ""},
	} {
		var r response
		if tc.body != "" {
			r = tc.c.raw(tc.method, tc.path, tc.header, strings.NewReader(tc.body))
		} else {
			r = tc.c.raw(tc.method, tc.path, tc.header, nil)
		}
		what := tc.what + " (" + tc.method + " " + tc.path + ")"
		if strings.HasPrefix(tc.path, "/api/") {
			// A path that is not UTF-8 may also be an unknown one (404).
			notFoundPath := tc.path == "/api/deals/%FF" && r.Status == http.StatusNotFound
			if r.Status != http.StatusBadRequest && !notFoundPath {
				t.Errorf("%s: got %d %s, want 400", what, r.Status, r.Body)
			}
			checkErrorShape(t, what, r)
			continue
		}
		wantPage(t, what, r, http.StatusBadRequest, "<h1>")
	}
	if n := sqlInt(t, env, `SELECT count(*) FROM deals`); n != 0 {
		t.Errorf("deals after the refused requests: got %d, want 0", n)
	}
}
