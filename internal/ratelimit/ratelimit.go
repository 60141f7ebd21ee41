// Package ratelimit throttles failed attempts that let an attacker guess or
// probe: failed sign-ins per account and per client IP (an IPv6 client per
// /64), following OWASP (only failures count, and a success resets the
// account), and member additions whose email matches no user, per
// signed-in user (so adding members cannot be used to learn which emails
// have accounts). A slot is reserved atomically before the expensive or
// revealing work and given back when the attempt turns out not to count,
// so parallel attempts cannot outrun a limit.
// The counts live in Redis (GCRA through go-redis/redis_rate), so every api
// instance sees the same limits; an in-process limiter with the same rules
// takes over while Redis is down or slow, so a Redis failure never makes a
// request fail or hang.
package ratelimit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"math"
	"net/netip"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// Options configure a Limiter.
type Options struct {
	// AccountLimit is how many failed sign-ins one account may have per Window.
	AccountLimit int
	// IPLimit is how many failed sign-ins one client IP may have per Window.
	IPLimit int
	// Window is the period the sign-in limits apply to.
	Window time.Duration
	// MemberLookupLimit is how many member additions by unknown email one
	// user may make per MemberLookupWindow.
	MemberLookupLimit  int
	MemberLookupWindow time.Duration
	// KeyPrefix prefixes every Redis key (cfg.RedisKeyPrefix).
	KeyPrefix string
	// RedisTimeout bounds each Redis call; zero means 150ms.
	RedisTimeout time.Duration
	// Backoff is how long Redis is left alone after it failed; zero means 1s.
	Backoff time.Duration
}

// Limiter throttles failed sign-ins and unknown-email member additions. It
// is safe for concurrent use.
type Limiter struct {
	opts      Options
	account   redis_rate.Limit
	ip        redis_rate.Limit
	lookup    redis_rate.Limit
	rl        *redis_rate.Limiter // nil: in-process only
	rdb       redis.UniversalClient
	local     *localLimiter
	logger    *slog.Logger
	downUntil atomic.Int64 // unix nanoseconds before which Redis is skipped
}

// New returns a Limiter over rdb (a single server, Sentinel or Cluster
// client: each counter is one key, so its script runs on any topology); a
// nil rdb means the in-process limiter alone (one process's view of the
// counts).
func New(rdb redis.UniversalClient, opts Options, logger *slog.Logger) *Limiter {
	if opts.RedisTimeout <= 0 {
		opts.RedisTimeout = 150 * time.Millisecond
	}
	if opts.Backoff <= 0 {
		opts.Backoff = time.Second
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	l := &Limiter{
		opts:    opts,
		account: limit(opts.AccountLimit, opts.Window),
		ip:      limit(opts.IPLimit, opts.Window),
		lookup:  limit(opts.MemberLookupLimit, opts.MemberLookupWindow),
		local:   newLocalLimiter(100_000),
		logger:  logger,
	}
	// A nil *redis.Client in the interface is no Redis too.
	if v := reflect.ValueOf(rdb); rdb != nil && (v.Kind() != reflect.Pointer || !v.IsNil()) {
		l.rl = redis_rate.NewLimiter(prefixed{rdb: rdb, prefix: opts.KeyPrefix})
		l.rdb = rdb
	}
	return l
}

func limit(n int, window time.Duration) redis_rate.Limit {
	if n < 1 {
		n = 1
	}
	if window <= 0 {
		window = time.Hour
	}
	return redis_rate.Limit{Rate: n, Burst: n, Period: window}
}

// accountKey names an account's counter. The email is hashed so that
// addresses never appear in Redis and keys stay short.
func accountKey(email string) string {
	sum := sha256.Sum256([]byte(email))
	return "login:account:" + hex.EncodeToString(sum[:16])
}

// ipKey names a client's counter: its IPv4 address, or the /64 of its IPv6
// address, since one customer usually holds a whole /64 and could otherwise
// spread attempts across its addresses.
func ipKey(ip string) string {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return "login:ip:" + ip
	}
	addr = addr.Unmap()
	if addr.Is6() {
		p, _ := addr.Prefix(64)
		return "login:ip:" + p.String()
	}
	return "login:ip:" + addr.String()
}

// lookupKey names a user's counter of unknown-email member additions.
func lookupKey(userID int64) string { return "member-lookup:user:" + strconv.FormatInt(userID, 10) }

// check is one counter and the limit it is held to.
type check struct {
	key   string
	limit redis_rate.Limit
}

