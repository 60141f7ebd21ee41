package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/dealctx/dealctx/internal/auth"
	"github.com/dealctx/dealctx/internal/config"
	"github.com/dealctx/dealctx/internal/deal"
	"github.com/dealctx/dealctx/internal/postgres"
	"github.com/dealctx/dealctx/internal/session"
)

func FuzzParseID(f *testing.F) {
	for _, s := range []string{"1", "42", "0", "-1", "9223372036854775807", "9223372036854775808",
		"abc", "1e3", "+7", " 1", "0x10", "007", strings.Repeat("9", 400), "１"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := parseID(s)
		want, perr := strconv.ParseInt(s, 10, 64)
		ok := perr == nil && want > 0 && strconv.FormatInt(want, 10) == s
		if (err == nil) != ok {
			t.Fatalf("parseID(%q): got err %v, want ok=%v", s, err, ok)
		}
		if err != nil {
			if deal.ErrorCode(err) != deal.EINVALID {
				t.Fatalf("parseID(%q): got code %q, want %q", s, deal.ErrorCode(err), deal.EINVALID)
			}
			return
		}
		if id != want {
			t.Fatalf("parseID(%q): got %d, want %d", s, id, want)
		}
	})
}

// fuzzServer is a real server over a fresh test database, with one signed-in
// user who owns one deal.
type fuzzServer struct {
	handler http.Handler
	cookie  *http.Cookie
	dealID  int64
}

func newFuzzServer(t testing.TB) *fuzzServer {
	t.Helper()
	dbURL := postgres.NewTestDatabase(t)
	db, err := postgres.Open(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	cfg, err := config.Load(func(k string) string {
		return map[string]string{"DATABASE_URL": dbURL, "COOKIE_SECURE": "false"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	hasher := auth.NewHasher(8, 1)
	hash, _ := hasher.Hash("fuzz-password")
	if _, err := db.CreateUser(context.Background(), "fuzz@example.com", "Fuzz", hash, false); err != nil {
		t.Fatal(err)
	}
	hash, _ = hasher.Hash("other-password")
	if _, err := db.CreateUser(context.Background(), "other@example.com", "Other", hash, false); err != nil {
		t.Fatal(err)
	}
	sessions := session.NewManager(session.NewPostgresStore(db, cfg.SessionLifetime), config.StorePostgres,
		session.Options{Lifetime: cfg.SessionLifetime, CookieSecure: false})
	fs := &fuzzServer{handler: NewServer(Deps{
		Logger: slog.New(slog.DiscardHandler), Config: cfg, Sessions: sessions, DB: db, Hasher: hasher,
		Health: &session.Health{DB: db, Mode: sessions.Mode},
	})}
	rec := fs.serve(httptest.NewRequest("POST", "/api/auth/login", strings.NewReader(`{"email":"fuzz@example.com","password":"fuzz-password"}`)), false)
	if rec.Code != http.StatusOK {
		t.Fatalf("login: got %d %s, want 200", rec.Code, rec.Body)
	}
	for _, c := range rec.Result().Cookies() {
		if c.Name == session.CookieName {
			fs.cookie = c
		}
	}
	rec = fs.serve(httptest.NewRequest("POST", "/api/deals", strings.NewReader(`{"name":"Fuzz deal"}`)), true)
	var out struct{ Deal struct{ ID int64 } }
	if rec.Code != http.StatusCreated || json.Unmarshal(rec.Body.Bytes(), &out) != nil {
		t.Fatalf("create deal: got %d %s, want 201", rec.Code, rec.Body)
	}
	fs.dealID = out.Deal.ID
	return fs
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
	"rate_limited": true, "unavailable": true,
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
// and fuzzed ids and query strings to those that parse them, through the
// real router, middleware and handlers over a real database.
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
	}
	for _, s := range seeds {
		f.Add(s.route, s.param, []byte(s.body))
	}
	fs := newFuzzServer(f)
	f.Fuzz(func(t *testing.T, route uint8, param string, body []byte) {
		dealID := strconv.FormatInt(fs.dealID, 10)
		var r *http.Request
		signedIn := true
		switch route % 8 {
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
		}
		checkContract(t, r.Method+" "+r.URL.String(), fs.serve(r, signedIn))
	})
}
