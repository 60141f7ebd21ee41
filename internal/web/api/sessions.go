package api

import (
	"net/http"
	"time"

	"github.com/dealctx/dealctx/internal/web"
	"github.com/go-chi/chi/v5"
)

// "Your sessions" in the JSON API: the user's signed-in devices, ending one
// or all others, and changing the password (which ends all others too); the
// /account/sessions page does the same through internal/web's calls.
// Ending and changing are use cases of internal/app (who may, the audit);
// this file lists and answers.

// SessionList lists the signed-in user's live sessions, newest first,
// the request's own marked current; ids are opaque handles, never tokens.
func (s *Handlers) SessionList() http.HandlerFunc {
	type item struct {
		ID         string    `json:"id"`
		Current    bool      `json:"current"`
		CreatedAt  time.Time `json:"created_at"`
		LastSeenAt time.Time `json:"last_seen_at"`
		IP         string    `json:"ip"`
		UserAgent  string    `json:"user_agent"`
		Remembered bool      `json:"remembered"`
	}
	type response struct {
		Sessions []item `json:"sessions"`
	}
	return func(w http.ResponseWriter, r *http.Request) {
		ds, err := s.ListSessions(r)
		if err != nil {
			s.WriteError(w, r, err)
			return
		}
		out := response{Sessions: make([]item, len(ds))}
		for i, d := range ds {
			out.Sessions[i] = item{
				ID: d.Handle, Current: d.Current, CreatedAt: d.CreatedAt.UTC(), LastSeenAt: d.LastSeenAt.UTC(),
				IP: d.IP, UserAgent: d.UserAgent, Remembered: web.Remembered(d),
			}
		}
		web.WriteJSON(w, http.StatusOK, out)
	}
}

// SessionDelete ends one of the signed-in user's sessions.
func (s *Handlers) SessionDelete() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if _, err := s.EndSession(w, r, chi.URLParam(r, "id")); err != nil {
			s.WriteError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// SessionDeleteOthers ends every other session of the signed-in user.
func (s *Handlers) SessionDeleteOthers() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := s.EndOtherSessions(r); err != nil {
			s.WriteError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// PasswordChange changes the signed-in user's password through the
// JSON API.
func (s *Handlers) PasswordChange() http.HandlerFunc {
	type request struct {
		CurrentPassword string `json:"current_password"`
		NewPassword     string `json:"new_password"`
	}
	return func(w http.ResponseWriter, r *http.Request) {
		req, ok := web.ReadJSON[request](s.Server, w, r)
		if !ok {
			return
		}
		if err := s.ChangePassword(w, r, req.CurrentPassword, req.NewPassword); err != nil {
			s.WriteError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}
