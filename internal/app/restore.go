package app

import (
	"context"
	"log/slog"

	"github.com/dealctx/dealctx/internal/deal"
)

// RestoreStore is what restoring reads and writes in PostgreSQL;
// *postgres.DB provides it with G = postgres.Gens, the access generations
// read with the decision (app passes them to Record untouched).
type RestoreStore[G any] interface {
	RestoreLastDealAt(ctx context.Context, a deal.Actor) (d deal.Deal, g G, outcome string, remember bool, err error)
	FindOnlyDeal(ctx context.Context, userID int64) (d deal.Deal, ok bool, err error)
	SelectDealAt(ctx context.Context, a deal.Actor, dealID int64, action string) (deal.Deal, G, error)
}

// RestoreSessions is the session record a restore writes; *session.Manager
// provides it.
type RestoreSessions interface {
	SetDeal(ctx context.Context, dealID int64)
	FlashRestored(ctx context.Context, dealID int64)
	FlagDealGone(ctx context.Context)
}

// Restorer puts a user's last deal back into a session that lacks it.
type Restorer[G any] struct {
	Store    RestoreStore[G]
	Sessions RestoreSessions
	Logger   *slog.Logger
	// Outcome counts each restore's outcome (deal.RestoreRestored, ...).
	Outcome func(outcome string)
	// Wake is called after audit events were recorded; it must not block.
	Wake func()
	// Epoch and Record are the access check's: the epoch read before the
	// decision, and the recording of a restored deal's decision as a
	// selection's is.
	Epoch  func() uint64
	Record func(ctx context.Context, userID int64, d deal.Deal, g G, epoch uint64)
}

// Restore loads the user's last deal with the access decision (one round
// trip), or, when the user has none, selects the user's only accessible deal.
// It stores the deal in the session (flagged so the deal's page can say it
// was restored) and reports it; errors are logged and counted, never
// returned: a failed restore must not fail the caller.
func (rs *Restorer[G]) Restore(ctx context.Context, a deal.Actor) (deal.Deal, bool) {
	epoch := rs.Epoch()
	d, g, outcome, remember, err := rs.Store.RestoreLastDealAt(ctx, a)
	if err == nil && outcome == deal.RestoreNone && remember {
		var ok bool
		d, ok, err = rs.Store.FindOnlyDeal(ctx, a.UserID)
		if err == nil && ok {
			d, g, err = rs.Store.SelectDealAt(ctx, a, d.ID, deal.ActionDealRestored)
			outcome = deal.RestoreRestored
		}
	}
	if err != nil {
		outcome = deal.RestoreError
		if deal.ErrorCode(err) == deal.ENOTFOUND {
			outcome = deal.RestoreNone
		} else {
			rs.Logger.WarnContext(ctx, "auto-restore failed", "user_id", a.UserID, "err", err)
		}
	}
	rs.Outcome(outcome)
	switch outcome {
	case deal.RestoreRestored:
		rs.Sessions.SetDeal(ctx, d.ID)
		rs.Record(ctx, a.UserID, d, g, epoch)
		rs.Sessions.FlashRestored(ctx, d.ID)
		rs.Logger.InfoContext(ctx, "auto-restored deal", "user_id", a.UserID, "deal_id", d.ID)
		rs.Wake()
		return d, true
	case deal.RestoreDenied, deal.RestoreDeleted:
		rs.Sessions.FlagDealGone(ctx)
		rs.Logger.InfoContext(ctx, "auto-restore denied; last deal cleared", "user_id", a.UserID, "reason", outcome)
		rs.Wake()
	}
	return deal.Deal{}, false
}
