package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/dealctx/dealctx/internal/deal"
)

// handleHealthz answers 200 while the process runs.
func handleHealthz() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	}
}

// handleReadyz answers 200 when PostgreSQL answers within a second, else 503
// (with Retry-After, through the one error writer).
func (s *server) handleReadyz() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), time.Second)
		defer cancel()
		if err := s.DB.Ping(ctx); err != nil {
			s.writeError(w, r, withCause(deal.Errorf(deal.EUNAVAILABLE, "PostgreSQL does not answer."), err))
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	}
}

// handleHealthSession reports the session layer's state; it always answers
// 200 and says "degraded" when a store is unhealthy.
func handleHealthSession(h HealthChecker) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, h.Check(r.Context()))
	}
}
