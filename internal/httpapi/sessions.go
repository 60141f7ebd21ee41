package httpapi

import (
	"net/http"

	"github.com/dealctx/dealctx/internal/session"
)

// What the JSON API and the /account/sessions page share: the signed-in
// user's live sessions.

// remembered reports whether the device holds a remember-me token: it
// signed in from one, or its password sign-in asked to be remembered. That
// is what "remembered" means in the list: this device comes back signed in.
func remembered(d session.DeviceSession) bool { return d.Remembered || d.RememberSelector != "" }

// listSessions is the signed-in user's live sessions, newest first.
func (s *server) listSessions(r *http.Request) ([]session.DeviceSession, error) {
	ds, err := s.Sessions.List(r.Context(), s.Sessions.UserID(r.Context()))
	if err != nil {
		return nil, withCause(errSessions, err)
	}
	return ds, nil
}
