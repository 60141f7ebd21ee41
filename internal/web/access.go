package web

import (
	"context"
	"time"

	"github.com/dealctx/dealctx/internal/access"
	"github.com/dealctx/dealctx/internal/deal"
	"github.com/dealctx/dealctx/internal/postgres"
	"github.com/dealctx/dealctx/internal/session"
)

// This file is the current deal's access check with its proof of freshness
// (issue #24): a decision PostgreSQL made is served again from the session
// while the generations it was made at still match their Redis copies, the
// Redis epoch is unchanged; the copies live access.MaxAge after the read
// that wrote them, so every decision is re-asked at least once a minute
// (without rewriting the session when nothing changed). Anything missing or
// doubtful asks PostgreSQL, as every request did before.

// CopiesEpoch returns the Redis epoch when this process may trust the Redis
// copies of the generations, else 0: no copies (postgres store), no epoch
// yet, Redis not trusted by the session store (breaker, replay pending), or
// a bump this process committed has not reached Redis.
func (s *Server) CopiesEpoch() uint64 {
	if s.Access == nil || s.Epoch == nil || !s.Sessions.CopiesTrusted() || s.Access.Behind() {
		return 0
	}
	return s.Epoch()
}

// checkedDeal returns the session's current deal without asking PostgreSQL
// when the session's recorded decision still holds, and counts why not when
// it does not.
func (s *Server) checkedDeal(ctx context.Context, userID, dealID int64, epoch uint64) (deal.Deal, bool) {
	d, why := s.checkDecision(ctx, userID, dealID, epoch)
	s.Metrics.checks[why].Inc()
	return d, why == checkServed
}

// checkDecision is checkedDeal's decision: checkServed with the session's
// deal, or the reason PostgreSQL must be asked.
func (s *Server) checkDecision(ctx context.Context, userID, dealID int64, epoch uint64) (deal.Deal, checkReason) {
	if epoch == 0 {
		return deal.Deal{}, checkUntrusted
	}
	c, ok := s.Sessions.Checked(ctx)
	if !ok || c.Deal.ID != dealID || c.Epoch != epoch {
		return deal.Deal{}, checkUnrecorded
	}
	if age := time.Since(c.At); age < 0 || age >= access.SessionMaxAge {
		return deal.Deal{}, checkUnrecorded
	}
	var g postgres.Gens
	var known bool
	var err error
	if vals, ok := s.Sessions.Generations(ctx, userID, dealID); ok {
		// Read with the session, in its round trip.
		g, known, err = access.Parse(vals)
	} else {
		err = s.Sessions.RedisDo(ctx, func(ctx context.Context) (err error) {
			g, known, err = s.Access.Read(ctx, userID, dealID)
			return err
		})
	}
	switch {
	case err != nil:
		// Redis failed: a bump committed meanwhile may be missing from it.
		// The copies are trusted again after the next relay lands.
		s.Access.MarkBehind()
		return deal.Deal{}, checkUntrusted
	case !known:
		return deal.Deal{}, checkUnknown
	case g != c.Gens:
		return deal.Deal{}, checkChanged
	}
	s.Access.Served(userID, dealID, g)
	return c.Deal, checkServed
}

// checkReason is how a read of the current deal was decided: from the
// session's recorded decision, or by PostgreSQL and why.
type checkReason int

const (
	// checkServed: the recorded decision held (no PostgreSQL).
	checkServed checkReason = iota
	// checkUntrusted: this process trusts no copy (no epoch, Redis
	// failing or behind a relay).
	checkUntrusted
	// checkUnrecorded: the session records no decision for this deal at
	// this epoch, or one past access.SessionMaxAge.
	checkUnrecorded
	// checkUnknown: a generation copy is missing (expired after
	// access.MaxAge, evicted or deleted).
	checkUnknown
	// checkChanged: a generation moved since the decision.
	checkChanged
	checkReasons
)

// checkReasonLabels are the "by" label values of dealctx_current_deal_checks_total.
var checkReasonLabels = [checkReasons]string{"session", "postgres_untrusted", "postgres_unrecorded", "postgres_unknown", "postgres_changed"}

// RecordCheck makes d the session's current deal after PostgreSQL decided
// access at generations g, with the epoch read before the decision; when the
// copies can vouch for it later, the decision is recorded and the copies
// refilled (set-if-greater: a copy never moves back).
func (s *Server) RecordCheck(ctx context.Context, userID int64, d deal.Deal, g postgres.Gens, epoch uint64) {
	if epoch == 0 {
		if s.Sessions.DealID(ctx) != d.ID {
			s.Sessions.SetDeal(ctx, d.ID)
		}
		return
	}
	if c, ok := s.Sessions.Checked(ctx); !ok || !sameDeal(c.Deal, d) || c.Gens != g || c.Epoch != epoch || time.Since(c.At) >= access.SessionMaxAge/2 {
		s.Sessions.SetChecked(ctx, session.Checked{Deal: d, Gens: g, Epoch: epoch, At: time.Now()})
	}
	if err := s.Sessions.RedisDo(ctx, func(ctx context.Context) error { return s.Access.Refill(ctx, userID, d.ID, g) }); err != nil {
		// The copies stay unknown: the next request asks PostgreSQL again.
		s.Logger.DebugContext(ctx, "access: generations not refilled", "err", err)
	}
}

// relayBudget bounds relayAccess: two short PostgreSQL statements and one
// Redis pipeline.
const relayBudget = 500 * time.Millisecond

// relayAccess lands the generations a revoking request just committed in
// Redis, before the request is answered. When it cannot, the outbox keeps
// them for the relay loop, and until then this process trusts no copy.
func (s *Server) relayAccess(ctx context.Context) {
	if s.Access == nil {
		return
	}
	// Bounded like any Redis call on a request's path; the relay loop
	// retries whatever this one could not land.
	ctx, cancel := context.WithTimeout(ctx, relayBudget)
	defer cancel()
	if err := s.Access.Relay(ctx); err != nil {
		s.Logger.WarnContext(ctx, "access: generations not relayed to redis; the relay loop will", "err", err)
	}
}

// sameDeal reports whether a and b show the same Deal.
func sameDeal(a, b deal.Deal) bool {
	return a.ID == b.ID && a.Name == b.Name && a.Role == b.Role && a.CreatedAt.Equal(b.CreatedAt)
}
