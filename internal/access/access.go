// Package access keeps the Redis copies of the access generations
// (migration 00007) and relays the outbox that carries them there.
//
// PostgreSQL is the record: every change that can take access away bumps the
// user's, the deal's or the global generation inside its own transaction and
// queues the new value in access_outbox. Redis holds copies, written only by
// a set-if-greater script, so a copy that went backwards (a late write, a
// restored snapshot) heals to the record. A missing copy means "unknown",
// never 0: whoever reads one must ask PostgreSQL, and refills it from what it
// read there.
//
// All three keys of a check share the hash tag {access}: on a Redis Cluster
// they live in one slot, so one MGET reads them. The session store reads
// them in the same pipeline as the session (session.Manager.ReadGenerations).
package access

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dealctx/dealctx/internal/deal"
	"github.com/dealctx/dealctx/internal/postgres"
	"github.com/redis/go-redis/v9"
)

// MaxAge is the longest a copy lives after the PostgreSQL read (or the
// outbox row) that gave or confirmed its value: the last safety net. A
// decision is served without PostgreSQL only while its copies exist, and
// the copies of decisions in use are kept alive only by re-asking those
// decisions in PostgreSQL (Recheck, every RecheckEvery), so even a bump
// lost outright, or an edit that bumped nothing, is seen within MaxAge.
// Sessions are not rewritten by it.
const MaxAge = 60 * time.Second

// SessionMaxAge bounds how long a session's recorded decision is served at
// all, however its copies are refilled: one session write per session per
// hour.
const SessionMaxAge = time.Hour

// outboxMaxAge bounds the age of a queued generation no process could
// apply: past MaxAge every decision it would have ended was re-checked in
// PostgreSQL, and each re-check refilled the copy.
const outboxMaxAge = 10 * time.Minute

// keyTTL is how long a copy lives after it was written with a new value;
// an expired copy is unknown, which costs one re-check and a refill.
const keyTTL = MaxAge

// relayBatch is how many queued generations one relay step applies.
const relayBatch = 500

