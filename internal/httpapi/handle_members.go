package httpapi

import (
	"net/http"

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

// handleMemberAdd gives a user access to the deal (owner or admin).
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
		m, err := s.DB.AddMember(r.Context(), s.actor(r), id, email, req.Role)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		s.AuditWake()
		writeJSON(w, http.StatusCreated, response{Member: m})
	}
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
		s.AuditWake()
		w.WriteHeader(http.StatusNoContent)
	}
}
