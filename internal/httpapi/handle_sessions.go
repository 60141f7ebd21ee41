package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/dealctx/dealctx/internal/auth"
	"github.com/dealctx/dealctx/internal/deal"
	"github.com/dealctx/dealctx/internal/httpapi/pages"
	"github.com/dealctx/dealctx/internal/session"
	"github.com/go-chi/chi/v5"
)

// "Your sessions": the user's signed-in devices, ending one or all others,
// and changing the password (which ends all others too), for the JSON API
// and the /account/sessions page alike. The session layer does the ending
// (session.Manager.RevokeByHandle, RevokeOthers: tombstones in every store,
// so it holds on every api process and through a Redis outage); this file
// decides who may, audits it and answers.

var (
	errSessionNotFound = deal.Errorf(deal.ENOTFOUND, "You have no signed-in session with that id.")
	errCurrentPassword = deal.Errorf(deal.ECREDENTIALS, "The current password is incorrect.")
	errPasswordsNeeded = deal.Errorf(deal.EINVALID, "Enter your current password and a new one.")
	errPasswordShort   = deal.Errorf(deal.EINVALID, "The new password must have at least %d characters.", auth.MinPasswordLength)
)

// validHandle reports whether s has the shape of a session handle (22
// base64url characters), so nothing else is looked up.
func validHandle(s string) bool {
	if len(s) != 22 {
		return false
	}
	for _, c := range s {
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}

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

// endSession ends the signed-in user's session with that handle and the
// remember token it came from, and audits session.revoked. Ending the
// request's own session signs it out (its remember cookie deleted too);
// current reports that. Another user's or an unknown handle is not found.
func (s *server) endSession(w http.ResponseWriter, r *http.Request, handle string) (current bool, err error) {
	if !validHandle(handle) {
		return false, errSessionNotFound
	}
	ctx := r.Context()
	a := s.actor(r)
	current = handle == s.Sessions.Current(ctx)
	found, err := s.Sessions.RevokeByHandle(ctx, a.UserID, handle)
	if err != nil {
		return false, withCause(errSessions, err)
	}
	if !found {
		return false, errSessionNotFound
	}
	if current {
		s.setRememberCookie(w, "", 0)
	}
	s.recordAfter(ctx, a, deal.ActionSessionRevoked, map[string]any{"session": handle, "current": current})
	s.AuditWake()
	return current, nil
}

// endOtherSessions ends every session and remember token of the signed-in
// user but the request's own, auditing session.revoked for each session it
// ends.
func (s *server) endOtherSessions(r *http.Request) error {
	ctx := r.Context()
	a := s.actor(r)
	before, err := s.listSessions(r)
	if err != nil {
		return err
	}
	if _, err := s.Sessions.RevokeOthers(ctx, a.UserID); err != nil {
		return withCause(errSessions, err)
	}
	for _, d := range before {
		if d.Current {
			continue
		}
		s.recordAfter(ctx, a, deal.ActionSessionRevoked, map[string]any{"session": d.Handle, "current": false})
	}
	s.AuditWake()
	return nil
}

// changePassword checks the signed-in user's current password (throttled
// and counted as sign-in attempts are), stores the new one as an argon2id
// hash, ends every other session and remember token, and audits
// auth.password_changed. A throttled attempt sets Retry-After on w.
func (s *server) changePassword(w http.ResponseWriter, r *http.Request, current, next string) error {
	if current == "" || next == "" {
		return errPasswordsNeeded
	}
	ctx := r.Context()
	u, err := s.DB.FindUserByID(ctx, s.Sessions.UserID(ctx))
	if err != nil {
		return err
	}
	// The sign-in's own rules (length, no NUL), so the new password is one
	// that can sign in.
	for _, pw := range []string{current, next} {
		if err := deal.ValidateLogin(u.Email, pw); err != nil {
			return err
		}
	}
	if auth.CheckPassword(next) != nil {
		return errPasswordShort
	}
	ip, email := s.clientIP(r), deal.NormalizeEmail(u.Email)
	if s.Limiter != nil {
		if wait := s.Limiter.Reserve(ctx, email, ip); wait > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(wait))
			return deal.Errorf(deal.ERATELIMITED, "Too many failed attempts; try again later.")
		}
	}
	_, hash, _, err := s.DB.FindUserForLogin(ctx, u.Email)
	if err != nil {
		s.releaseAttempt(ctx, email, ip)
		return err
	}
	ok, err := s.Hasher.VerifyCtx(ctx, current, hash)
	if err != nil {
		s.releaseAttempt(ctx, email, ip)
		return errHashBusy
	}
	if !ok {
		return errCurrentPassword // the reserved slot stays: a failure counts
	}
	if s.Limiter != nil {
		s.Limiter.Succeeded(ctx, email, ip)
	}
	newHash, err := s.Hasher.HashCtx(ctx, next)
	if errors.Is(err, auth.ErrBusy) {
		return errHashBusy
	} else if err != nil {
		return err
	}
	if err := s.DB.ChangePassword(ctx, u.ID, newHash); err != nil {
		return err
	}
	s.relayAccess(ctx)
	ended, err := s.Sessions.RevokeOthers(ctx, u.ID)
	if err != nil {
		return withCause(errSessions, err)
	}
	s.recordAfter(ctx, s.actor(r), deal.ActionPasswordChanged, map[string]any{"sessions_ended": ended})
	s.AuditWake()
	return nil
}

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
		ds, err := s.listSessions(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		out := response{Sessions: make([]item, len(ds))}
		for i, d := range ds {
			out.Sessions[i] = item{
				ID: d.Handle, Current: d.Current, CreatedAt: d.CreatedAt.UTC(), LastSeenAt: d.LastSeenAt.UTC(),
				IP: d.IP, UserAgent: d.UserAgent, Remembered: remembered(d),
			}
		}
		writeJSON(w, http.StatusOK, out)
	}
}

