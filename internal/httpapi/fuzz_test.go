package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/dealctx/dealctx/internal/auth"
	"github.com/dealctx/dealctx/internal/config"
	"github.com/dealctx/dealctx/internal/deal"
	"github.com/dealctx/dealctx/internal/postgres"
	"github.com/dealctx/dealctx/internal/postgres/pgtest"
	"github.com/dealctx/dealctx/internal/session"
	"github.com/dealctx/dealctx/internal/web"
)

// fuzzServer is a real server over a fresh test database, with one signed-in
// user who owns one deal.
type fuzzServer struct {
	handler http.Handler
	cookie  *http.Cookie
	dealID  int64
}

func newFuzzServer(t testing.TB) *fuzzServer {
	t.Helper()
	h, cookie, _ := newTestServer(t, nil,
		testUser{"fuzz@example.com", "Fuzz", "fuzz-password", false},
		testUser{"other@example.com", "Other", "other-password", false})
	fs := &fuzzServer{handler: h, cookie: cookie}
	rec := fs.serve(httptest.NewRequest("POST", "/api/deals", strings.NewReader(`{"name":"Fuzz deal"}`)), true)
	var out struct{ Deal struct{ ID int64 } }
	if rec.Code != http.StatusCreated || json.Unmarshal(rec.Body.Bytes(), &out) != nil {
		t.Fatalf("create deal: got %d %s, want 201", rec.Code, rec.Body)
	}
	fs.dealID = out.Deal.ID
	return fs
}

// testUser is a user newTestServer creates.
type testUser struct {
	email, name, password string
	admin                 bool
}

