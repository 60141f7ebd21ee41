package app

import (
	"context"

	"github.com/dealctx/dealctx/internal/deal"
)

// CreateDeal creates a deal named name (validated: an EINVALID error says
// what is wrong with it) owned by a's user, audited deal.created in the
// same transaction, and wakes the worker; the JSON API and the selector's
// form share it.
func (s *Service) CreateDeal(ctx context.Context, a deal.Actor, name string) (deal.Deal, error) {
	name, err := deal.ValidateDealName(name)
	if err != nil {
		return deal.Deal{}, err
	}
	d, err := s.Store.CreateDeal(ctx, a, name)
	if err != nil {
		return d, err
	}
	s.Wake()
	return d, nil
}
