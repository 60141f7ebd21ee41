//go:build bench

package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/dealctx/dealctx/internal/logging"
	"github.com/prometheus/client_golang/prometheus"
)

// BenchmarkMiddleware measures what each of the outer layers every request
// goes through costs on its own (time and allocations), around a handler
// that writes a small JSON body: the request id, the histogram with the
// access-log line (logged as JSON at info through a logging.Output over io.Discard, as served), and the
// security headers. internal/bench reports it in BENCHMARKS.md.
func BenchmarkMiddleware(b *testing.B) {
	body := []byte(`{"current_deal":{"id":1,"name":"Deal","role":"owner","created_at":"2026-12-01T00:00:00Z"}}`)
	final := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(body)
	})
	out := logging.NewOutput(io.Discard)
	defer func() { _ = out.Close() }()
	logger := logging.New(out, "json", 0)
	s := &Server{Deps: Deps{Logger: logger}, Metrics: newMetrics(prometheus.NewRegistry(), nil, nil), accessLog: logging.Access(logger)}
	for _, c := range []struct {
		name string
		h    http.Handler
	}{
		{"none", final},
		{"request-id", RequestID(final)},
		{"instrument", s.Instrument(final)},
		{"security-headers", SecurityHeaders(true)(final)},
		{"all-three", RequestID(s.Instrument(SecurityHeaders(true)(final)))},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			r := httptest.NewRequest(http.MethodGet, "/api/deals/current", nil)
			for range b.N {
				w := httptest.NewRecorder()
				c.h.ServeHTTP(w, r)
			}
		})
	}
}
