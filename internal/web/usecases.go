package web

import (
	"context"
	"net/http"
	"strconv"

	"github.com/dealctx/dealctx/internal/app"
	"github.com/dealctx/dealctx/internal/deal"
	"github.com/dealctx/dealctx/internal/postgres"
	"github.com/dealctx/dealctx/internal/session"
)

// This file joins the handlers to internal/app, where the use cases live:
// the adapter that gives app the session layer in its own terms, the
// request's parts app takes, and what app returns made HTTP (Retry-After,
// the remember-me cookie).

// appSessions is *session.Manager as app.Sessions.
type appSessions struct{ *session.Manager }

// SignInAt signs userID in from the client's address ip.
func (m appSessions) SignInAt(ctx context.Context, userID int64, ip string) error {
	return m.SignInFrom(ctx, userID, session.Origin{IP: ip})
}

// Devices are the user's live sessions as app needs them.
func (m appSessions) Devices(ctx context.Context, userID int64) ([]app.Device, error) {
	ds, err := m.List(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := make([]app.Device, len(ds))
	for i, d := range ds {
		out[i] = app.Device{Handle: d.Handle, Current: d.Current}
	}
	return out, nil
}

// newApp builds the use cases' service, and the restorer it and the
// middleware share, from the server's dependencies.
func (s *Server) newApp() *app.Service {
	s.restorer = &app.Restorer[postgres.Gens]{
		Store: s.DB, Sessions: s.Sessions, Logger: s.Logger, Outcome: s.Metrics.restoreOutcome, Wake: s.AuditWake,
		Epoch: s.CopiesEpoch, Record: s.RecordCheck,
	}
	d := app.Deps{
		Store: s.DB, Sessions: appSessions{s.Sessions}, Hasher: s.Hasher, Logger: s.Logger,
		RememberDuration: s.Config.RememberDuration, AutoRestoreDeal: s.Config.AutoRestoreDeal,
		Wake: s.AuditWake, NoteSignIn: s.noteSignIn, RelayAccess: s.relayAccess,
		Limiter: s.Limiter,
		Restore: s.restorer.Restore,
	}
	return app.New(d)
}

// rememberCookie is the request's remember-me cookie's value, and whether
// the browser sent one.
func rememberCookie(r *http.Request) (string, bool) {
	c, err := r.Cookie(RememberCookieName)
	if err != nil {
		return "", false
	}
	return c.Value, true
}

// applyRemember does what app decided with the remember-me cookie.
func (s *Server) applyRemember(w http.ResponseWriter, d app.RememberDecision) {
	if d.Clear {
		s.setRememberCookie(w, "", 0)
	}
	if d.Set != nil {
		s.setRememberCookie(w, d.Set.Value, d.Set.MaxAge)
	}
}

// setRetryAfter sets Retry-After when err asks the client to wait.
func setRetryAfter(w http.ResponseWriter, err error) {
	if secs, ok := app.RetryAfter(err); ok {
		w.Header().Set("Retry-After", strconv.Itoa(secs))
	}
}

// SignIn signs in through app for both doors, doing the HTTP part: the
// remember-me cookie and Retry-After.
func (s *Server) SignIn(w http.ResponseWriter, r *http.Request, email, password string, remember bool) (app.SignInResult, error) {
	cookie, sent := rememberCookie(r)
	res, err := s.app.SignIn(r.Context(), app.SignInInput{
		Email: email, Password: password, Remember: remember, Actor: s.Actor(r),
		RememberCookie: cookie, HasRememberCookie: sent,
	})
	s.applyRemember(w, res.Remember)
	setRetryAfter(w, err)
	return res, err
}

// CreateDeal creates a deal named name (validated) owned by the request's
// user through app, for the API and the selector's form alike.
func (s *Server) CreateDeal(r *http.Request, name string) (deal.Deal, error) {
	return s.app.CreateDeal(r.Context(), s.Actor(r), name)
}

// SignOut signs out through app for both doors, deleting the remember-me
// cookie as app decides.
func (s *Server) SignOut(w http.ResponseWriter, r *http.Request) error {
	cookie, _ := rememberCookie(r)
	rd, err := s.app.SignOut(r.Context(), s.Actor(r), cookie)
	s.applyRemember(w, rd)
	return err
}

// EndSession ends one of the signed-in user's sessions through app, for the
// API and the page alike, deleting the remember-me cookie when it was the
// request's own; current reports that.
func (s *Server) EndSession(w http.ResponseWriter, r *http.Request, handle string) (current bool, err error) {
	res, err := s.app.EndSession(r.Context(), s.Actor(r), handle)
	s.applyRemember(w, res.Remember)
	return res.Current, err
}

// EndOtherSessions ends every other session of the signed-in user through
// app.
func (s *Server) EndOtherSessions(r *http.Request) error {
	return s.app.EndOtherSessions(r.Context(), s.Actor(r))
}

// ChangePassword changes the signed-in user's password through app, for
// the API and the page alike, setting Retry-After when throttled.
func (s *Server) ChangePassword(w http.ResponseWriter, r *http.Request, current, next string) error {
	err := s.app.ChangePassword(r.Context(), app.ChangePasswordInput{Current: current, New: next, Actor: s.Actor(r)})
	setRetryAfter(w, err)
	return err
}
