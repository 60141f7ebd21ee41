package httpapi

import (
	"net/http"

	"github.com/dealctx/dealctx/internal/deal"
)

// createDeal creates a deal owned by the request's user, audited
// deal.created in the same transaction, and wakes the worker; the JSON API
// and the selector's form share it.
func (s *server) createDeal(r *http.Request, name string) (deal.Deal, error) {
	d, err := s.DB.CreateDeal(r.Context(), s.actor(r), name)
	if err != nil {
		return d, err
	}
	s.AuditWake()
	return d, nil
}
