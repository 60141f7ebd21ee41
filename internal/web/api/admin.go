package api

import (
	"net/http"
)

// AdminStats answers GET /api/admin/stats?window=24h|7d (24h when
// absent).
func (s *Handlers) AdminStats() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		window := r.URL.Query().Get("window")
		if window == "" {
			window = "24h"
		}
		st, err := s.FindAdminStats(r.Context(), window, s.SessionHealth)
		s.Reply(w, r, http.StatusOK, st, err)
	}
}
