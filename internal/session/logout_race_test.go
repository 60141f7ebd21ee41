package session

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/dealctx/dealctx/internal/postgres/pgtest"
)

// TestLogoutStaysALogoutDespiteALateCommit proves that a request of the same
// session that was in flight during logout, and commits after it, does not
// bring the destroyed session back.
func TestLogoutStaysALogoutDespiteALateCommit(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	m := NewManager(NewPostgresStore(db, time.Hour), "postgres", Options{Lifetime: time.Hour})

	inHandler, release := make(chan struct{}), make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		if err := m.SignIn(r.Context(), 7); err != nil {
			t.Errorf("sign in: %v", err)
		}
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		if err := m.Destroy(r.Context()); err != nil {
			t.Errorf("destroy: %v", err)
		}
	})
	mux.HandleFunc("POST /slow-select", func(w http.ResponseWriter, r *http.Request) {
		close(inHandler)
		<-release
		m.SetDeal(r.Context(), 42) // modifies the whole session, so it commits
	})
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		if m.UserID(r.Context()) == 0 {
			w.WriteHeader(http.StatusUnauthorized)
		}
	})
	srv := httptest.NewServer(m.LoadAndSave(func(w http.ResponseWriter, r *http.Request, err error) {
		t.Errorf("session error: %v", err)
		w.WriteHeader(http.StatusServiceUnavailable)
	})(mux))
	defer srv.Close()

	do := func(method, path string, cookie *http.Cookie) *http.Response {
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		if cookie != nil {
			req.AddCookie(cookie)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		resp.Body.Close()
		return resp
	}
	var session *http.Cookie
	for _, c := range do("POST", "/login", nil).Cookies() {
		if c.Name == CookieName {
			session = c
		}
	}
	if session == nil {
		t.Fatalf("login set no session cookie")
	}
	if got := do("GET", "/whoami", session).StatusCode; got != http.StatusOK {
		t.Fatalf("before logout: got %d, want 200", got)
	}

	slowDone := make(chan *http.Response)
	go func() {
		req, _ := http.NewRequest("POST", srv.URL+"/slow-select", nil)
		req.AddCookie(session)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Errorf("slow request: %v", err)
			close(slowDone)
			return
		}
		resp.Body.Close()
		slowDone <- resp
	}()
	<-inHandler // the slow request has loaded the session
	if got := do("POST", "/logout", session).StatusCode; got != http.StatusOK {
		t.Fatalf("logout: got %d, want 200", got)
	}
	close(release) // the slow request now commits its copy of the session
	<-slowDone

	if got := do("GET", "/whoami", session).StatusCode; got != http.StatusUnauthorized {
		t.Fatalf("after logout and a late commit: got %d, want 401 (logout must stay a logout)", got)
	}
}

// TestStoreFailureIsACleanError proves that a store that cannot load a
// session yields the error handler's response alone, with the handler never
// run, and a failed commit never leaks the handler's output.
func TestStoreFailureIsACleanError(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	m := NewManager(NewPostgresStore(db, time.Hour), "postgres", Options{Lifetime: time.Hour})
	ran := false
	h := m.LoadAndSave(func(w http.ResponseWriter, r *http.Request, err error) {
		w.WriteHeader(http.StatusServiceUnavailable)
		if _, err := w.Write([]byte("unavailable")); err != nil {
			t.Errorf("write the error response: %v", err)
		}
	})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ran = true
		if err := m.SignIn(r.Context(), 1); err != nil {
			t.Errorf("sign in (before the commit fails): %v", err)
		}
		if _, err := w.Write([]byte("secret handler output")); err != nil {
			t.Errorf("write the handler output: %v", err)
		}
	}))
	db.Close() // every store call now fails

	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/", nil)
	req.AddCookie(&http.Cookie{Name: CookieName, Value: "abcdefghijabcdefghijabcdefghijabcdefghij123"})
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusServiceUnavailable || ran {
		t.Fatalf("load failure: got %d (handler ran: %v), want 503 without running the handler", rec.Code, ran)
	}

	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil)) // no cookie: load needs no store, commit does
	if rec.Code != http.StatusServiceUnavailable || rec.Body.String() != "unavailable" {
		t.Fatalf("commit failure: got %d %q, want 503 \"unavailable\" and nothing of the handler's output", rec.Code, rec.Body.String())
	}
}
