package app

import (
	"context"
	"errors"

	"github.com/dealctx/dealctx/internal/auth"
	"github.com/dealctx/dealctx/internal/deal"
)

// "Your sessions": ending one of the user's sessions or all others, and
// changing the password (which ends all others too). The session layer
// does the ending (tombstones in every store, so it holds on every api
// process and through a Redis outage); these decide who may and audit it.

var (
	// ErrSessionNotFound answers a handle that names none of the user's
	// live sessions (another user's, unknown, or malformed).
	ErrSessionNotFound = deal.Errorf(deal.ENOTFOUND, "You have no signed-in session with that id.")
	// ErrCurrentPassword answers a password change whose current password
	// is wrong.
	ErrCurrentPassword = deal.Errorf(deal.ECREDENTIALS, "The current password is incorrect.")
	// ErrPasswordsNeeded answers a password change missing either password.
	ErrPasswordsNeeded = deal.Errorf(deal.EINVALID, "Enter your current password and a new one.")
	// ErrPasswordShort answers a new password shorter than the minimum.
	ErrPasswordShort = deal.Errorf(deal.EINVALID, "The new password must have at least %d characters.", auth.MinPasswordLength)
)

// Device is one of a user's live sessions, as ending them needs it.
type Device struct {
	// Handle names the session without revealing its token.
	Handle string
	// Current is true for the session of the caller's ctx.
	Current bool
}

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

// EndSessionResult is an ended session: whether it was the caller's own
// (which signs it out) and the remember-me cookie's fate.
type EndSessionResult struct {
	Current  bool
	Remember RememberDecision
}

// EndSession ends the signed-in user's (a's) session with that handle and
// the remember token it came from, and audits session.revoked. Ending the
// caller's own session signs it out, its remember-me cookie deleted too.
// Another user's or an unknown handle is ErrSessionNotFound.
func (s *Service) EndSession(ctx context.Context, a deal.Actor, handle string) (EndSessionResult, error) {
	var res EndSessionResult
	if !validHandle(handle) {
		return res, ErrSessionNotFound
	}
	current := handle == s.Sessions.Current(ctx)
	found, err := s.Sessions.RevokeByHandle(ctx, a.UserID, handle)
	if err != nil {
		return res, WithCause(ErrSessions, err)
	}
	if !found {
		return res, ErrSessionNotFound
	}
	res.Current, res.Remember.Clear = current, current
	s.recordAfter(ctx, a, deal.ActionSessionRevoked, map[string]any{"session": handle, "current": current})
	s.Wake()
	return res, nil
}

// EndOtherSessions ends every session and remember token of the signed-in
// user (a's) but the caller's own, auditing session.revoked for each
// session it ends.
func (s *Service) EndOtherSessions(ctx context.Context, a deal.Actor) error {
	before, err := s.Sessions.Devices(ctx, a.UserID)
	if err != nil {
		return WithCause(ErrSessions, err)
	}
	if _, err := s.Sessions.RevokeOthers(ctx, a.UserID); err != nil {
		return WithCause(ErrSessions, err)
	}
	for _, d := range before {
		if d.Current {
			continue
		}
		s.recordAfter(ctx, a, deal.ActionSessionRevoked, map[string]any{"session": d.Handle, "current": false})
	}
	s.Wake()
	return nil
}

// ChangePasswordInput is a password change by the signed-in user: the
// current password, the new one, and the request's actor (its IP is the
// throttle's).
type ChangePasswordInput struct {
	Current string
	New     string
	Actor   deal.Actor
}

// ChangePassword checks the signed-in user's current password (throttled
// and counted as sign-in attempts are: a *RetryAfterError when throttled),
// stores the new one as an argon2id hash, ends every other session and
// remember token, and audits auth.password_changed.
func (s *Service) ChangePassword(ctx context.Context, in ChangePasswordInput) error {
	current, next := in.Current, in.New
	if current == "" || next == "" {
		return ErrPasswordsNeeded
	}
	u, err := s.Store.FindUserByID(ctx, s.Sessions.UserID(ctx))
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
		return ErrPasswordShort
	}
	ip, email := in.Actor.IP, deal.NormalizeEmail(u.Email)
	if s.Limiter != nil {
		if wait := s.Limiter.Reserve(ctx, email, ip); wait > 0 {
			return &RetryAfterError{Err: deal.Errorf(deal.ERATELIMITED, "Too many failed attempts; try again later."), Seconds: wait}
		}
	}
	_, hash, _, err := s.Store.FindUserForLogin(ctx, u.Email)
	if err != nil {
		s.releaseAttempt(ctx, email, ip)
		return err
	}
	ok, err := s.Hasher.VerifyCtx(ctx, current, hash)
	if err != nil {
		s.releaseAttempt(ctx, email, ip)
		return ErrHashBusy
	}
	if !ok {
		return ErrCurrentPassword // the reserved slot stays: a failure counts
	}
	if s.Limiter != nil {
		s.Limiter.Succeeded(ctx, email, ip)
	}
	newHash, err := s.Hasher.HashCtx(ctx, next)
	if errors.Is(err, auth.ErrBusy) {
		return ErrHashBusy
	} else if err != nil {
		return err
	}
	if err := s.Store.ChangePassword(ctx, u.ID, newHash); err != nil {
		return err
	}
	s.RelayAccess(ctx)
	ended, err := s.Sessions.RevokeOthers(ctx, u.ID)
	if err != nil {
		return WithCause(ErrSessions, err)
	}
	s.recordAfter(ctx, in.Actor, deal.ActionPasswordChanged, map[string]any{"sessions_ended": ended})
	s.Wake()
	return nil
}
