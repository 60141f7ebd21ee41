package session

import (
	"context"
	"time"

	"github.com/dealctx/dealctx/internal/deal"
	"github.com/dealctx/dealctx/internal/postgres"
)

// Keys of the session's checked state: the access decision on the current
// deal as PostgreSQL made it, with its proof of freshness (the generations
// and the Redis epoch it was made at) and what a response needs of the deal.
// A session without them (written before they existed) is "not checked".
const (
	keyChkDeal      = "chk_deal"
	keyChkName      = "chk_name"
	keyChkRole      = "chk_role"
	keyChkCreated   = "chk_created"
	keyChkUserGen   = "chk_ugen"
	keyChkDealGen   = "chk_dgen"
	keyChkGlobalGen = "chk_ggen"
	keyChkEpoch     = "chk_epoch"
	keyChkAt        = "chk_at"
)

// Checked is an access decision on the session's current deal: the deal as
// the user saw it, the generations read in the same statement, the Redis
// epoch then, and when.
type Checked struct {
	Deal  deal.Deal
	Gens  postgres.Gens
	Epoch uint64
	At    time.Time
}

// SetChecked makes c.Deal the current deal and records the decision.
func (m *Manager) SetChecked(ctx context.Context, c Checked) {
	m.SetDeal(ctx, c.Deal.ID)
	m.put(ctx, keyChkDeal, c.Deal.ID)
	m.put(ctx, keyChkName, c.Deal.Name)
	m.put(ctx, keyChkRole, c.Deal.Role)
	m.put(ctx, keyChkCreated, c.Deal.CreatedAt.UnixNano())
	m.put(ctx, keyChkUserGen, c.Gens.User)
	m.put(ctx, keyChkDealGen, c.Gens.Deal)
	m.put(ctx, keyChkGlobalGen, c.Gens.Global)
	m.put(ctx, keyChkEpoch, int64(c.Epoch))
	m.put(ctx, keyChkAt, c.At.UnixNano())
}

// Checked returns the recorded decision on the current deal; ok is false
// when there is none for it.
func (m *Manager) Checked(ctx context.Context) (c Checked, ok bool) {
	id := m.DealID(ctx)
	if id == 0 || !loaded(ctx) || m.sm.GetInt64(ctx, keyChkDeal) != id {
		return Checked{}, false
	}
	at := m.sm.GetInt64(ctx, keyChkAt)
	if at == 0 {
		return Checked{}, false
	}
	c.Deal = deal.Deal{
		ID:        id,
		Name:      m.sm.GetString(ctx, keyChkName),
		Role:      m.sm.GetString(ctx, keyChkRole),
		CreatedAt: time.Unix(0, m.sm.GetInt64(ctx, keyChkCreated)),
	}
	c.Gens = postgres.Gens{
		User:   m.sm.GetInt64(ctx, keyChkUserGen),
		Deal:   m.sm.GetInt64(ctx, keyChkDealGen),
		Global: m.sm.GetInt64(ctx, keyChkGlobalGen),
	}
	c.Epoch = uint64(m.sm.GetInt64(ctx, keyChkEpoch))
	c.At = time.Unix(0, at)
	return c, true
}

// CopiesTrusted reports whether Redis may vouch for a checked decision: the
// store keeps sessions in Redis and (tiered) trusts it now, with nothing
// left to replay. Otherwise every check asks PostgreSQL, as before.
func (m *Manager) CopiesTrusted() bool {
	switch {
	case m.tiered != nil:
		return m.tiered.Trusted()
	case m.redis != nil:
		return true
	}
	return false
}
