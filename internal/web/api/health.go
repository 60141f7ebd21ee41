package api

import (
	"context"
	"net/http"
	"time"

	"github.com/dealctx/dealctx/internal/deal"
	"github.com/dealctx/dealctx/internal/web"
)

// Healthz answers 200 while the process runs.
func Healthz() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		web.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	}
}

// Readyz answers 200 when PostgreSQL answers within a second and the
// process is not draining, else 503 (with Retry-After, through the one error
// writer).
func (s *Handlers) Readyz() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.Draining.Load() {
			s.WriteError(w, r, web.ErrDraining)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), time.Second)
		defer cancel()
		if err := s.DB.Ping(ctx); err != nil {
			s.WriteError(w, r, web.WithCause(deal.Errorf(deal.EUNAVAILABLE, "PostgreSQL does not answer."), err))
			return
		}
		web.WriteJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	}
}

// publicHealth is what anyone may read of the session layer's health: the
// contract's shape exactly. The Redis address, topology and breaker are for
// admins (/api/admin/stats and /admin), not for anonymous callers.
type publicHealth struct {
	Status string `json:"status"`
	Store  string `json:"store"`
	Redis  struct {
		Configured bool     `json:"configured"`
		Healthy    bool     `json:"healthy"`
		LatencyMS  *float64 `json:"latency_ms"`
	} `json:"redis"`
	Postgres struct {
		Healthy   bool     `json:"healthy"`
		LatencyMS *float64 `json:"latency_ms"`
	} `json:"postgres"`
}

// HealthSession reports the session layer's state in the public
// shape; it always answers 200 and says "degraded" when a store is
// unhealthy.
func HealthSession(h web.HealthChecker) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rep := h.Check(r.Context())
		out := publicHealth{Status: rep.Status, Store: rep.Store}
		out.Postgres.Healthy, out.Postgres.LatencyMS = rep.Postgres.Healthy, rep.Postgres.LatencyMS
		out.Redis.Configured, out.Redis.Healthy, out.Redis.LatencyMS = rep.Redis.Configured, rep.Redis.Healthy, rep.Redis.LatencyMS
		web.WriteJSON(w, http.StatusOK, out)
	}
}