// handleSessionDelete ends one of the signed-in user's sessions.
func (s *server) handleSessionDelete() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if _, err := s.endSession(w, r, chi.URLParam(r, "id")); err != nil {
			s.writeError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// handleSessionDeleteOthers ends every other session of the signed-in user.
func (s *server) handleSessionDeleteOthers() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := s.endOtherSessions(r); err != nil {
			s.writeError(w, r, err)
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
		req, ok := readJSON[request](s, w, r)
		if !ok {
			return
		}
		if err := s.changePassword(w, r, req.CurrentPassword, req.NewPassword); err != nil {
			s.writeError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// renderSessions shows the user's devices with page's notice.
func (s *server) renderSessions(w http.ResponseWriter, r *http.Request, status int, page *pages.SessionsPage) {
	u, ok := s.pageUser(w, r)
	if !ok {
		return
	}
	ds, err := s.listSessions(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	now := time.Now()
	for _, d := range ds {
		page.Devices = append(page.Devices, pages.Device{
			ID: d.Handle, Name: describeUserAgent(d.UserAgent), IP: d.IP,
			LastSeen: ago(now.Sub(d.LastSeenAt)), LastSeenAt: d.LastSeenAt, CreatedAt: d.CreatedAt,
			Current: d.Current, Remembered: remembered(d),
		})
	}
	s.renderFor(w, r, status, u, page)
}

// handlePageSessions shows the user's signed-in devices, each with a
// sign-out button, and "sign out everywhere else".
func (s *server) handlePageSessions() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.renderSessions(w, r, http.StatusOK, &pages.SessionsPage{Notice: pageNotices[r.URL.Query().Get("done")]})
	}
}

// handlePageSessionRevoke signs one device out from the page's form and
// comes back to the page; signing out this device goes to the sign-in page.
func (s *server) handlePageSessionRevoke() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		current, err := s.endSession(w, r, chi.URLParam(r, "id"))
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if current {
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		http.Redirect(w, r, doneURL("/account/sessions", "revoked"), http.StatusSeeOther)
	}
}

// handlePageSessionsRevokeOthers signs every other device out from the
// page's form and comes back to the page.
func (s *server) handlePageSessionsRevokeOthers() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := s.endOtherSessions(r); err != nil {
			s.writeError(w, r, err)
			return
		}
		http.Redirect(w, r, doneURL("/account/sessions", "others"), http.StatusSeeOther)
	}
}

// releaseAttempt gives back the throttle slots of an attempt whose password
// was never checked: no hashing slot, or the database did not answer.
func (s *server) releaseAttempt(ctx context.Context, email, ip string) {
	if s.Limiter != nil {
		s.Limiter.Release(ctx, email, ip)
	}
}
