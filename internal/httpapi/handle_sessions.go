package httpapi

import (
	"net/http"
	"time"

	"github.com/dealctx/dealctx/internal/web"
	"github.com/dealctx/dealctx/internal/web/pages/templates"
	"github.com/go-chi/chi/v5"
)

// "Your sessions": the user's signed-in devices, ending one or all others,
// and changing the password (which ends all others too), for the JSON API
// and the /account/sessions page alike. Ending and changing are use cases
// of internal/app (who may, the audit); this file lists and answers.

// handleSessionList lists the signed-in user's live sessions, newest first,
// the request's own marked current; ids are opaque handles, never tokens.
func (s *server) handleSessionList() http.HandlerFunc {
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

// handleSessionDelete ends one of the signed-in user's sessions.
func (s *server) handleSessionDelete() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if _, err := s.EndSession(w, r, chi.URLParam(r, "id")); err != nil {
			s.WriteError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// handleSessionDeleteOthers ends every other session of the signed-in user.
func (s *server) handleSessionDeleteOthers() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := s.EndOtherSessions(r); err != nil {
			s.WriteError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// handlePasswordChange changes the signed-in user's password through the
// JSON API.
func (s *server) handlePasswordChange() http.HandlerFunc {
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

// renderSessions shows the user's devices with page's notice.
func (s *server) renderSessions(w http.ResponseWriter, r *http.Request, status int, page *templates.SessionsPage) {
	u, ok := s.pageUser(w, r)
	if !ok {
		return
	}
	ds, err := s.ListSessions(r)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	now := time.Now()
	for _, d := range ds {
		page.Devices = append(page.Devices, templates.Device{
			ID: d.Handle, Name: web.DescribeUserAgent(d.UserAgent), IP: d.IP,
			LastSeen: ago(now.Sub(d.LastSeenAt)), LastSeenAt: d.LastSeenAt, CreatedAt: d.CreatedAt,
			Current: d.Current, Remembered: web.Remembered(d),
		})
	}
	s.RenderFor(w, r, status, u, page)
}

// handlePageSessions shows the user's signed-in devices, each with a
// sign-out button, and "sign out everywhere else".
func (s *server) handlePageSessions() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.renderSessions(w, r, http.StatusOK, &templates.SessionsPage{Notice: web.PageNotices[r.URL.Query().Get("done")]})
	}
}

// handlePageSessionRevoke signs one device out from the page's form and
// comes back to the page; signing out this device goes to the sign-in page.
func (s *server) handlePageSessionRevoke() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		current, err := s.EndSession(w, r, chi.URLParam(r, "id"))
		if err != nil {
			s.WriteError(w, r, err)
			return
		}
		if current {
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		http.Redirect(w, r, web.DoneURL("/account/sessions", "revoked"), http.StatusSeeOther)
	}
}

// handlePageSessionsRevokeOthers signs every other device out from the
// page's form and comes back to the page.
func (s *server) handlePageSessionsRevokeOthers() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := s.EndOtherSessions(r); err != nil {
			s.WriteError(w, r, err)
			return
		}
		http.Redirect(w, r, web.DoneURL("/account/sessions", "others"), http.StatusSeeOther)
	}
}
