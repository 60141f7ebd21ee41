package web

import (
	"net/http"

	"github.com/dealctx/dealctx/internal/session"
)

// What the JSON API and the /account/sessions page share: the signed-in
// user's live sessions.

// Remembered reports whether the device holds a remember-me token: it
// signed in from one, or its password sign-in asked to be Remembered. That
// is what "Remembered" means in the list: this device comes back signed in.
func Remembered(d session.DeviceSession) bool { return d.Remembered || d.RememberSelector != "" }

// ListSessions is the signed-in user's live sessions, newest first.
func (s *Server) ListSessions(r *http.Request) ([]session.DeviceSession, error) {
	ds, err := s.Sessions.List(r.Context(), s.Sessions.UserID(r.Context()))
	if err != nil {
		return nil, WithCause(ErrSessions, err)
	}
	return ds, nil
}
