package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/dealctx/dealctx/internal/deal"
	"github.com/dealctx/dealctx/internal/logging"
)

// TestWriteErrorRendersByRouteAndLogsOnce: one writer answers JSON under
// /api/ and on the probes, an HTML page elsewhere, with the contract's
// status; internal detail is logged once (one request_id, the route, never
// the raw path) and never sent.
func TestWriteErrorRendersByRouteAndLogsOnce(t *testing.T) {
	t.Parallel()
	secret := errors.New("pq: connection to 10.0.0.7 refused for /deals/secret-path")
	for _, c := range []struct {
		name, path string
		err        error
		status     int
		html       bool
		level      string
	}{
		{"api not found", "/api/deals/9", deal.ErrNotFound, 404, false, ""},
		{"page not found", "/deals/9", deal.ErrNotFound, 404, true, ""},
		{"probe unavailable", "/readyz", WithCause(deal.Errorf(deal.EUNAVAILABLE, "PostgreSQL does not answer."), secret), 503, false, "WARN"},
		{"api internal", "/api/me", secret, 500, false, "ERROR"},
		{"page internal", "/deals/secret-path", secret, 500, true, "ERROR"},
		{"page unavailable", "/deals", WithCause(ErrSessions, secret), 503, true, "WARN"},
		{"api method", "/api/me", ErrMethodNotAllowed, 405, false, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var logs bytes.Buffer
			s := &Server{Deps: Deps{Logger: logging.New(&logs, "json", slog.LevelInfo)}}
			s.Pages = NewPageSet(http.NotFound)
			r := httptest.NewRequest("GET", c.path, nil)
			r = r.WithContext(logging.WithRequestID(r.Context(), "req-1"))
			w := httptest.NewRecorder()
			s.WriteError(w, r, c.err)

			if w.Code != c.status {
				t.Errorf("status: got %d, want %d", w.Code, c.status)
			}
			body := w.Body.String()
			if c.html {
				if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/html") || !strings.Contains(body, `href="/"`) {
					t.Errorf("page: got %q %s, want an HTML page with a way back", ct, body)
				}
			} else {
				var e ErrorBody
				if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error.Code == "" || StatusByCode[e.Error.Code] != c.status {
					t.Errorf("body: got %s, want the contract's JSON error for %d", body, c.status)
				}
			}
			if strings.Contains(body, "10.0.0.7") {
				t.Errorf("body: got %s, want no internal detail", body)
			}
			if c.status == 503 && w.Header().Get("Retry-After") == "" {
				t.Errorf("503 without Retry-After")
			}
			lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
			if c.level == "" {
				if logs.Len() != 0 {
					t.Errorf("log: got %s, want nothing for a client error", logs.String())
				}
				return
			}
			if len(lines) != 1 {
				t.Fatalf("log: got %d lines %s, want 1", len(lines), logs.String())
			}
			var line map[string]any
			if err := json.Unmarshal([]byte(lines[0]), &line); err != nil {
				t.Fatalf("log line %q: %v", lines[0], err)
			}
			if line["level"] != c.level || line["request_id"] != "req-1" || line["route"] != UnmatchedRoute || line["path"] != nil {
				t.Errorf("log line: got %v, want level %s, request_id req-1, route, no path", line, c.level)
			}
			if n := strings.Count(lines[0], `"request_id"`); n != 1 {
				t.Errorf("log line: request_id %d times, want once: %s", n, lines[0])
			}
			if !strings.Contains(lines[0], "10.0.0.7") {
				t.Errorf("log line: got %s, want the detail", lines[0])
			}
		})
	}
}
