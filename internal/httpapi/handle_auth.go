package httpapi

import (
	"context"
	"net/http"
	"strconv"

	"github.com/dealctx/dealctx/internal/deal"
	"github.com/dealctx/dealctx/internal/session"
)

var errCredentials = deal.Errorf(deal.ECREDENTIALS, "Email or password is incorrect.")

// signInRequest is what both sign-in doors (the API and the form) take.
type signInRequest struct {
	Email    string
	Password string
	Remember bool
}

// signIn is the one way a password signs a user in, for the API and the
// form alike: throttled per account and IP, audited, a fresh session
// token, a remember-me cookie when asked, and the user's deal restored at
// once. A throttled attempt sets Retry-After on w. It returns the user and
// the restored deal, if any.
func (s *server) signIn(w http.ResponseWriter, r *http.Request, req signInRequest) (deal.User, *deal.Deal, error) {
	if err := deal.ValidateLogin(req.Email, req.Password); err != nil {
		return deal.User{}, nil, err
	}
	ctx, ip, email := r.Context(), s.clientIP(r), deal.NormalizeEmail(req.Email)
	if s.Limiter != nil {
		if wait := s.Limiter.Reserve(ctx, email, ip); wait > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(wait))
			return deal.User{}, nil, deal.Errorf(deal.ERATELIMITED, "Too many failed sign-ins; try again later.")
		}
	}
	u, hash, _, err := s.DB.FindUserForLogin(ctx, req.Email)
	if err != nil {
		s.releaseAttempt(ctx, email, ip)
		return deal.User{}, nil, err
	}
	// An unknown email is checked against a dummy hash: both cases take the
	// same time and give the same answer. The reserved slot stays taken:
	// a failure counts.
	ok, err := s.Hasher.VerifyCtx(ctx, req.Password, hash)
	if err != nil {
		s.releaseAttempt(ctx, email, ip)
		return deal.User{}, nil, errHashBusy
	}
	if !ok {
		a := s.actor(r)
		a.UserID = u.ID
		if err := s.DB.RecordEvent(ctx, a, deal.ActionLoginFailed, 0, 0, nil); err != nil {
			return deal.User{}, nil, err
		}
		s.AuditWake()
		return deal.User{}, nil, errCredentials
	}
	if s.Limiter != nil {
		s.Limiter.Succeeded(ctx, email, ip)
	}
	// A remember-me cookie already in this browser may be another user's
	// (a shared browser): revoked and cleared, or replaced below, so it
	// cannot sign that user back in when this session ends.
	if _, err := r.Cookie(RememberCookieName); err == nil {
		if err := s.revokeRememberCookie(w, r); err != nil {
			return deal.User{}, nil, err
		}
	}
	if err := s.Sessions.SignInFrom(ctx, u.ID, session.Origin{IP: ip}); err != nil {
		return deal.User{}, nil, withCause(errSessions, err)
	}
	if req.Remember {
		if err := s.issueRememberToken(w, r, u.ID); err != nil {
			return deal.User{}, nil, err
		}
	}
	a := s.actor(r)
	if err := s.DB.RecordEvent(ctx, a, deal.ActionLogin, 0, 0, map[string]any{"remember": req.Remember}); err != nil {
		return deal.User{}, nil, err
	}
	var current *deal.Deal
	if s.Config.AutoRestoreDeal {
		if d, ok := s.restorer.restore(ctx, a); ok {
			current = &d
		}
	}
	s.AuditWake()
	s.noteSignIn(ctx, current != nil)
	return u, current, nil
}

// signOut is the one way a session ends on request, for the API and the
// form alike: the remember-me token revoked, the session destroyed
// server-side, the sign-out audited; users.last_deal_id is kept.
func (s *server) signOut(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	a := s.actor(r)
	if err := s.revokeRememberCookie(w, r); err != nil {
		return err
	}
	if err := s.Sessions.Destroy(ctx); err != nil {
		return withCause(errSessions, err)
	}
	s.recordAfter(ctx, a, deal.ActionLogout, nil)
	s.AuditWake()
	return nil
}

// handleAuthLogin signs a user in through the JSON API.
func (s *server) handleAuthLogin() http.HandlerFunc {
	type request struct {
		Email    string `json:"email"`
		Password string `json:"password"`
		Remember bool   `json:"remember"`
	}
	type response struct {
		User        deal.User  `json:"user"`
		CurrentDeal *deal.Deal `json:"current_deal"`
	}
	return func(w http.ResponseWriter, r *http.Request) {
		req, ok := readJSON[request](s, w, r)
		if !ok {
			return
		}
		u, current, err := s.signIn(w, r, signInRequest(req))
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, response{User: u, CurrentDeal: current})
	}
}

// handleAuthLogout signs the session out through the JSON API.
func (s *server) handleAuthLogout() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := s.signOut(w, r); err != nil {
			s.writeError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// releaseAttempt gives back the throttle slots of an attempt whose password
// was never checked: no hashing slot, or the database did not answer.
func (s *server) releaseAttempt(ctx context.Context, email, ip string) {
	if s.Limiter != nil {
		s.Limiter.Release(ctx, email, ip)
	}
}
