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
		id, err := pathID(r, "id")
		if err != nil {
			s.writeError(w, r, err)
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
		id, err := pathID(r, "id")
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		req, err := decode[request](w, r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		email, err := deal.ValidateEmail(req.Email)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if req.Role == "" {
			req.Role = deal.RoleMember
		}
		if req.Role != deal.RoleMember {
			s.writeError(w, r, deal.Errorf(deal.EINVALID, `role must be "member".`))
			return
		}
		ctx, a := r.Context(), s.actor(r)
		if s.MemberLookups != nil {
			if wait := s.MemberLookups.AllowMemberLookup(ctx, a.UserID); wait > 0 {
				s.metrics.memberRefused.WithLabelValues("rate_limited").Inc()
				w.Header().Set("Retry-After", strconv.Itoa(wait))
				s.writeError(w, r, deal.Errorf(deal.ERATELIMITED, "Too many additions of unknown emails; try again later."))
				return
			}
		}
		m, err := s.DB.AddMember(ctx, a, id, email, req.Role)
		if isUnknownEmail(err) {
			// No audit action in the contract fits a failed lookup, so it
			// is logged (without the email) and counted instead.
			s.metrics.memberRefused.WithLabelValues("unknown_email").Inc()
			s.Logger.InfoContext(ctx, "member addition: no user with that email",
				"actor_user_id", a.UserID, "deal_id", id, "ip", a.IP, "request_id", a.RequestID)
			if s.MemberLookups != nil {
				s.MemberLookups.MemberLookupMissed(ctx, a.UserID)
			}
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		s.AuditWake()
		writeJSON(w, http.StatusCreated, response{Member: m})
	}
}

// isUnknownEmail reports AddMember's answer for an email that matches no
// (enabled) user: not_found, but not the deal's own deal.ErrNotFound.
func isUnknownEmail(err error) bool {
	return deal.ErrorCode(err) == deal.ENOTFOUND && !errors.Is(err, deal.ErrNotFound)
}

// handleMemberRemove revokes a member's access (owner or admin).
func (s *server) handleMemberRemove() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r, "id")
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		userID, err := pathID(r, "user_id")
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if err := s.DB.RemoveMember(r.Context(), s.actor(r), id, userID); err != nil {
			s.writeError(w, r, err)
			return
		}
		s.relayAccess(r.Context())
		s.AuditWake()
		w.WriteHeader(http.StatusNoContent)
	}
}
