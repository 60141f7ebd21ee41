package httpapi

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

// copiesEpoch returns the Redis epoch when this process may trust the Redis
// copies of the generations, else 0: no copies (postgres store), no epoch
// yet, Redis not trusted by the session store (breaker, replay pending), or
// a bump this process committed has not reached Redis.
func (s *server) copiesEpoch() uint64 {
	if s.Access == nil || s.Epoch == nil || !s.Sessions.CopiesTrusted() || s.Access.Behind() {
		return 0
	}
	return s.Epoch()
}

// checkedDeal returns the session's current deal without asking PostgreSQL
// when the session's recorded decision still holds.
func (s *server) checkedDeal(ctx context.Context, userID, dealID int64, epoch uint64) (deal.Deal, bool) {
	if epoch == 0 {
		return deal.Deal{}, false
	}
	c, ok := s.Sessions.Checked(ctx)
	if !ok || c.Deal.ID != dealID || c.Epoch != epoch {
		return deal.Deal{}, false
	}
	if age := time.Since(c.At); age < 0 || age >= access.SessionMaxAge {
		return deal.Deal{}, false
	}
	var g postgres.Gens
	var known bool
	err := s.Sessions.RedisDo(ctx, func(ctx context.Context) (err error) {
		g, known, err = s.Access.Read(ctx, userID, dealID)
		return err
	})
	if err != nil {
		// Redis failed: a bump committed meanwhile may be missing from it.
		// The copies are trusted again after the next relay lands.
		s.Access.MarkBehind()
		return deal.Deal{}, false
	}
	if !known || g != c.Gens {
		return deal.Deal{}, false
	}
	return c.Deal, true
}

// recordCheck makes d the session's current deal after PostgreSQL decided
// access at generations g, with the epoch read before the decision; when the
// copies can vouch for it later, the decision is recorded and the copies
// refilled (set-if-greater: a copy never moves back).
func (s *server) recordCheck(ctx context.Context, userID int64, d deal.Deal, g postgres.Gens, epoch uint64) {
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
func (s *server) relayAccess(ctx context.Context) {
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