// newTestServer is a real server over a fresh test database, configured
// by env (plus its DATABASE_URL and COOKIE_SECURE=false), with users
// created. It returns the handler, the session cookie of the first user,
// signed in through the API, and the configuration.
func newTestServer(t testing.TB, env map[string]string, users ...testUser) (http.Handler, *http.Cookie, config.Config) {
	t.Helper()
	dbURL := pgtest.NewDatabase(t)
	db, err := postgres.Open(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	cfg, err := config.Load(func(k string) string {
		switch k {
		case "DATABASE_URL":
			return dbURL
		case "COOKIE_SECURE":
			return "false"
		}
		return env[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	hasher := auth.NewHasher(8, 1)
	for _, u := range users {
		hash, _ := hasher.Hash(u.password)
		if _, err := db.CreateUser(context.Background(), u.email, u.name, hash, u.admin); err != nil {
			t.Fatal(err)
		}
	}
	sessions := session.NewManager(session.NewPostgresStore(db, cfg.SessionLifetime), config.StorePostgres,
		session.Options{Lifetime: cfg.SessionLifetime, CookieSecure: false})
	h := NewServer(web.Deps{
		Logger: slog.New(slog.DiscardHandler), Config: cfg, Sessions: sessions, DB: db, Hasher: hasher,
		Health: &session.Health{DB: db, Mode: sessions.Mode},
	})
	body, _ := json.Marshal(map[string]string{"email": users[0].email, "password": users[0].password})
	r := httptest.NewRequest("POST", "/api/auth/login", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if rec.Code != http.StatusOK {
		t.Fatalf("login: got %d %s, want 200", rec.Code, rec.Body)
	}
	for _, c := range rec.Result().Cookies() {
		if c.Name == session.CookieName {
			return h, c, cfg
		}
	}
	t.Fatalf("login: no %s cookie", session.CookieName)
	return nil, nil, cfg
}

func (fs *fuzzServer) serve(r *http.Request, signedIn bool) *httptest.ResponseRecorder {
	if signedIn {
		r.AddCookie(fs.cookie)
	}
	if r.Body != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	fs.handler.ServeHTTP(rec, r)
	return rec
}

// knownCodes are the contract's error codes.
var knownCodes = map[string]bool{
	"invalid_request": true, "unauthenticated": true, "invalid_credentials": true, "forbidden": true,
	"cross_origin": true, "not_found": true, "deal_not_selected": true, "payload_too_large": true,
	"rate_limited": true, "unavailable": true, "unsupported_media_type": true, "method_not_allowed": true,
}

// checkContract fails unless rec is a success or a 4xx in the contract's
// error shape.
func checkContract(t *testing.T, what string, rec *httptest.ResponseRecorder) {
	t.Helper()
	if rec.Code >= 500 {
		t.Fatalf("%s: got %d %s, want no 5xx", what, rec.Code, rec.Body)
	}
	if rec.Code < 400 {
		return
	}
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	dec := json.NewDecoder(bytes.NewReader(rec.Body.Bytes()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil || !knownCodes[e.Error.Code] || e.Error.Message == "" {
		t.Fatalf("%s: got %d %q, want the contract's error shape", what, rec.Code, rec.Body)
	}
}

// FuzzRequests sends fuzzed JSON bodies to every endpoint that decodes one,
// and fuzzed ids and query strings to those that parse them (the session
// routes included), through the real router, middleware and handlers over a
// real database.
func FuzzRequests(f *testing.F) {
	seeds := []struct {
		route uint8
		param string
		body  string
	}{
		{0, "", `{"email":"fuzz@example.com","password":"wrong","remember":true}`},
		{0, "", `{"email":1}`},
		{0, "", `{"email":"a","password":"b"} {}`},
		{1, "", `{"name":"Atlas"}`},
		{1, "", `{"name":null}`},
		{1, "", `{"name":"` + strings.Repeat("x", 300) + `"}`},
		{2, "", `{"email":"other@example.com","role":"member"}`},
		{2, "", `{"email":"other@example.com","role":"owner"}`},
		{3, "", `{"remember_last_deal":false}`},
		{3, "", `{"remember_last_deal":"yes"}`},
		{4, "1", ""},
		{4, "9223372036854775808", ""},
		{5, "-1", ""},
		{6, "abc", ""},
		{7, "deal_id=1&limit=5", ""},
		{7, "before=-3&limit=1e9", ""},
		{1, "", "\x00\xff"},
		{1, "", `[`},
		{3, "", `{"remember_last_deal":true,"remember_last_deal":1}`},
		{8, "", `{"current_password":"wrong-password","new_password":"a-new-long-password"}`},
		{8, "", `{"current_password":"fuzz-password","new_password":"short"}`},
		{8, "", `{"current_password":"fuzz-password\u0000","new_password":"a-new-long-password"}`},
		{8, "", `{"current_password":1,"new_password":["x"]}`},
		{9, "", ""},
		{10, "0123456789abcdef", ""},
		{10, "\x00", ""},
		{10, "\x1b[31m\x7f\u0085", ""},
		{10, strings.Repeat("a", 5000), ""},
		{11, "", ""},
		{0, "", "{\"email\":\"\xff\xfe@example.com\",\"password\":\"x\"}"}, // issue #23
		{1, "", "{\"name\":\"Project \xc3\"}"},                             // issue #23
	}
	for _, s := range seeds {
		f.Add(s.route, s.param, []byte(s.body))
	}
	fs := newFuzzServer(f)
	f.Fuzz(func(t *testing.T, route uint8, param string, body []byte) {
		dealID := strconv.FormatInt(fs.dealID, 10)
		var r *http.Request
		signedIn := true
		switch route % 12 {
		case 0:
			r, signedIn = httptest.NewRequest("POST", "/api/auth/login", bytes.NewReader(body)), false
		case 1:
			r = httptest.NewRequest("POST", "/api/deals", bytes.NewReader(body))
		case 2:
			r = httptest.NewRequest("POST", "/api/deals/"+dealID+"/members", bytes.NewReader(body))
		case 3:
			r = httptest.NewRequest("PATCH", "/api/me/preferences", bytes.NewReader(body))
		case 4:
			r = httptest.NewRequest("GET", "/api/deals/"+url.PathEscape(param), nil)
		case 5:
			r = httptest.NewRequest("POST", "/api/deals/"+url.PathEscape(param)+"/select", nil)
		case 6:
			r = httptest.NewRequest("GET", "/api/deals/"+url.PathEscape(param)+"/members", nil)
		case 7:
			r = httptest.NewRequest("GET", "/api/audit?"+url.PathEscape(param), nil)
			r.URL.RawQuery = strings.ToValidUTF8(param, "")
		case 8:
			r = httptest.NewRequest("POST", "/api/me/password", bytes.NewReader(body))
		case 9:
			r = httptest.NewRequest("GET", "/api/me/sessions", nil)
		case 10:
			r = httptest.NewRequest("DELETE", "/api/me/sessions/"+url.PathEscape(param), nil)
		case 11:
			r = httptest.NewRequest("DELETE", "/api/me/sessions", nil)
		}
		rec := fs.serve(r, signedIn)
		checkContract(t, r.Method+" "+r.URL.String(), rec)
		if takesBody := route%12 < 4 || route%12 == 8; takesBody && jsonHasNUL(body) && rec.Code != http.StatusBadRequest {
			t.Fatalf("%s %s with a NUL in a JSON string: got %d %s, want 400", r.Method, r.URL, rec.Code, rec.Body)
		} else if takesBody && !utf8.Valid(body) && rec.Code != http.StatusBadRequest {
			t.Fatalf("%s %s with a body that is not UTF-8: got %d %s, want 400", r.Method, r.URL, rec.Code, rec.Body)
		}
	})
}

// jsonHasNUL reports whether body is JSON holding a NUL character in any
// string, object keys included.
func jsonHasNUL(body []byte) bool {
	var v any
	if json.Unmarshal(body, &v) != nil {
		return false
	}
	var walk func(v any) bool
	walk = func(v any) bool {
		switch v := v.(type) {
		case string:
			return strings.ContainsRune(v, 0)
		case []any:
			return slices.ContainsFunc(v, walk)
		case map[string]any:
			for k, e := range v {
				if strings.ContainsRune(k, 0) || walk(e) {
					return true
				}
			}
		}
		return false
	}
	return walk(v)
}

// received is s as a server decodes it after json.Marshal sent it.
func received(t *testing.T, s string) string {
	j, err := json.Marshal(s)
	if err == nil {
		err = json.Unmarshal(j, &s)
	}
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// FuzzDecodeRequests puts fuzzed strings into every string field of every
// request type the api decodes (as well-formed JSON, so they get past the
// parser to validation and PostgreSQL) and sends them through the real
// server. Never a 5xx; a NUL anywhere is 400; a control character in a name
// or an email is 400; a valid name or address is accepted.
func FuzzDecodeRequests(f *testing.F) {
	for _, s := range []struct {
		route uint8
		a, b  string
		flag  bool
	}{
		{0, "fuzz@example.com", "fuzz-password", true},
		{0, "fuzz@example.com\x00", "fuzz-password", false},
		{0, "fuzz@example.com", "fuzz-\x00password", false},
		{0, strings.Repeat("x", 300) + "@example.com", "pw", false},
		{1, "Atlas", "", false},
		{1, "At\x00las", "", false},
		{1, "Atlas\x1b[31m", "", false},
		{1, "\x7f", "", false},
		{1, "Atlas\n", "", false},
		{1, "\u0085Atlas", "", false},
		{1, "\xff\xfe", "", false},
		{2, "other@example.com", "member", false},
		{2, "other@example.com\x00", "member", false},
		{2, "other@example.com", "mem\x00ber", false},
		{2, "oth\ter@example.com", "member", false},
		{2, "Other <other@example.com>", "member", false},
		{2, "nobody@example.com", "", false},
		{3, "true", "", true},
		{3, "\x00", "", false},
	} {
		f.Add(s.route, s.a, s.b, s.flag)
	}
	fs := newFuzzServer(f)
	f.Fuzz(func(t *testing.T, route uint8, a, b string, flag bool) {
		dealID := strconv.FormatInt(fs.dealID, 10)
		var (
			r        *http.Request
			signedIn = true
			usesB    bool // b is sent too
			isName   bool // a is a name: control characters are refused
			isEmail  bool // a is an address: control characters are refused
		)
		body := func(v any) *bytes.Reader {
			j, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			return bytes.NewReader(j)
		}
		switch route % 4 {
		case 0:
			r = httptest.NewRequest("POST", "/api/auth/login", body(map[string]any{"email": a, "password": b, "remember": flag}))
			signedIn, usesB = false, true
		case 1:
			r = httptest.NewRequest("POST", "/api/deals", body(map[string]any{"name": a}))
			isName = true
		case 2:
			r = httptest.NewRequest("POST", "/api/deals/"+dealID+"/members", body(map[string]any{"email": a, "role": b}))
			usesB, isEmail = true, true
		case 3:
			// No string field: a string where the bool belongs.
			r = httptest.NewRequest("PATCH", "/api/me/preferences", body(map[string]any{"remember_last_deal": a}))
		}
		what := r.Method + " " + r.URL.String()
		rec := fs.serve(r, signedIn)
		checkContract(t, what, rec)
		// json.Marshal writes invalid UTF-8 as U+FFFD: judge what the
		// server received.
		a, b = received(t, a), received(t, b)
		switch {
		case strings.ContainsRune(a, 0) || usesB && strings.ContainsRune(b, 0):
			if rec.Code != http.StatusBadRequest {
				t.Fatalf("%s with a NUL (%q, %q): got %d %s, want 400", what, a, b, rec.Code, rec.Body)
			}
		case (isName || isEmail) && deal.HasControl(a):
			if rec.Code != http.StatusBadRequest {
				t.Fatalf("%s with a control character (%q): got %d %s, want 400", what, a, rec.Code, rec.Body)
			}
		case isName:
			_, err := deal.ValidateDealName(a)
			if want := map[bool]int{true: http.StatusCreated, false: http.StatusBadRequest}[err == nil]; rec.Code != want {
				t.Fatalf("%s name %q: got %d %s, want %d", what, a, rec.Code, rec.Body, want)
			}
		}
	})
}
