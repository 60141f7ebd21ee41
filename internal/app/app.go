// Package app is dealctx's use cases: signing in and out, the remember-me
// token's decisions, changing the password, ending sessions, restoring the
// last deal and creating a deal. It speaks in values (inputs, results and
// the deal package's errors) and imports no net/http: the HTTP layer
// (internal/httpapi) decodes requests, calls these functions, and turns
// what they return into statuses, cookies and headers such as Retry-After,
// for the JSON API and the pages alike.
//
// The service reaches its stores through the small interfaces below, which
// *postgres.DB and an adapter over *session.Manager satisfy; neither
// concrete type is named here, as both bring net/http with them.
package app

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/dealctx/dealctx/internal/auth"
	"github.com/dealctx/dealctx/internal/deal"
)

var (
	// ErrSessions answers a session store failure.
	ErrSessions = deal.Errorf(deal.EUNAVAILABLE, "Sessions are briefly unavailable; try again in a moment.")
	// ErrHashBusy answers a password check or hash that found no hashing
	// slot within its wait (auth.ErrBusy).
	ErrHashBusy = deal.Errorf(deal.EUNAVAILABLE, "Too many sign-ins at once; try again in a moment.")
)

// causedError is a caller-safe domain error with the cause behind it kept
// for the log.
type causedError struct {
	public *deal.Error
	cause  error
}

func (e *causedError) Error() string   { return e.public.Error() + ": " + e.cause.Error() }
func (e *causedError) Unwrap() []error { return []error{e.public, e.cause} }

// WithCause returns public, carrying cause for the log line only.
func WithCause(public *deal.Error, cause error) error {
	return &causedError{public: public, cause: cause}
}

// RetryAfterError is a refusal that may be tried again after Seconds: the
// HTTP layer answers it with a Retry-After header. Its code and message are
// Err's.
type RetryAfterError struct {
	Err     *deal.Error
	Seconds int
}

func (e *RetryAfterError) Error() string { return e.Err.Error() }
func (e *RetryAfterError) Unwrap() error { return e.Err }

// RetryAfter returns the seconds err asks the caller to wait, if it does.
func RetryAfter(err error) (int, bool) {
	var e *RetryAfterError
	if errors.As(err, &e) {
		return e.Seconds, true
	}
	return 0, false
}

// Store is what the use cases read and write in PostgreSQL; *postgres.DB
// provides it.
type Store interface {
	FindUserForLogin(ctx context.Context, email string) (u deal.User, hash string, found bool, err error)
	FindUserByID(ctx context.Context, id int64) (deal.User, error)
	RecordEvent(ctx context.Context, a deal.Actor, action string, dealID, targetID int64, details map[string]any) error
	CreateRememberToken(ctx context.Context, userID int64, t auth.RememberToken, expires time.Time) error
	RevokeRememberToken(ctx context.Context, selector string) error
	ChangePassword(ctx context.Context, userID int64, passwordHash string) error
	CreateDeal(ctx context.Context, a deal.Actor, name string) (deal.Deal, error)
}

// Sessions is the request's session (carried by ctx) and the user's other
// sessions; httpapi adapts *session.Manager to it.
type Sessions interface {
	// UserID is the session's signed-in user, 0 when signed out.
	UserID(ctx context.Context) int64
	// SignInAt renews the session token and signs userID in, recording
	// the client's address.
	SignInAt(ctx context.Context, userID int64, ip string) error
	// BindRememberToken records the remember token a password sign-in
	// created for this device.
	BindRememberToken(ctx context.Context, selector string)
	// Destroy ends the session.
	Destroy(ctx context.Context) error
	// Current is the session's handle.
	Current(ctx context.Context) string
	// Devices are the user's live sessions, the caller's marked current.
	Devices(ctx context.Context, userID int64) ([]Device, error)
	// RevokeByHandle ends the user's session with that handle, and its
	// remember token, reporting whether it was one of the user's.
	RevokeByHandle(ctx context.Context, userID int64, handle string) (found bool, err error)
	// RevokeOthers ends every session and remember token of the user but
	// the caller's own, returning how many sessions it ended.
	RevokeOthers(ctx context.Context, userID int64) (int, error)
}

// LoginLimiter throttles failed sign-ins per account and per client IP,
// reserving a slot before the password is checked.
type LoginLimiter interface {
	// Reserve takes a slot for one attempt and returns zero, or how long
	// the caller must wait (having taken nothing). A failed attempt keeps
	// its slot.
	Reserve(ctx context.Context, email, ip string) (retryAfterSeconds int)
	// Succeeded resets the account's count and gives the IP's slot back.
	Succeeded(ctx context.Context, email, ip string)
	// Release gives both slots back: the password was never checked.
	Release(ctx context.Context, email, ip string)
}

// Deps are the service's dependencies. The funcs may be nil (they then do
// nothing, and Restore restores nothing).
type Deps struct {
	Store    Store
	Sessions Sessions
	Hasher   *auth.Hasher
	// Limiter throttles failed sign-ins; nil means no throttling.
	Limiter LoginLimiter
	Logger  *slog.Logger
	// RememberDuration is a remember-me token's lifetime.
	RememberDuration time.Duration
	// AutoRestoreDeal restores the user's deal at sign-in.
	AutoRestoreDeal bool
	// Wake is called after audit events were recorded; it must not block.
	Wake func()
	// Restore puts the user's last deal back into the session and reports
	// it; it never fails the caller.
	Restore func(ctx context.Context, a deal.Actor) (deal.Deal, bool)
	// NoteSignIn counts a sign-in, and whether it restored a deal.
	NoteSignIn func(ctx context.Context, restored bool)
	// RelayAccess lands the access generations a revoking use case just
	// committed before the caller answers.
	RelayAccess func(ctx context.Context)
}

// Service runs the use cases.
type Service struct {
	Deps
}

// New returns the service over d.
func New(d Deps) *Service {
	if d.Wake == nil {
		d.Wake = func() {}
	}
	if d.Restore == nil {
		d.Restore = func(context.Context, deal.Actor) (deal.Deal, bool) { return deal.Deal{}, false }
	}
	if d.NoteSignIn == nil {
		d.NoteSignIn = func(context.Context, bool) {}
	}
	if d.RelayAccess == nil {
		d.RelayAccess = func(context.Context) {}
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{Deps: d}
}

// recordAfter audits an action that has already happened (a sign-out, an
// ended session, a changed password): the action stands whether or not its
// event can be written, so a failure is logged at warn and the use case
// goes on. The caller wakes the worker once it has recorded everything.
func (s *Service) recordAfter(ctx context.Context, a deal.Actor, action string, details map[string]any) {
	if err := s.Store.RecordEvent(ctx, a, action, 0, 0, details); err != nil {
		s.Logger.WarnContext(ctx, "audit of a completed action failed", "action", action, "err", err)
	}
}

// releaseAttempt gives back the throttle slots of an attempt whose password
// was never checked: no hashing slot, or the database did not answer.
func (s *Service) releaseAttempt(ctx context.Context, email, ip string) {
	if s.Limiter != nil {
		s.Limiter.Release(ctx, email, ip)
	}
}
