package httpapi

import (
	"context"
	"net/http"

	"github.com/dealctx/dealctx/internal/deal"
)

// recordAfter audits an action that has already happened (a sign-out, an
// ended session, a changed password): the action stands whether or not its
// event can be written, so a failure is logged at warn and the request goes
// on. The caller wakes the worker once it has recorded everything.
func (s *server) recordAfter(ctx context.Context, a deal.Actor, action string, details map[string]any) {
	if err := s.DB.RecordEvent(ctx, a, action, 0, 0, details); err != nil {
		s.Logger.WarnContext(ctx, "audit of a completed action failed", "action", action, "err", err)
	}
}

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
