package web

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/dealctx/dealctx/internal/deal"
)

// What the JSON API and the pages share about deals: the current deal, and
// deleting a deal and adding or removing members, so a form does exactly
// what its API route does.

// CurrentDeal returns the session's deal after checking that the user may
// still access it. A deal revoked or deleted under the session is removed
// from the session and reported as deal.ErrNotFound; no deal at all is
// deal.ENOTSELECTED.
func (s *Server) CurrentDeal(ctx context.Context) (deal.Deal, error) {
	if d, ok := RestoredDeal(ctx); ok {
		return d, nil
	}
	id := s.Sessions.DealID(ctx)
	if id == 0 {
		return deal.Deal{}, deal.Errorf(deal.ENOTSELECTED, "No deal is selected.")
	}
	userID, epoch := s.Sessions.UserID(ctx), s.CopiesEpoch()
	if d, ok := s.checkedDeal(ctx, userID, id, epoch); ok {
		return d, nil
	}
	d, g, err := s.DB.FindDealAccess(ctx, userID, id)
	switch {
	case deal.ErrorCode(err) == deal.ENOTFOUND:
		s.Sessions.ClearDeal(ctx)
	case err == nil:
		s.RecordCheck(ctx, userID, d, g, epoch)
	}
	return d, err
}

// DeleteDeal soft-deletes a deal (owner or admin) for the API and the
// deal page alike; the session stops pointing at it.
func (s *Server) DeleteDeal(r *http.Request, id int64) error {
	if err := s.DB.DeleteDeal(r.Context(), s.Actor(r), id); err != nil {
		return err
	}
	s.relayAccess(r.Context())
	if s.Sessions.DealID(r.Context()) == id {
		s.Sessions.ClearDeal(r.Context())
	}
	s.AuditWake()
	return nil
}

// AddMember gives the user with that email access to the deal, for the
// API and the deal page alike: the email checked, the role "member" (or
// empty), the actor an owner or admin (the store decides). An email that
// matches no user is not found and counts against the actor's
// member-lookup limit; past it the answer is rate_limited with
// Retry-After set on w.
func (s *Server) AddMember(w http.ResponseWriter, r *http.Request, dealID int64, rawEmail, role string) (deal.Member, error) {
	email, err := deal.ValidateEmail(rawEmail)
	if err != nil {
		return deal.Member{}, err
	}
	if role == "" {
		role = deal.RoleMember
	}
	if role != deal.RoleMember {
		return deal.Member{}, deal.Errorf(deal.EINVALID, `role must be "member".`)
	}
	ctx, a := r.Context(), s.Actor(r)
	if s.MemberLookups != nil {
		if wait := s.MemberLookups.ReserveMemberLookup(ctx, a.UserID); wait > 0 {
			s.Metrics.memberRefused.WithLabelValues("rate_limited").Inc()
			w.Header().Set("Retry-After", strconv.Itoa(wait))
			return deal.Member{}, deal.Errorf(deal.ERATELIMITED, "Too many additions of unknown emails; try again later.")
		}
	}
	m, err := s.DB.AddMember(ctx, a, dealID, email, role)
	switch {
	case IsUnknownEmail(err):
		// The reserved slot stays taken: an unknown email counts. No
		// audit action in the contract fits a failed lookup, so it is
		// logged (without the email) and counted instead.
		s.Metrics.memberRefused.WithLabelValues("unknown_email").Inc()
		s.Logger.InfoContext(ctx, "member addition: no user with that email",
			"actor_user_id", a.UserID, "deal_id", dealID, "ip", a.IP, "request_id", a.RequestID)
	case s.MemberLookups != nil:
		s.MemberLookups.MemberLookupFound(ctx, a.UserID)
	}
	if err != nil {
		return deal.Member{}, err
	}
	s.AuditWake()
	return m, nil
}

// IsUnknownEmail reports AddMember's answer for an email that matches no
// (enabled) user: not_found, but not the deal's own deal.ErrNotFound.
func IsUnknownEmail(err error) bool {
	return deal.ErrorCode(err) == deal.ENOTFOUND && !errors.Is(err, deal.ErrNotFound)
}

// RemoveMember revokes a member's access to the deal (owner or admin), for
// the API and the deal page alike.
func (s *Server) RemoveMember(r *http.Request, dealID, userID int64) error {
	if err := s.DB.RemoveMember(r.Context(), s.Actor(r), dealID, userID); err != nil {
		return err
	}
	s.relayAccess(r.Context())
	s.AuditWake()
	return nil
}
