package app

import (
	"context"
	"time"

	"github.com/dealctx/dealctx/internal/auth"
	"github.com/dealctx/dealctx/internal/deal"
)

// ErrCredentials answers a sign-in with an unknown email or a wrong
// password, alike.
var ErrCredentials = deal.Errorf(deal.ECREDENTIALS, "Email or password is incorrect.")

// RememberToken is a remember-me cookie to set: its value and lifetime.
type RememberToken struct {
	Value  string
	MaxAge time.Duration
}

// RememberDecision is what becomes of the browser's remember-me cookie.
// Clear deletes it; Set, when not nil, sets a new one (replacing a deletion
// decided earlier in the same request). It holds on errors too: a cookie
// whose token was revoked before the use case failed is still deleted.
type RememberDecision struct {
	Clear bool
	Set   *RememberToken
}

// SignInInput is what both sign-in doors (the API and the form) take, with
// the request's actor (its IP is the throttle's) and the remember-me cookie
// the browser sent, if any.
type SignInInput struct {
	Email    string
	Password string
	Remember bool
	Actor    deal.Actor
	// RememberCookie is the remember-me cookie's value, HasRememberCookie
	// whether the browser sent one at all.
	RememberCookie    string
	HasRememberCookie bool
}

// SignInResult is a sign-in's outcome: the user, the deal restored at once
// (nil when none) and the remember-me cookie's fate.
type SignInResult struct {
	User     deal.User
	Deal     *deal.Deal
	Remember RememberDecision
}

// SignIn is the one way a password signs a user in, for the API and the
// form alike: throttled per account and IP (a *RetryAfterError when
// throttled), audited, a fresh session token, a remember-me token when
// asked, and the user's deal restored at once. The result's Remember holds
// even when an error is returned.
func (s *Service) SignIn(ctx context.Context, in SignInInput) (SignInResult, error) {
	var res SignInResult
	if err := deal.ValidateLogin(in.Email, in.Password); err != nil {
		return res, err
	}
	ip, email := in.Actor.IP, deal.NormalizeEmail(in.Email)
	if s.Limiter != nil {
		if wait := s.Limiter.Reserve(ctx, email, ip); wait > 0 {
			return res, &RetryAfterError{Err: deal.Errorf(deal.ERATELIMITED, "Too many failed sign-ins; try again later."), Seconds: wait}
		}
	}
	u, hash, _, err := s.Store.FindUserForLogin(ctx, in.Email)
	if err != nil {
		s.releaseAttempt(ctx, email, ip)
		return res, err
	}
	// An unknown email is checked against a dummy hash: both cases take the
	// same time and give the same answer. The reserved slot stays taken:
	// a failure counts.
	ok, err := s.Hasher.VerifyCtx(ctx, in.Password, hash)
	if err != nil {
		s.releaseAttempt(ctx, email, ip)
		return res, ErrHashBusy
	}
	if !ok {
		a := in.Actor
		a.UserID = u.ID
		if err := s.Store.RecordEvent(ctx, a, deal.ActionLoginFailed, 0, 0, nil); err != nil {
			return res, err
		}
		s.Wake()
		return res, ErrCredentials
	}
	if s.Limiter != nil {
		s.Limiter.Succeeded(ctx, email, ip)
	}
	// A remember-me cookie already in this browser may be another user's
	// (a shared browser): revoked and cleared, or replaced below, so it
	// cannot sign that user back in when this session ends.
	if in.HasRememberCookie {
		if err := s.revokeRememberToken(ctx, in.RememberCookie); err != nil {
			return res, err
		}
		res.Remember.Clear = true
	}
	if err := s.Sessions.SignInAt(ctx, u.ID, ip); err != nil {
		return res, WithCause(ErrSessions, err)
	}
	if in.Remember {
		tok, err := s.issueRememberToken(ctx, u.ID)
		if err != nil {
			return res, err
		}
		res.Remember.Set = tok
	}
	a := in.Actor
	a.UserID = s.Sessions.UserID(ctx)
	if err := s.Store.RecordEvent(ctx, a, deal.ActionLogin, 0, 0, map[string]any{"remember": in.Remember}); err != nil {
		return res, err
	}
	if s.AutoRestoreDeal {
		if d, ok := s.Restore(ctx, a); ok {
			res.Deal = &d
		}
	}
	s.Wake()
	s.NoteSignIn(ctx, res.Deal != nil)
	res.User = u
	return res, nil
}

// SignOut is the one way a session ends on request, for the API and the
// form alike: the remember-me token of rememberCookie (the browser's
// cookie's value, "" when none) revoked, the session destroyed
// server-side, the sign-out audited by a (the request's actor, taken
// before); users.last_deal_id is kept. The decision holds even when an
// error is returned.
func (s *Service) SignOut(ctx context.Context, a deal.Actor, rememberCookie string) (RememberDecision, error) {
	var rd RememberDecision
	if err := s.revokeRememberToken(ctx, rememberCookie); err != nil {
		return rd, err
	}
	rd.Clear = true
	if err := s.Sessions.Destroy(ctx); err != nil {
		return rd, WithCause(ErrSessions, err)
	}
	s.recordAfter(ctx, a, deal.ActionLogout, nil)
	s.Wake()
	return rd, nil
}

// issueRememberToken stores a new remember-me token for the user, binds it
// to the session and returns its cookie.
func (s *Service) issueRememberToken(ctx context.Context, userID int64) (*RememberToken, error) {
	tok, err := auth.NewRememberToken()
	if err != nil {
		return nil, err
	}
	if err := s.Store.CreateRememberToken(ctx, userID, tok, time.Now().Add(s.RememberDuration)); err != nil {
		return nil, err
	}
	s.Sessions.BindRememberToken(ctx, tok.Selector)
	return &RememberToken{Value: tok.String(), MaxAge: s.RememberDuration}, nil
}

// revokeRememberToken revokes the remember-me token a cookie's value
// names, if it names one.
func (s *Service) revokeRememberToken(ctx context.Context, cookie string) error {
	if tok, ok := auth.ParseRememberToken(cookie); ok {
		return s.Store.RevokeRememberToken(ctx, tok.Selector)
	}
	return nil
}
