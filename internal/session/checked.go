package session

import (
	"context"
	"encoding/binary"
	"time"

	"github.com/dealctx/dealctx/internal/deal"
	"github.com/dealctx/dealctx/internal/postgres"
)

// keyChecked holds the session's checked state: the access decision on the
// current deal as PostgreSQL made it, with its proof of freshness (the
// generations and the Redis epoch it was made at) and what a response needs
// of the deal, packed in one string (encodeChecked) so the hot path reads
// one value. A session without it (written before it existed) is "not
// checked".
const keyChecked = "chk"

// Checked is an access decision on the session's current deal: the deal as
// the user saw it, the generations read in the same statement, the Redis
// epoch then, and when.
type Checked struct {
	Deal  deal.Deal
	Gens  postgres.Gens
	Epoch uint64
	At    time.Time
}

// encodeChecked packs c: varints of the deal id, the three generations,
// the epoch, the check's and the deal's creation times (Unix nanoseconds),
// then the role's length and the role, then the name.
func encodeChecked(c Checked) string {
	b := make([]byte, 0, 8*binary.MaxVarintLen64+len(c.Deal.Role)+len(c.Deal.Name))
	b = binary.AppendVarint(b, c.Deal.ID)
	b = binary.AppendVarint(b, c.Gens.User)
	b = binary.AppendVarint(b, c.Gens.Deal)
	b = binary.AppendVarint(b, c.Gens.Global)
	b = binary.AppendUvarint(b, c.Epoch)
	b = binary.AppendVarint(b, c.At.UnixNano())
	b = binary.AppendVarint(b, c.Deal.CreatedAt.UnixNano())
	b = binary.AppendUvarint(b, uint64(len(c.Deal.Role)))
	b = append(b, c.Deal.Role...)
	b = append(b, c.Deal.Name...)
	return string(b)
}

// decodeChecked unpacks encodeChecked's string; ok is false when it is
// malformed.
func decodeChecked(s string) (c Checked, ok bool) {
	d := decoder{b: []byte(s)}
	c.Deal.ID = d.varint()
	c.Gens.User = d.varint()
	c.Gens.Deal = d.varint()
	c.Gens.Global = d.varint()
	c.Epoch = d.uvarint()
	c.At = time.Unix(0, d.varint())
	c.Deal.CreatedAt = time.Unix(0, d.varint())
	c.Deal.Role = d.str()
	if d.err != nil {
		return Checked{}, false
	}
	c.Deal.Name = string(d.b)
	return c, true
}

// SetChecked makes c.Deal the current deal and records the decision.
func (m *Manager) SetChecked(ctx context.Context, c Checked) {
	m.SetDeal(ctx, c.Deal.ID)
	m.put(ctx, keyChecked, encodeChecked(c))
}

// Checked returns the recorded decision on the current deal; ok is false
// when there is none for it.
func (m *Manager) Checked(ctx context.Context) (c Checked, ok bool) {
	id := m.DealID(ctx)
	if id == 0 || !loaded(ctx) {
		return Checked{}, false
	}
	c, ok = decodeChecked(m.sm.GetString(ctx, keyChecked))
	if !ok || c.Deal.ID != id {
		return Checked{}, false
	}
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

// RedisDo runs op, a Redis call made on a request's path beside the session
// (the access generations' copies), within the per-request Redis budget and,
// in tiered mode, through the store's circuit breaker: it fails as fast as
// a session read does, and its failures count toward opening the breaker,
// after which CopiesTrusted is false and no request waits on Redis. op must
// call only Redis (see redisDo).
func (m *Manager) RedisDo(ctx context.Context, op func(context.Context) error) error {
	if m.tiered != nil {
		return m.tiered.redisDo(ctx, m.tiered.opts.OpBudget, op)
	}
	ctx, cancel := context.WithTimeout(ctx, defaultOpBudget)
	defer cancel()
	return op(ctx)
}

// BeforeTrust makes the tiered store run f, and succeed, before it trusts
// Redis again after an outage, so that what others wrote to the record
// meanwhile (the access generations' outbox) reaches Redis first. It does
// nothing in other modes.
func (m *Manager) BeforeTrust(f func(context.Context) error) {
	if m.tiered != nil {
		m.tiered.beforeTrust.Store(&f)
	}
}

// OnRedisFailure makes the tiered store call f whenever a Redis operation
// fails, so that copies other packages keep in the same Redis (the access
// generations) are distrusted until they are known to be current. It does
// nothing in other modes.
func (m *Manager) OnRedisFailure(f func()) {
	if m.tiered != nil {
		m.tiered.onFailure.Store(&f)
	}
}

// ReadGenerations makes the Redis store read, with each session that holds a
// user and a deal, the access generation copies of that user and deal and
// the global one (keys userPrefix+id, dealPrefix+id and globalKey) in the
// same pipeline, one round trip, for Generations: from the first read after
// this process wrote the session, else from its second read on this
// process (the first learns which user and deal it holds).
// Without Redis it does nothing. Call it before serving.
func (m *Manager) ReadGenerations(userPrefix, dealPrefix, globalKey string) {
	rs := m.redis
	if m.tiered != nil {
		rs = m.tiered.rs
	}
	if rs == nil {
		return
	}
	rs.gens = &gensKeys{user: userPrefix, deal: dealPrefix, global: globalKey}
}

// Generations returns the generation copies read with this request's
// session (ReadGenerations) for userID and dealID, as the three values of an
// MGET (strings, nil when missing); ok is false when none were read for them.
func (m *Manager) Generations(ctx context.Context, userID, dealID int64) (vals []any, ok bool) {
	c, _ := ctx.Value(idsKey{}).(*ids)
	if c == nil || c.gens == nil || c.gensUser != userID || c.gensDeal != dealID {
		return nil, false
	}
	return c.gens, true
}
