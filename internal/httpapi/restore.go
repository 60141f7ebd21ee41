package httpapi

import (
	"context"
	"log/slog"

	"github.com/dealctx/dealctx/internal/deal"
	"github.com/dealctx/dealctx/internal/postgres"
	"github.com/dealctx/dealctx/internal/session"
)

// restorer puts a user's last deal back into a session that lacks it.
type restorer struct {
	db       *postgres.DB
	sessions *session.Manager
	logger   *slog.Logger
	metrics  *metrics
	wake     func()
}

// restore loads the user's last deal with the access decision (one round
// trip), or, when the user has none, selects the user's only accessible deal.
// It stores the deal in the session and reports it; errors are logged and
// counted, never returned: a failed restore must not fail the request.
func (rs *restorer) restore(ctx context.Context, a deal.Actor) (deal.Deal, bool) {
	d, outcome, remember, err := rs.db.RestoreLastDeal(ctx, a)
	if err == nil && outcome == deal.RestoreNone && remember {
		var ok bool
		d, ok, err = rs.db.FindOnlyDeal(ctx, a.UserID)
		if err == nil && ok {
			d, err = rs.db.SelectDeal(ctx, a, d.ID, deal.ActionDealRestored)
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
