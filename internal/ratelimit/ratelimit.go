// Package ratelimit throttles failed attempts that let an attacker guess or
// probe: failed sign-ins per account and per client IP, following OWASP
// (only failures count, and a success resets the account), and member
// additions whose email matches no user, per signed-in user (so adding
// members cannot be used to learn which emails have accounts).
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

func ipKey(ip string) string { return "login:ip:" + ip }

// lookupKey names a user's counter of unknown-email member additions.
func lookupKey(userID int64) string { return "member-lookup:user:" + strconv.FormatInt(userID, 10) }

// check is one counter and the limit it is held to.
type check struct {
	key   string
	limit redis_rate.Limit
}

// Allow returns zero when a sign-in for email from ip may proceed, else the
// number of seconds to wait. It consumes nothing: only Failed counts.
func (l *Limiter) Allow(ctx context.Context, email, ip string) int {
	return l.wait(ctx, check{accountKey(email), l.account}, check{ipKey(ip), l.ip})
}

// Failed records a failed sign-in against the account and the client IP.
func (l *Limiter) Failed(ctx context.Context, email, ip string) {
	l.count(ctx, check{accountKey(email), l.account}, check{ipKey(ip), l.ip})
}

// Succeeded clears the account's failed sign-ins; the IP's count stays.
func (l *Limiter) Succeeded(ctx context.Context, email string) {
	key := accountKey(email)
	l.local.reset(key)
	if !l.redisUp() {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.opts.RedisTimeout)
	defer cancel()
	if err := l.rl.Reset(ctx, key); err != nil {
		l.redisFailed(ctx, err)
	}
}

// AllowMemberLookup returns zero when userID may add a member by email now,
// else the number of seconds to wait. It consumes nothing: only
// MemberLookupMissed counts, so adding known users is never throttled until
// the unknown ones reached the limit.
func (l *Limiter) AllowMemberLookup(ctx context.Context, userID int64) int {
	return l.wait(ctx, check{lookupKey(userID), l.lookup})
}

// MemberLookupMissed records a member addition by userID whose email
// matched no user.
func (l *Limiter) MemberLookupMissed(ctx context.Context, userID int64) {
	l.count(ctx, check{lookupKey(userID), l.lookup})
}

// wait returns how many seconds the longest of the checks must wait; zero
// when every counter has room.
func (l *Limiter) wait(ctx context.Context, checks ...check) int {
	var wait time.Duration
	for _, c := range checks {
		d, ok := l.redisPeek(ctx, c.key, c.limit)
		if !ok {
			d = l.local.peek(c.key, c.limit, time.Now())
		}
		wait = max(wait, d)
	}
	if wait <= 0 {
		return 0
	}
	return int(math.Ceil(wait.Seconds()))
}

// count records one attempt against every check's counter.
func (l *Limiter) count(ctx context.Context, checks ...check) {
	now := time.Now()
	// The process keeps its own counts too, so they are already in place
	// should Redis fail later.
	for _, c := range checks {
		l.local.consume(c.key, c.limit, now)
	}
	if !l.redisUp() {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.opts.RedisTimeout)
	defer cancel()
	for _, c := range checks {
		if _, err := l.rl.Allow(ctx, c.key, c.limit); err != nil {
			l.redisFailed(ctx, err)
			return
		}
	}
}

// redisPeek asks Redis how long key must wait; ok is false when Redis is not
// configured or did not answer in time.
func (l *Limiter) redisPeek(ctx context.Context, key string, lim redis_rate.Limit) (time.Duration, bool) {
	if !l.redisUp() {
		return 0, false
	}
	ctx, cancel := context.WithTimeout(ctx, l.opts.RedisTimeout)
	defer cancel()
	// AllowAtMost with n=0 reads the state without consuming: it denies
	// once the whole burst is spent.
	res, err := l.rl.AllowAtMost(ctx, key, lim, 0)
	if err != nil {
		l.redisFailed(ctx, err)
		return 0, false
	}
	if res.Allowed == 0 && res.Remaining == 0 && res.RetryAfter > 0 {
		return res.RetryAfter, true
	}
	return 0, true
}

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

// peek returns how long key must wait before its next attempt.
func (l *localLimiter) peek(key string, lim redis_rate.Limit, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	tat, ok := l.tat[key]
	if !ok || tat.Before(now) {
		return 0
	}
	// Allowed while at least one emission interval of the burst is left.
	burst := interval(lim) * time.Duration(lim.Burst)
	if spare := now.Sub(tat) + burst; spare < interval(lim) {
		return interval(lim) - spare
	}
	return 0
}

// consume counts one attempt against key unless the burst is spent.
func (l *localLimiter) consume(key string, lim redis_rate.Limit, now time.Time) {
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
	if !ok && len(l.tat) >= l.max {
		l.prune(now)
		if len(l.tat) >= l.max {
			return
		}
	}
	l.tat[key] = next
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