// Reserve takes one attempt from the account's and the client IP's sign-in
// counters before the password is checked: each counter is one atomic Redis
// step (GCRA: the slot is taken only if one is free), and when the second
// refuses, the first is given back. It returns zero when the attempt may
// proceed, else the seconds to wait, having taken nothing. So N parallel
// attempts against a limit of L check at most L passwords. The slots stay
// taken when the attempt fails: only failures count, and Succeeded gives
// them back.
func (l *Limiter) Reserve(ctx context.Context, email, ip string) int {
	return l.reserve(ctx, check{accountKey(email), l.account}, check{ipKey(ip), l.ip})
}

// Succeeded answers a reservation whose password was right: the account's
// failures are cleared and the IP's slot is given back.
func (l *Limiter) Succeeded(ctx context.Context, email, ip string) {
	key := accountKey(email)
	l.local.reset(key)
	l.refund(ctx, check{ipKey(ip), l.ip})
	if !l.redisUp() {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.opts.RedisTimeout)
	defer cancel()
	if err := l.rl.Reset(ctx, key); err != nil {
		l.redisFailed(ctx, err)
	}
}

// Release gives back both slots of a reservation whose password was never
// checked (no hashing slot, the database did not answer): it was no
// attempt, so it must not count against the account or the IP.
func (l *Limiter) Release(ctx context.Context, email, ip string) {
	l.refund(ctx, check{accountKey(email), l.account})
	l.refund(ctx, check{ipKey(ip), l.ip})
}

// ReserveMemberLookup takes one slot from userID's counter of member
// additions by unknown email before the email is looked up; zero means the
// lookup may proceed, else the seconds to wait. MemberLookupFound gives the
// slot back when the email was known: only unknown emails count.
func (l *Limiter) ReserveMemberLookup(ctx context.Context, userID int64) int {
	return l.reserve(ctx, check{lookupKey(userID), l.lookup})
}

// MemberLookupFound gives back the slot of a member addition whose email
// matched a user.
func (l *Limiter) MemberLookupFound(ctx context.Context, userID int64) {
	l.refund(ctx, check{lookupKey(userID), l.lookup})
}

// reserve takes a slot from every check's counter, all or nothing, and
// returns zero, or the seconds to wait for the counter that refused.
func (l *Limiter) reserve(ctx context.Context, checks ...check) int {
	for i, c := range checks {
		if wait := l.take(ctx, c); wait > 0 {
			for _, t := range checks[:i] {
				l.refund(ctx, t)
			}
			return int(math.Ceil(wait.Seconds()))
		}
	}
	return 0
}

// take takes one slot from c's counter in Redis, or in process while Redis
// is down, and returns zero, or how long to wait when none was free. The
// process keeps its own count of what Redis granted, so it is in place
// should Redis fail later.
func (l *Limiter) take(ctx context.Context, c check) time.Duration {
	now := time.Now()
	if l.redisUp() {
		rctx, cancel := context.WithTimeout(ctx, l.opts.RedisTimeout)
		res, err := l.rl.AllowN(rctx, c.key, c.limit, 1)
		cancel()
		if err == nil {
			if res.Allowed == 0 {
				return max(res.RetryAfter, time.Second)
			}
			l.local.force(c.key, c.limit, now)
			return 0
		}
		l.redisFailed(rctx, err)
	}
	return l.local.take(c.key, c.limit, now)
}

// refund gives one slot back to c's counter, in Redis and in process.
func (l *Limiter) refund(ctx context.Context, c check) {
	l.local.refund(c.key, c.limit, time.Now())
	if !l.redisUp() {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.opts.RedisTimeout)
	defer cancel()
	if err := refundScript.Run(ctx, prefixed{rdb: l.rdb, prefix: l.opts.KeyPrefix}, []string{"rate:" + c.key},
		interval(c.limit).Seconds()).Err(); err != nil {
		l.redisFailed(ctx, err)
	}
}

// refundScript moves a redis_rate GCRA counter (its key, under redis_rate's
// "rate:" prefix, and its clock: seconds since 2017-01-01) back by one
// emission interval, ARGV[1] seconds; a counter back at or before now is
// deleted, as an unused one would be absent.
var refundScript = redis.NewScript(`
redis.replicate_commands()
local tat = redis.call("GET", KEYS[1])
if not tat then return 0 end
local now = redis.call("TIME")
now = (now[1] - 1483228800) + (now[2] / 1000000)
local new_tat = tonumber(tat) - tonumber(ARGV[1])
if new_tat <= now then
  redis.call("DEL", KEYS[1])
  return 1
end
redis.call("SET", KEYS[1], new_tat, "EX", math.ceil(new_tat - now))
return 1`)

