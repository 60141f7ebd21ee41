package httpapi

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/dealctx/dealctx/internal/deal"
)

// handleMemberList lists a deal's members.
func (s *server) handleMemberList() http.HandlerFunc {
	type response struct {
		Members []deal.Member `json:"members"`
	}
	return func(w http.ResponseWriter, r *http.Request) {
		id, ok := s.readID(w, r, "id")
		if !ok {
			return
		}
		members, err := s.DB.FindMembers(r.Context(), s.Sessions.UserID(r.Context()), id)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, response{Members: members})
	}
}

// handleMemberAdd gives a user access to the deal (owner or admin). An email
// that matches no user is 404 as before, but each one counts against the
// actor's member-lookup limit; past it every addition is 429 until the
// count drains, so the two answers cannot be used to test emails in bulk.
func (s *server) handleMemberAdd() http.HandlerFunc {
	type request struct {
		Email string `json:"email"`
		Role  string `json:"role"`
	}
	type response struct {
		Member deal.Member `json:"member"`
	}
	return func(w http.ResponseWriter, r *http.Request) {
		id, ok := s.readID(w, r, "id")
		if !ok {
			return
		}
		req, ok := readJSON[request](s, w, r)
		if !ok {
			return
		}
		m, err := s.addMember(w, r, id, req.Email, req.Role)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusCreated, response{Member: m})
	}
}

// addMember gives the user with that email access to the deal, for the
// API and the deal page alike: the email checked, the role "member" (or
// empty), the actor an owner or admin (the store decides). An email that
// matches no user is not found and counts against the actor's
// member-lookup limit; past it the answer is rate_limited with
// Retry-After set on w.
func (s *server) addMember(w http.ResponseWriter, r *http.Request, dealID int64, rawEmail, role string) (deal.Member, error) {
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
	ctx, a := r.Context(), s.actor(r)
	if s.MemberLookups != nil {
		if wait := s.MemberLookups.ReserveMemberLookup(ctx, a.UserID); wait > 0 {
			s.metrics.memberRefused.WithLabelValues("rate_limited").Inc()
			w.Header().Set("Retry-After", strconv.Itoa(wait))
			return deal.Member{}, deal.Errorf(deal.ERATELIMITED, "Too many additions of unknown emails; try again later.")
		}
	}
	m, err := s.DB.AddMember(ctx, a, dealID, email, role)
	switch {
	case isUnknownEmail(err):
		// The reserved slot stays taken: an unknown email counts. No
		// audit action in the contract fits a failed lookup, so it is
		// logged (without the email) and counted instead.
		s.metrics.memberRefused.WithLabelValues("unknown_email").Inc()
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

// isUnknownEmail reports AddMember's answer for an email that matches no
// (enabled) user: not_found, but not the deal's own deal.ErrNotFound.
func isUnknownEmail(err error) bool {
	return deal.ErrorCode(err) == deal.ENOTFOUND && !errors.Is(err, deal.ErrNotFound)
}

// handleMemberRemove revokes a member's access (owner or admin).
func (s *server) handleMemberRemove() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, ok := s.readID(w, r, "id")
		if !ok {
			return
		}
		userID, ok := s.readID(w, r, "user_id")
		if !ok {
			return
		}
		if err := s.removeMember(r, id, userID); err != nil {
			s.writeError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// removeMember revokes a member's access to the deal (owner or admin), for
// the API and the deal page alike.
func (s *server) removeMember(r *http.Request, dealID, userID int64) error {
	if err := s.DB.RemoveMember(r.Context(), s.actor(r), dealID, userID); err != nil {
		return err
	}
	s.relayAccess(r.Context())
	s.AuditWake()
	return nil
}
