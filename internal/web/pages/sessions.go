package pages

import (
	"net/http"
	"time"

	"github.com/dealctx/dealctx/internal/web"
	"github.com/dealctx/dealctx/internal/web/pages/templates"
	"github.com/go-chi/chi/v5"
)

// The /account/sessions page: the user's signed-in devices, ending one or
// all others, as the JSON API's /api/me/sessions routes do.

// renderSessions shows the user's devices with page's notice.
func (s *Handlers) renderSessions(w http.ResponseWriter, r *http.Request, status int, page *templates.SessionsPage) {
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

// SessionList shows the user's signed-in devices, each with a
// sign-out button, and "sign out everywhere else".
func (s *Handlers) SessionList() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.renderSessions(w, r, http.StatusOK, &templates.SessionsPage{Notice: web.PageNotices[r.URL.Query().Get("done")]})
	}
}

// SessionRevoke signs one device out from the page's form and
// comes back to the page; signing out this device goes to the sign-in page.
func (s *Handlers) SessionRevoke() http.HandlerFunc {
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

// SessionsRevokeOthers signs every other device out from the
// page's form and comes back to the page.
func (s *Handlers) SessionsRevokeOthers() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := s.EndOtherSessions(r); err != nil {
			s.WriteError(w, r, err)
			return
		}
		http.Redirect(w, r, web.DoneURL("/account/sessions", "others"), http.StatusSeeOther)
	}
}