func (l *Limiter) redisUp() bool {
	return l.rl != nil && time.Now().UnixNano() >= l.downUntil.Load()
}

func (l *Limiter) redisFailed(ctx context.Context, err error) {
	if ctx.Err() != nil && context.Cause(ctx) != context.DeadlineExceeded {
		// The request went away; that says nothing about Redis.
		return
	}
	if l.downUntil.Swap(time.Now().Add(l.opts.Backoff).UnixNano()) < time.Now().UnixNano() {
		l.logger.WarnContext(ctx, "rate limiter: Redis unavailable, counting in process", "err", err)
	}
}

// prefixed puts the limiter's keys under the application's Redis prefix
// (redis_rate itself always adds "rate:").
type prefixed struct {
	rdb    redis.UniversalClient
	prefix string
}

func (p prefixed) keys(keys []string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = p.prefix + k
	}
	return out
}

func (p prefixed) Eval(ctx context.Context, script string, keys []string, args ...any) *redis.Cmd {
	return p.rdb.Eval(ctx, script, p.keys(keys), args...)
}

func (p prefixed) EvalSha(ctx context.Context, sha1 string, keys []string, args ...any) *redis.Cmd {
	return p.rdb.EvalSha(ctx, sha1, p.keys(keys), args...)
}

func (p prefixed) EvalRO(ctx context.Context, script string, keys []string, args ...any) *redis.Cmd {
	return p.rdb.EvalRO(ctx, script, p.keys(keys), args...)
}

func (p prefixed) EvalShaRO(ctx context.Context, sha1 string, keys []string, args ...any) *redis.Cmd {
	return p.rdb.EvalShaRO(ctx, sha1, p.keys(keys), args...)
}

func (p prefixed) ScriptExists(ctx context.Context, hashes ...string) *redis.BoolSliceCmd {
	return p.rdb.ScriptExists(ctx, hashes...)
}

func (p prefixed) ScriptLoad(ctx context.Context, script string) *redis.StringCmd {
	return p.rdb.ScriptLoad(ctx, script)
}

func (p prefixed) Del(ctx context.Context, keys ...string) *redis.IntCmd {
	return p.rdb.Del(ctx, p.keys(keys)...)
}

// localLimiter is the same GCRA as redis_rate's, in memory. It holds at most
// max keys so a spray of made-up emails cannot grow it without bound.
type localLimiter struct {
	mu  sync.Mutex
	tat map[string]time.Time // theoretical arrival time per key
	max int
}

func newLocalLimiter(max int) *localLimiter {
	return &localLimiter{tat: make(map[string]time.Time), max: max}
}

func interval(lim redis_rate.Limit) time.Duration { return lim.Period / time.Duration(lim.Rate) }

// take counts one attempt against key when the burst has room and returns
// zero; otherwise it counts nothing and returns how long to wait.
func (l *localLimiter) take(key string, lim redis_rate.Limit, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	tat, ok := l.tat[key]
	if !ok || tat.Before(now) {
		tat = now
	}
	next := tat.Add(interval(lim))
	burst := interval(lim) * time.Duration(lim.Burst)
	if over := next.Sub(now) - burst; over > 0 {
		return max(over, time.Second)
	}
	l.store(key, ok, next, now)
	return 0
}

// force counts one attempt against key that Redis already granted, within
// the burst.
func (l *localLimiter) force(key string, lim redis_rate.Limit, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	tat, ok := l.tat[key]
	if !ok || tat.Before(now) {
		tat = now
	}
	next := tat.Add(interval(lim))
	if next.Sub(now) > interval(lim)*time.Duration(lim.Burst) {
		return
	}
	l.store(key, ok, next, now)
}

// refund gives one attempt back to key.
func (l *localLimiter) refund(key string, lim redis_rate.Limit, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	tat, ok := l.tat[key]
	if !ok {
		return
	}
	if tat = tat.Add(-interval(lim)); !tat.After(now) {
		delete(l.tat, key)
		return
	}
	l.tat[key] = tat
}

// store sets key's arrival time, keeping at most max keys; the caller holds
// mu.
func (l *localLimiter) store(key string, existed bool, tat, now time.Time) {
	if !existed && len(l.tat) >= l.max {
		l.prune(now)
		if len(l.tat) >= l.max {
			return
		}
	}
	l.tat[key] = tat
}

func (l *localLimiter) reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.tat, key)
}

// prune drops keys whose counts have drained; the caller holds mu.
func (l *localLimiter) prune(now time.Time) {
	for k, tat := range l.tat {
		if !tat.After(now) {
			delete(l.tat, k)
		}
	}
}
