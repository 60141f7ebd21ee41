package session

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/dealctx/dealctx/internal/postgres/pgtest"
)

// The session is committed before the first byte of the response, and the
// body then streams: the handler's writes reach the client while it runs.
func TestLoadAndSaveCommitsBeforeTheBodyAndStreams(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	st := NewPostgresStore(db, lifetime)
	m := NewManager(st, ModePostgres, Options{Lifetime: lifetime})
	var token string
	var storedAtFirstWrite, streamed bool
	rec := httptest.NewRecorder()
	h := m.LoadAndSave(func(w http.ResponseWriter, r *http.Request, err error) {
		t.Errorf("onError: %v", err)
	})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := m.SignIn(r.Context(), 7); err != nil {
			t.Error(err)
		}
		_, _ = io.WriteString(w, "first")
		token = m.token(r.Context())
		_, storedAtFirstWrite, _ = st.FindCtx(r.Context(), token)
		streamed = rec.Body.String() == "first"
		_, _ = io.WriteString(w, " second")
	}))
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if !storedAtFirstWrite {
		t.Error("at the handler's first write: got no stored session, want it committed before the body")
	}
	if !streamed {
		t.Error("during the handler: got the body held back, want it written through")
	}
	if got := rec.Body.String(); got != "first second" {
		t.Errorf("body: got %q, want %q", got, "first second")
	}
	if c := rec.Header().Get("Set-Cookie"); !strings.Contains(c, token) {
		t.Errorf("Set-Cookie: got %q, want the session token", c)
	}
}

// A handler that changes the session after its response started is refused
// loudly: the commit can no longer precede the output.
func TestLoadAndSaveRefusesAChangeAfterTheResponseStarted(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	m := NewManager(NewPostgresStore(db, lifetime), ModePostgres, Options{Lifetime: lifetime})
	var recovered any
	h := m.LoadAndSave(func(w http.ResponseWriter, r *http.Request, err error) {
		t.Errorf("onError: %v", err)
	})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() { recovered = recover() }()
		w.WriteHeader(http.StatusOK)
		m.SetDeal(r.Context(), 42)
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if recovered == nil {
		t.Fatal("SetDeal after WriteHeader: got no panic, want one")
	}
	if c := rec.Header().Get("Set-Cookie"); c != "" {
		t.Errorf("Set-Cookie: got %q, want none (nothing was committed)", c)
	}
}

// A handler that writes nothing still gets its session committed and a 200.
func TestLoadAndSaveCommitsWhenTheHandlerWritesNothing(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	m := NewManager(NewPostgresStore(db, lifetime), ModePostgres, Options{Lifetime: lifetime})
	h := m.LoadAndSave(func(w http.ResponseWriter, r *http.Request, err error) {
		t.Errorf("onError: %v", err)
	})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := m.SignIn(r.Context(), 7); err != nil {
			t.Error(err)
		}
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != http.StatusOK || rec.Header().Get("Set-Cookie") == "" {
		t.Errorf("got %d with Set-Cookie %q, want 200 with the session cookie", rec.Code, rec.Header().Get("Set-Cookie"))
	}
}
