package httpapi

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/dealctx/dealctx/internal/deal"
	"github.com/dealctx/dealctx/internal/postgres"
	"github.com/dealctx/dealctx/internal/session"
)

// This file is all of auto-restore: the middleware, the request's record of
// what it restored, and the restorer that does it.

type restoredKey struct{}

// restoredDeal returns the deal restored into the session during this
// request, if any.
func restoredDeal(ctx context.Context) (deal.Deal, bool) {
	d, ok := ctx.Value(restoredKey{}).(deal.Deal)
	return d, ok
}

// restoreInto restores the signed-in user's deal when auto-restore is on
// and the session has none, and returns r carrying what it restored. The
// restore's statements and the session's record commit in one transaction;
// a failed commit leaves the session as it was and the request goes on.
func (s *server) restoreInto(r *http.Request) (*http.Request, bool) {
	if !s.Config.AutoRestoreDeal || s.Sessions.DealID(r.Context()) != 0 {
		return r, false
	}
	var d deal.Deal
	var ok bool
	err := s.Sessions.InTx(r.Context(), func(ctx context.Context) error {
		d, ok = s.restorer.restore(ctx, s.actor(r))
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

// autoRestore brings a signed-in session's deal back from the database when
// the session lacks it. When the session has a deal it does no I/O at all.
// Failures are logged and the request goes on.
func (s *server) autoRestore(next http.Handler) http.Handler {
	if !s.Config.AutoRestoreDeal {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r, _ = s.restoreInto(r)
		next.ServeHTTP(w, r)
	})
}

// restorer puts a user's last deal back into a session that lacks it.
type restorer struct {
	db       *postgres.DB
	sessions *session.Manager
	logger   *slog.Logger
	metrics  *metrics
	wake     func()
	// epoch and record are the server's copiesEpoch and recordCheck: a
	// restored deal's decision is recorded as a selection's is.
	epoch  func() uint64
	record func(ctx context.Context, userID int64, d deal.Deal, g postgres.Gens, epoch uint64)
}

// restore loads the user's last deal with the access decision (one round
// trip), or, when the user has none, selects the user's only accessible deal.
// It stores the deal in the session (flagged so the deal's page can say it
// was restored) and reports it; errors are logged and counted, never
// returned: a failed restore must not fail the request.
func (rs *restorer) restore(ctx context.Context, a deal.Actor) (deal.Deal, bool) {
	epoch := rs.epoch()
	d, g, outcome, remember, err := rs.db.RestoreLastDealAt(ctx, a)
	if err == nil && outcome == deal.RestoreNone && remember {
		var ok bool
		d, ok, err = rs.db.FindOnlyDeal(ctx, a.UserID)
		if err == nil && ok {
			d, g, err = rs.db.SelectDealAt(ctx, a, d.ID, deal.ActionDealRestored)
			outcome = deal.RestoreRestored
		}
	}
	if err != nil {
		outcome = deal.RestoreError
		if deal.ErrorCode(err) == deal.ENOTFOUND {
			outcome = deal.RestoreNone
		} else {
			rs.logger.WarnContext(ctx, "auto-restore failed", "user_id", a.UserID, "err", err)
		}
	}
	rs.metrics.restoreOutcome(outcome)
	switch outcome {
	case deal.RestoreRestored:
		rs.sessions.SetDeal(ctx, d.ID)
		rs.record(ctx, a.UserID, d, g, epoch)
		rs.sessions.FlashRestored(ctx, d.ID)
		rs.logger.InfoContext(ctx, "auto-restored deal", "user_id", a.UserID, "deal_id", d.ID)
		rs.wake()
		return d, true
	case deal.RestoreDenied, deal.RestoreDeleted:
		rs.sessions.FlagDealGone(ctx)
		rs.logger.InfoContext(ctx, "auto-restore denied; last deal cleared", "user_id", a.UserID, "reason", outcome)
		rs.wake()
	}
	return deal.Deal{}, false
}
