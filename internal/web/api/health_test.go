package api

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/dealctx/dealctx/internal/postgres/pgtest"
	"github.com/dealctx/dealctx/internal/web"
)

// The readiness probe, through its own handler and httptest: ready while
// PostgreSQL answers; 503 in the contract's shape, with Retry-After, while
// the process drains and when PostgreSQL is gone.
func TestReadyzSaysWhetherToSendTraffic(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	srv, closeSrv := web.New(web.Deps{DB: db, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	defer closeSrv()
	h := (&Handlers{srv}).Readyz()
	probe := func() (int, string, string) {
		w := httptest.NewRecorder()
		h(w, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		var body struct {
			Status string `json:"status"`
			Error  struct {
				Code string `json:"code"`
			} `json:"error"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
			t.Fatalf("/readyz body %q: %v", w.Body, err)
		}
		if w.Code != http.StatusOK && w.Header().Get("Retry-After") == "" {
			t.Errorf("/readyz %d without Retry-After", w.Code)
		}
		return w.Code, body.Status, body.Error.Code
	}
	if code, status, _ := probe(); code != http.StatusOK || status != "ready" {
		t.Fatalf("ready: got %d %q, want 200 ready", code, status)
	}
	srv.Draining.Store(true)
	if code, _, errCode := probe(); code != http.StatusServiceUnavailable || errCode != "unavailable" {
		t.Fatalf("draining: got %d %q, want 503 unavailable", code, errCode)
	}
	srv.Draining.Store(false)
	db.Close()
	if code, _, errCode := probe(); code != http.StatusServiceUnavailable || errCode != "unavailable" {
		t.Fatalf("PostgreSQL gone: got %d %q, want 503 unavailable", code, errCode)
	}
}

// Healthz answers while the process runs, whatever else is down.
func TestHealthzAnswersWhileTheProcessRuns(t *testing.T) {
	t.Parallel()
	w := httptest.NewRecorder()
	Healthz()(w, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if w.Code != http.StatusOK || w.Body.String() != "{\"status\":\"ok\"}\n" {
		t.Fatalf("/healthz: got %d %q", w.Code, w.Body)
	}
}
