package httpapi

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// notText reports whether any name or value of vs is not UTF-8 or holds a
// NUL: what the server must answer 400.
func notText(vs url.Values) bool {
	for k, v := range vs {
		if !utf8.ValidString(k) || strings.IndexByte(k, 0) >= 0 {
			return true
		}
		for _, s := range v {
			if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
				return true
			}
		}
	}
	return false
}

// FuzzPageRequests sends fuzzed form bodies to every page that reads a
// form, and fuzzed queries and path parameters to pages and the API that
// read them, through the real router over a real database. Never a 5xx;
// an error outside /api/ is an HTML page, under /api/ the contract's JSON;
// a field or query parameter that is not UTF-8 or holds a NUL is 400.
func FuzzPageRequests(f *testing.F) {
	for _, s := range []struct {
		route uint8
		raw   string
	}{
		{0, "email=%FF%FE@example.com&password=x"}, // issue #23: SQLSTATE 22021 before
		{0, "email=fuzz@example.com&password=wrong&remember=on&next=/deals"},
		{0, "email=fuzz%00@example.com&password=x"},
		{0, "email=a@example.com&password=%FF"},
		{0, "%FF=1&email=a@example.com&password=x"},
		{0, "email=a@example.com&password=x&next=%FF"},
		{1, "name=Project%20%C3"}, // issue #23: SQLSTATE 22021 before
		{1, "name=Project"},
		{1, "name=%00"},
		{1, "name=%1B%5B31m"},
		{1, "name=%ED%A0%80"}, // a UTF-16 surrogate, not UTF-8
		{1, "name=;;%zz"},
		{2, "current_password=%FF&new_password=a-new-long-password"},
		{2, "current_password=wrong-password&new_password=%C3%28%C3%28%C3%28%C3%28%C3%28%C3%28"},
		{3, "next=%FF"},
		{3, "next=/deals%00"},
		{3, "next=//evil.example"},
		{4, "%FF"},
		{4, "1"},
		{4, "%C3"},
		{5, "action=%FF"},
		{5, "deal_id=%C3&limit=5"},
		{5, "before=1%00"},
		{6, "window=%FF"},
		{7, "done=%FF"},
	} {
		f.Add(s.route, []byte(s.raw))
	}
	fs := newFuzzServer(f)
	f.Fuzz(func(t *testing.T, route uint8, raw []byte) {
		var r *http.Request
		signedIn, form := true, false
		query := string(raw)
		switch route % 8 {
		case 0:
			r, signedIn, form = httptest.NewRequest("POST", "/login", bytes.NewReader(raw)), false, true
		case 1:
			r, form = httptest.NewRequest("POST", "/deals", bytes.NewReader(raw)), true
		case 2:
			r, form = httptest.NewRequest("POST", "/account/password", bytes.NewReader(raw)), true
		case 3:
			r, signedIn = httptest.NewRequest("GET", "/login", nil), false
		case 4:
			r, query = httptest.NewRequest("GET", "/deals/"+strconv.FormatInt(fs.dealID, 10), nil), ""
			r.URL.Path = "/deals/" + string(raw)
			r.URL.RawPath = ""
		case 5:
			r = httptest.NewRequest("GET", "/api/audit", nil)
		case 6:
			r = httptest.NewRequest("GET", "/api/admin/stats", nil)
		case 7:
			r = httptest.NewRequest("GET", "/account/sessions", nil)
		}
		if !form && query != "" {
			r.URL.RawQuery = query
		}
		if form {
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		if signedIn {
			r.AddCookie(fs.cookie)
		}
		rec := httptest.NewRecorder()
		fs.handler.ServeHTTP(rec, r)
		what := r.Method + " " + r.URL.Path + " " + strconv.Quote(string(raw))
		if strings.HasPrefix(r.URL.Path, "/api/") {
			checkContract(t, what, rec)
		} else {
			if rec.Code >= 500 {
				t.Fatalf("%s: got %d %s, want no 5xx", what, rec.Code, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); rec.Code >= 400 && !strings.HasPrefix(ct, "text/html") {
				t.Fatalf("%s: got %d with Content-Type %q, want an HTML page", what, rec.Code, ct)
			}
		}
		// ParseQuery keeps the pairs it could read, as the server does.
		vs, _ := url.ParseQuery(string(raw))
		bad := notText(vs)
		if route%8 == 4 {
			bad = !utf8.Valid(raw) || bytes.IndexByte(raw, 0) >= 0
		}
		if bad && rec.Code != http.StatusBadRequest {
			t.Fatalf("%s: not UTF-8 text, got %d %s, want 400", what, rec.Code, rec.Body)
		}
	})
}
