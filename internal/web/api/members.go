package api

import (
	"net/http"

	"github.com/dealctx/dealctx/internal/deal"
	"github.com/dealctx/dealctx/internal/web"
)

// MemberList lists a deal's members.
func (s *Handlers) MemberList() http.HandlerFunc {
	type response struct {
		Members []deal.Member `json:"members"`
	}
	return func(w http.ResponseWriter, r *http.Request) {
		id, ok := s.ReadID(w, r, "id")
		if !ok {
			return
		}
		members, err := s.DB.FindMembers(r.Context(), s.Sessions.UserID(r.Context()), id)
		s.Reply(w, r, http.StatusOK, response{Members: members}, err)
	}
}

// MemberAdd gives a user access to the deal (owner or admin). An email
// that matches no user is 404 as before, but each one counts against the
// actor's member-lookup limit; past it every addition is 429 until the
// count drains, so the two answers cannot be used to test emails in bulk.
func (s *Handlers) MemberAdd() http.HandlerFunc {
	type request struct {
		Email string `json:"email"`
		Role  string `json:"role"`
	}
	type response struct {
		Member deal.Member `json:"member"`
	}
	return func(w http.ResponseWriter, r *http.Request) {
		id, ok := s.ReadID(w, r, "id")
		if !ok {
			return
		}
		req, ok := web.ReadJSON[request](s.Server, w, r)
		if !ok {
			return
		}
		m, err := s.AddMember(w, r, id, req.Email, req.Role)
		s.Reply(w, r, http.StatusCreated, response{Member: m}, err)
	}
}

// MemberRemove revokes a member's access (owner or admin).
func (s *Handlers) MemberRemove() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, ok := s.ReadID(w, r, "id")
		if !ok {
			return
		}
		userID, ok := s.ReadID(w, r, "user_id")
		if !ok {
			return
		}
		if err := s.RemoveMember(r, id, userID); err != nil {
			s.WriteError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}
