package web

import (
	"context"
	"net/http"

	"github.com/dealctx/dealctx/internal/deal"
)

// This file is auto-restore's HTTP part: the middleware and the request's
// record of what it restored. The restore itself is app.Restorer's.

type restoredKey struct{}

// RestoredDeal returns the deal restored into the session during this
// request, if any.
func RestoredDeal(ctx context.Context) (deal.Deal, bool) {
	d, ok := ctx.Value(restoredKey{}).(deal.Deal)
	return d, ok
}

// restoreInto restores the signed-in user's deal when auto-restore is on
// and the session has none, and returns r carrying what it restored. The
// restore's statements and the session's record commit in one transaction;
// a failed commit leaves the session as it was and the request goes on.
func (s *Server) restoreInto(r *http.Request) (*http.Request, bool) {
	if !s.Config.AutoRestoreDeal || s.Sessions.DealID(r.Context()) != 0 {
		return r, false
	}
	var d deal.Deal
	var ok bool
	err := s.Sessions.InTx(r.Context(), func(ctx context.Context) error {
		d, ok = s.restorer.Restore(ctx, s.Actor(r))
		return nil
	})
	if err != nil {
		s.Logger.WarnContext(r.Context(), "auto-restore not committed", "err", err)
		return r, false
	}
	return withRestored(r, d, ok)
}

// withRestored returns r carrying the deal restored during it, if ok.
func withRestored(r *http.Request, d deal.Deal, ok bool) (*http.Request, bool) {
	if !ok {
		return r, false
	}
	return r.WithContext(context.WithValue(r.Context(), restoredKey{}, d)), true
}

// AutoRestore brings a signed-in session's deal back from the database when
// the session lacks it. When the session has a deal it does no I/O at all.
// Failures are logged and the request goes on.
func (s *Server) AutoRestore(next http.Handler) http.Handler {
	if !s.Config.AutoRestoreDeal {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r, _ = s.restoreInto(r)
		next.ServeHTTP(w, r)
	})
}