// setIfGreater writes ARGV[1] to KEYS[1] when the key is missing or holds
// less, and returns 1 when it wrote. A copy that already holds ARGV[1] was
// just proven current by the read that brought ARGV[1]: it lives ARGV[2]
// seconds more. (Without that, the global generation's one key, which every
// check refills, expired for everyone at once each MaxAge, doubling the
// re-checks.) A copy holding more is left as it is.
var setIfGreater = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur and tonumber(cur) then
  if tonumber(cur) > tonumber(ARGV[1]) then return 0 end
  if tonumber(cur) == tonumber(ARGV[1]) then redis.call('EXPIRE', KEYS[1], ARGV[2]) return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return 1`)

// Copies are the Redis copies of the access generations for one Redis and
// key prefix.
type Copies struct {
	rdb    redis.UniversalClient
	prefix string
	global string // the global generation's key, built once
	db     *postgres.DB
	log    *slog.Logger
	// behind is set when this process committed a bump it could not write
	// to Redis, until a relay applies the whole outbox: meanwhile its own
	// requests do not trust the copies.
	behind atomic.Bool

	// served are the decisions served from sessions since their slot was
	// last re-checked, with the generations they were served at, spread
	// over recheckSlots by slotOf.
	served [recheckSlots]servedSlot
}

// servedSlot is one slot's decisions under a lock of its own, so requests
// noting decisions in different slots do not wait for each other.
type servedSlot struct {
	mu sync.Mutex
	m  map[postgres.AccessPair]postgres.Gens
}

// New returns the copies kept in rdb under prefix, relayed from db's outbox.
func New(rdb redis.UniversalClient, prefix string, db *postgres.DB, logger *slog.Logger) *Copies {
	if logger == nil {
		logger = slog.Default()
	}
	c := &Copies{rdb: rdb, prefix: prefix + "{access}:gen:", db: db, log: logger}
	c.global = c.prefix + "g"
	return c
}

// Key is the Redis key of one generation: kind is postgres.GenUser,
// GenDeal or GenGlobal, id the user's or deal's (ignored for the global one).
func (c *Copies) Key(kind byte, id int64) string {
	if kind == postgres.GenGlobal {
		return c.global
	}
	return c.kindPrefix(kind) + strconv.FormatInt(id, 10)
}

// kindPrefix is what the keys of one kind of generation start with.
func (c *Copies) kindPrefix(kind byte) string { return c.prefix + string(kind) + ":" }

// KeyPrefixes are what a user's and a deal's generation keys start with
// (the id follows) and the global generation's key: for the session store,
// which reads them with each session (session.Manager.ReadGenerations).
func (c *Copies) KeyPrefixes() (user, deal, global string) {
	return c.kindPrefix(postgres.GenUser), c.kindPrefix(postgres.GenDeal), c.global
}

// Keys are the keys of a check of userID on dealID, in the order Read
// returns them: user, deal, global.
func (c *Copies) Keys(userID, dealID int64) [3]string {
	return [3]string{c.Key(postgres.GenUser, userID), c.Key(postgres.GenDeal, dealID), c.Key(postgres.GenGlobal, 0)}
}

// Behind reports whether this process committed a bump that has not reached
// Redis yet, or failed to reach Redis since its last relay; while it has,
// the copies must not be trusted here.
func (c *Copies) Behind() bool { return c.behind.Load() }

// MarkBehind distrusts the copies until the next relay succeeds: a Redis
// call failed, so bumps committed meanwhile (by any process) may be missing
// from Redis.
func (c *Copies) MarkBehind() { c.behind.Store(true) }

// Read returns the copies for a check of userID on dealID in one round trip;
// ok is false when any of them is missing (unknown).
func (c *Copies) Read(ctx context.Context, userID, dealID int64) (g postgres.Gens, ok bool, err error) {
	k := c.Keys(userID, dealID)
	vals, err := c.rdb.MGet(ctx, k[0], k[1], k[2]).Result()
	if err != nil {
		return postgres.Gens{}, false, err
	}
	return Parse(vals)
}

// Parse reads the three values of an MGET of Keys (strings or nil); ok is
// false when any is missing.
func Parse(vals []any) (g postgres.Gens, ok bool, err error) {
	if len(vals) != 3 {
		return postgres.Gens{}, false, errors.New("access: want three generations")
	}
	var out [3]int64
	for i, v := range vals {
		s, isStr := v.(string)
		if !isStr {
			return postgres.Gens{}, false, nil
		}
		if out[i], err = strconv.ParseInt(s, 10, 64); err != nil {
			return postgres.Gens{}, false, err
		}
	}
	return postgres.Gens{User: out[0], Deal: out[1], Global: out[2]}, true, nil
}

// Refill writes the generations a check read in PostgreSQL, set-if-greater,
// in one pipeline.
func (c *Copies) Refill(ctx context.Context, userID, dealID int64, g postgres.Gens) error {
	k := c.Keys(userID, dealID)
	_, err := c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, gen := range [3]int64{g.User, g.Deal, g.Global} {
			c.set(ctx, p, k[i], gen)
		}
		return nil
	})
	return err
}

func (c *Copies) set(ctx context.Context, p redis.Pipeliner, key string, gen int64) {
	// Queued (EVAL: a pipeline cannot retry NOSCRIPT); Pipelined
	// reports the results.
	_ = setIfGreater.Eval(ctx, p, []string{key}, gen, int64(keyTTL/time.Second))
}

// refresh writes the generations a re-check confirmed (key → generation),
// as set does, in two round trips instead of one script per key: nearly
// every copy already holds its value, and Redis answers a GET and an EXPIRE
// in about a microsecond each where the script costs it ten. A re-check of
// a few hundred decisions every tick would otherwise occupy Redis for
// milliseconds at a time, which the hot path's requests waiting on it feel
// in their tail latency. A copy that agrees lives keyTTL more; a newer one
// is left as it is; a missing, older or unreadable one goes through the
// script. A copy raised between the GET and the EXPIRE gets the life its
// own write gave it.
func (c *Copies) refresh(ctx context.Context, fresh map[string]int64) error {
	keys := make([]string, 0, len(fresh))
	gets := make([]*redis.StringCmd, 0, len(fresh))
	_, err := c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for k := range fresh {
			keys = append(keys, k)
			gets = append(gets, p.Get(ctx, k))
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) { // a missing copy is an answer
		return err
	}
	_, err = c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			cur, err := gets[i].Int64()
			switch {
			case err == nil && cur == fresh[k]:
				p.Expire(ctx, k, keyTTL)
			case err == nil && cur > fresh[k]:
				// Newer than this re-check's read: left as it is.
			default:
				c.set(ctx, p, k, fresh[k])
			}
		}
		return nil
	})
	return err
}

// Relay applies the queued generations to Redis (set-if-greater) and deletes
// what it applied. Called after a revoking commit and on every tick of the
// background loop. On failure this process stays Behind until a relay
// succeeds.
func (c *Copies) Relay(ctx context.Context) error {
	err := c.relay(ctx)
	if err != nil {
		c.behind.Store(true)
		return err
	}
	c.behind.Store(false)
	return nil
}

func (c *Copies) relay(ctx context.Context) error {
	for {
		batch, err := c.db.PendingAccessBumps(ctx, relayBatch)
		if err != nil {
			return err
		}
		if len(batch) == 0 {
			// Nothing to land, but a relay vouches that Redis answers:
			// Behind is cleared only by a Redis that was reached.
			return c.rdb.Ping(ctx).Err()
		}
		_, err = c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, b := range batch {
				c.set(ctx, p, c.Key(b.Kind, b.KeyID), b.Gen)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if err := c.db.DeleteAccessBumps(ctx, batch); err != nil {
			return err
		}
		if len(batch) < relayBatch {
			return nil
		}
	}
}

// Run relays the outbox every tick until ctx ends, and drops queued
// generations too old to matter (outboxMaxAge) about once a minute.
func (c *Copies) Run(ctx context.Context, tick time.Duration) {
	t := time.NewTicker(tick)
	defer t.Stop()
	done := 0 // re-check slots taken so far
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		step, cancel := context.WithTimeout(ctx, time.Second)
		if err := c.Relay(step); err != nil && ctx.Err() == nil {
			c.log.Debug("access: relay of generations incomplete", "err", err)
		}
		if n%120 == 0 {
			if _, err := c.db.DeleteAccessBumpsOlderThan(step, outboxMaxAge); err != nil && ctx.Err() == nil {
				c.log.Debug("access: old generations not dropped", "err", err)
			}
		}
		cancel()
		var slots []int
		if slots, done = dueSlots(n, tick, done); len(slots) > 0 {
			step, cancel := context.WithTimeout(ctx, RecheckEvery/2)
			if err := c.recheck(step, slots...); err != nil && ctx.Err() == nil {
				// The copies then expire and each request re-checks itself.
				c.log.Warn("access: background re-check failed", "err", err)
			}
			cancel()
		}
	}
}

// RecheckEvery is how soon a process re-asks PostgreSQL, in batches, every
// decision it served from sessions (Served; Run goes through a
// recheckSlots-th of them at a time): well within MaxAge, so the copies of
// decisions in use never expire under them and a busy process costs
// PostgreSQL recheckSlots statements per RecheckEvery instead of one query
// per session per minute.
const RecheckEvery = MaxAge / 4

// recheckBatch is how many decisions one re-check statement decides.
const recheckBatch = 5000

// recheckSlots is how many parts the decisions served are re-checked in,
// one part every RecheckEvery/recheckSlots (500 ms): the same work as one
// batch every RecheckEvery, without a burst of thousands of statements'
// rows and Redis writes that the requests of its moment would queue behind.
const recheckSlots = 30

// dueSlots returns the re-check slots due at the end of tick n (from 0) of
// a Run ticking every tick, in turn after the done taken so far, and the
// new count taken: every slot once per RecheckEvery, whatever the tick.
func dueSlots(n int, tick time.Duration, done int) ([]int, int) {
	due := int(time.Duration(n+1) * tick / (RecheckEvery / recheckSlots))
	var slots []int
	for ; done < due; done++ {
		if len(slots) < recheckSlots {
			slots = append(slots, done%recheckSlots)
		}
	}
	return slots, done
}

// slotOf spreads decisions over the re-check slots.
func slotOf(p postgres.AccessPair) int {
	h := uint64(p.UserID)*0x9E3779B97F4A7C15 + uint64(p.DealID)*0xC2B2AE3D27D4EB4F
	return int((h ^ h>>29) % recheckSlots)
}

// Served notes that this process served userID's access to dealID from a
// session, at generations g, for the next Recheck.
func (c *Copies) Served(userID, dealID int64, g postgres.Gens) {
	p := postgres.AccessPair{UserID: userID, DealID: dealID}
	slot := slotOf(p)
	sl := &c.served[slot]
	sl.mu.Lock()
	if sl.m == nil {
		sl.m = make(map[postgres.AccessPair]postgres.Gens)
	}
	sl.m[p] = g
	sl.mu.Unlock()
}

// Recheck decides again, in PostgreSQL, every decision served since the
// last Recheck: the last safety net, batched. A decision that still holds
// refreshes its copies (set-if-greater; an agreeing value lives MaxAge
// more). One that no longer holds while its user's and deal's generations
// are those it was served at changed without a bump (a hand edit with the
// triggers off): its deal's generation is bumped and relayed, so that every
// session on that deal re-checks. One that no longer holds after a bump was
// the bump's business already: its copies are left to move or expire.
func (c *Copies) Recheck(ctx context.Context) error {
	all := make([]int, recheckSlots)
	for i := range all {
		all[i] = i
	}
	return c.recheck(ctx, all...)
}

// recheck is Recheck of the decisions in the given slots; Run goes through
// the slots in turn, so that each decision served is re-asked within
// RecheckEvery, as by one Recheck every RecheckEvery.
func (c *Copies) recheck(ctx context.Context, slots ...int) error {
	var served map[postgres.AccessPair]postgres.Gens
	for _, i := range slots {
		sl := &c.served[i]
		sl.mu.Lock()
		m := sl.m
		sl.m = nil
		sl.mu.Unlock()
		if served == nil {
			served = m
		} else {
			maps.Copy(served, m)
		}
	}
	pairs := make([]postgres.AccessPair, 0, len(served))
	for p := range served {
		pairs = append(pairs, p)
	}
	var silent []int64
	for len(pairs) > 0 {
		batch := pairs[:min(len(pairs), recheckBatch)]
		pairs = pairs[len(batch):]
		answers, err := c.db.RecheckAccess(ctx, batch)
		if err != nil {
			return err
		}
		fresh := make(map[string]int64, 2*len(answers)+1)
		for _, a := range answers {
			was := served[a.AccessPair]
			switch {
			case a.Allowed:
				fresh[c.Key(postgres.GenUser, a.UserID)] = a.Gens.User
				fresh[c.Key(postgres.GenDeal, a.DealID)] = a.Gens.Deal
				fresh[c.global] = a.Gens.Global
			case a.Gens.User == was.User && a.Gens.Deal == was.Deal && a.Gens.Global == was.Global:
				silent = append(silent, a.DealID)
			}
		}
		if err := c.refresh(ctx, fresh); err != nil {
			return err
		}
	}
	if len(silent) == 0 {
		return nil
	}
	for _, id := range silent {
		if err := c.db.ResetDealAccess(ctx, id); err != nil && deal.ErrorCode(err) != deal.ENOTFOUND {
			return err
		}
	}
	c.log.Warn("access: a decision changed without a generation bump; bumped its deals", "deals", len(silent))
	return c.Relay(ctx)
}
