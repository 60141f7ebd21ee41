package session

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/dealctx/dealctx/internal/postgres"
	"github.com/redis/go-redis/v9"
)

// tombstone is the value a destroyed session's key holds until its expiry,
// so that a commit of the same session arriving late cannot revive it.
// scs's gob payloads are never this short.
const tombstone = "revoked"

// Every script below touches exactly one key, so each is valid on a Redis
// Cluster, and pipelines of them are split by slot by the cluster client.

// commitScript writes a session unless its key holds a tombstone.
var commitScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[3] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`)

// evictScript deletes a cached session unless its key holds a tombstone.
var evictScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return 0 end
return redis.call('DEL', KEYS[1])`)

// indexScript adds a token to a user's set of sessions and makes the set
// live at least as long as that session (ARGV[2] milliseconds).
var indexScript = redis.NewScript(`
redis.call('SADD', KEYS[1], ARGV[1])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1`)

// RedisStore keeps sessions in Redis under Prefix+"session:"+token, each
// expiring with its session. Deleting a session leaves a tombstone that
// commits never overwrite, so a logout stays a logout. As the record (redis
// mode) it also keeps, per user, the set of that user's session tokens under
// Prefix+"session:user:"+id (a token never contains ':'), expiring with the
// user's longest session and pruned of ended sessions when read.
//
// Every copy is stamped with the Redis epoch (redisvalue.go); a copy whose
// stamp is not the current epoch is unverified. As the record, the store
// then asks PostgreSQL whether the session was ended (every revocation in
// redis mode also leaves a tombstone there, which survives a Redis rollback)
// and either ends it again or stamps it anew.
type RedisStore struct {
	rdb    redis.UniversalClient
	prefix string
	// TombstoneTTL is how long a tombstone lives.
	TombstoneTTL time.Duration
	// epoch returns the current Redis epoch (0: unknown). nil leaves copies
	// unchecked: only for a store that never serves reads (the revoker) and
	// for tests of other things.
	epoch func() uint64
	// record keeps tombstones in PostgreSQL when Redis is the record (redis
	// mode); nil when PostgreSQL is the record (tiered), which keeps its own.
	record *PostgresStore
	// unstamped writes copies without a stamp, which a release before the
	// stamp can read (SESSION_CODEC=gob, the first step of an upgrade); this
	// release then checks every copy against PostgreSQL.
	unstamped bool
	// gens, when set, makes find read the session's access generation
	// copies in the same round trip.
	gens *gensKeys
}

// encode is the value a copy is written as: stamped with epoch, or the
// payload alone while upgrading (unstamped); and the user and deal its stamp
// names (0, 0 for none).
func (s *RedisStore) encode(epoch uint64, payload []byte) (v []byte, userID, dealID int64) {
	if s.unstamped {
		return payload, 0, 0
	}
	userID, dealID = s.stampIDs(payload)
	return stamp(epoch, userID, dealID, payload), userID, dealID
}

// stampIDs are the user and deal a copy of payload names in its stamp: the
// session's, when the store reads generations with sessions
// (ReadGenerations), else none.
func (s *RedisStore) stampIDs(payload []byte) (userID, dealID int64) {
	if s.gens == nil {
		return 0, 0
	}
	if _, values, err := (Codec{}).Decode(payload); err == nil {
		userID, _ = values[keyUserID].(int64)
		dealID, _ = values[keyDealID].(int64)
	}
	return userID, dealID
}

// gensKeys name the access generation copies read with a session: a
// user's key is user+id, a deal's deal+id, the global one global. seen
// remembers, per token, the user and deal its copy last named.
type gensKeys struct {
	user, deal, global string
	seen               idsCache
}

// idsCache maps a session token to the user and deal its Redis copy's
// stamp last named, so that the next read of that session can fetch the
// generation copies in the same pipeline, before the session is decoded.
// It is bounded: a shard that fills up is emptied (a miss costs one more
// round trip, nothing else).
type idsCache struct {
	shards [64]idsShard
}

type idsShard struct {
	mu sync.Mutex
	m  map[string][2]int64
}

// idsShardCap bounds each shard: 64 × 1024 sessions in all, about 100
// bytes each (the token, its two ids and the map's share).
const idsShardCap = 1024

func (c *idsCache) shard(token string) *idsShard {
	// Tokens are random base64url: their first character's six bits
	// spread them evenly over the 64 shards. (The last character would
	// not: it carries only the 32 bytes' last four bits.)
	return &c.shards[base64URLValue(token[0])]
}

// base64URLValue is the six bits the base64url character ch stands for (0
// for any other byte).
func base64URLValue(ch byte) byte {
	switch {
	case ch >= 'A' && ch <= 'Z':
		return ch - 'A'
	case ch >= 'a' && ch <= 'z':
		return ch - 'a' + 26
	case ch >= '0' && ch <= '9':
		return ch - '0' + 52
	case ch == '-':
		return 62
	case ch == '_':
		return 63
	}
	return 0
}

func (c *idsCache) get(token string) (userID, dealID int64, ok bool) {
	if token == "" {
		return 0, 0, false
	}
	sh := c.shard(token)
	sh.mu.Lock()
	ids, ok := sh.m[token]
	sh.mu.Unlock()
	return ids[0], ids[1], ok
}

// put remembers the ids token's copy names; 0, 0 forgets them.
func (c *idsCache) put(token string, userID, dealID int64) {
	if token == "" {
		return
	}
	sh := c.shard(token)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if userID <= 0 || dealID <= 0 {
		delete(sh.m, token)
		return
	}
	if sh.m == nil || len(sh.m) >= idsShardCap {
		sh.m = make(map[string][2]int64)
	}
	sh.m[token] = [2]int64{userID, dealID}
}

// NewRedisStore returns a store over rdb (a single, failover or cluster
// client) whose keys start with prefix.
func NewRedisStore(rdb redis.UniversalClient, prefix string, lifetime time.Duration) *RedisStore {
	return &RedisStore{rdb: rdb, prefix: prefix + "session:", TombstoneTTL: lifetime}
}

// Key is the Redis key of token's session.
func (s *RedisStore) Key(token string) string { return s.prefix + token }

// userKey is the Redis key of the set of userID's session tokens.
func (s *RedisStore) userKey(userID int64) string {
	return s.prefix + "user:" + strconv.FormatInt(userID, 10)
}

// lookup is what a key holds: a live session, a tombstone, or nothing.
type lookup int

const (
	missing lookup = iota
	live
	revoked
	// unverified is a live copy whose stamp is not the current epoch.
	unverified
)

// currentEpoch is the epoch copies are stamped with and checked against.
func (s *RedisStore) currentEpoch() uint64 {
	if s.epoch == nil {
		return 0
	}
	return s.epoch()
}

// lookupOf says what a key's value v is, returning a live copy's payload.
func (s *RedisStore) lookupOf(v []byte, err error) ([]byte, lookup, error) {
	switch {
	case errors.Is(err, redis.Nil):
		return nil, missing, nil
	case err != nil:
		return nil, missing, err
	case string(v) == tombstone:
		return nil, revoked, nil
	}
	e, payload, ok := unstamp(v)
	if s.epoch == nil {
		return payload, live, nil
	}
	if !ok || e == 0 || e != s.epoch() {
		return payload, unverified, nil
	}
	return payload, live, nil
}

// find reads token's key. When the store reads generations with sessions
// (ReadGenerations) and the request's context can keep them (a session
// loaded by the Manager), the user's, the deal's and the global generation
// copies the session's copy named last time come in the same command
// (readWithGenerations): one round trip. They are kept only if the copy
// still names that user and deal.
func (s *RedisStore) find(ctx context.Context, token string) ([]byte, lookup, error) {
	c, _ := ctx.Value(idsKey{}).(*ids)
	if s.gens == nil || c == nil {
		return s.lookupOf(s.rdb.Get(ctx, s.Key(token)).Bytes())
	}
	userID, dealID, known := s.gens.seen.get(token)
	if !known {
		v, err := s.rdb.Get(ctx, s.Key(token)).Bytes()
		b, l, err := s.lookupOf(v, err)
		if l == live {
			u, d := stampedIDs(v)
			s.gens.seen.put(token, u, d)
		}
		return b, l, err
	}
	v, gens, err := s.readWithGenerations(ctx, token, userID, dealID)
	b, l, err := s.lookupOf(v, err)
	if l != live {
		if l == revoked || l == missing {
			s.gens.seen.put(token, 0, 0)
		}
		return b, l, err
	}
	if u, d := stampedIDs(v); u != userID || d != dealID {
		s.gens.seen.put(token, u, d)
	} else if gens != nil {
		c.gens, c.gensUser, c.gensDeal = gens, userID, dealID
	}
	return b, l, err
}

// readWithGenerations reads token's copy and the user's, the deal's and the
// global generation copies in one round trip: the copy as GET would answer
// it (redis.Nil when missing), and the three copies (nil when they could
// not be read). On one node (or under Sentinel) that is one MGET, which
// costs Redis and the client about what one GET does; a cluster spreads the
// keys over slots, so there it is a pipeline of a GET and an MGET.
func (s *RedisStore) readWithGenerations(ctx context.Context, token string, userID, dealID int64) ([]byte, []any, error) {
	userKey, dealKey := s.gens.user+strconv.FormatInt(userID, 10), s.gens.deal+strconv.FormatInt(dealID, 10)
	if _, cluster := s.rdb.(*redis.ClusterClient); !cluster {
		vals, err := s.rdb.MGet(ctx, s.Key(token), userKey, dealKey, s.gens.global).Result()
		if err != nil {
			return nil, nil, err
		}
		v, ok := vals[0].(string)
		if !ok {
			return nil, vals[1:], redis.Nil
		}
		return []byte(v), vals[1:], nil
	}
	var get *redis.StringCmd
	var gens *redis.SliceCmd
	_, _ = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		get = p.Get(ctx, s.Key(token))
		gens = p.MGet(ctx, userKey, dealKey, s.gens.global)
		return nil
	})
	v, err := get.Bytes()
	if gens.Err() != nil {
		return v, nil, err
	}
	return v, gens.Val(), err
}

// commit stores the session stamped with epoch (read before the data was:
// a copy must never carry a newer epoch than what it was read under) unless
// the key is a tombstone; an expired session is evicted instead.
func (s *RedisStore) commit(ctx context.Context, token string, b []byte, expiry time.Time, epoch uint64) error {
	_, err := s.commitWritten(ctx, token, b, expiry, epoch)
	return err
}

// commitWritten is commit reporting whether the copy was written.
func (s *RedisStore) commitWritten(ctx context.Context, token string, b []byte, expiry time.Time, epoch uint64) (bool, error) {
	ttl := time.Until(expiry).Milliseconds()
	if ttl <= 0 {
		return false, s.evict(ctx, s.rdb, token)
	}
	v, userID, dealID := s.encode(epoch, b)
	n, err := commitScript.Run(ctx, s.rdb, []string{s.Key(token)}, v, strconv.FormatInt(ttl, 10), tombstone).Int()
	if n == 1 && s.gens != nil {
		// The next read of this session fetches its generations with it,
		// rather than learning the ids from this copy first.
		s.gens.seen.put(token, userID, dealID)
	}
	return n == 1, err
}

// restampScript stamps a copy anew, keeping its expiry, unless it changed
// since it was read.
var restampScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
return 1`)

// verify settles unverified copies of the record (redis mode) against the
// tombstones PostgreSQL keeps: an ended session is tombstoned in Redis again,
// a live one stamped with the current epoch. It returns the tokens still
// live.
func (s *RedisStore) verify(ctx context.Context, tokens []string, values, payloads [][]byte) (map[string]bool, error) {
	if s.record == nil {
		return nil, nil // nothing to settle them against: none is trusted
	}
	epoch := s.currentEpoch()
	ended, err := s.record.db.RevokedSessions(ctx, tokens)
	if err != nil {
		return nil, err
	}
	alive := make(map[string]bool, len(tokens))
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, tok := range tokens {
			switch {
			case ended[tok]:
				_ = s.revoke(ctx, p, tok)
			case epoch != 0 && !s.unstamped:
				alive[tok] = true
				v, _, _ := s.encode(epoch, payloads[i]) // stamped: this case is !s.unstamped
				_ = restampScript.Eval(ctx, p, []string{s.Key(tok)}, values[i], v)
			default:
				alive[tok] = true
			}
		}
		return nil
	})
	return alive, err
}

// revoke replaces the key with a tombstone, on c (the client or a pipeline).
// Logout, user revocation and the replay of queued revocations all write
// tombstones through here, so all live TombstoneTTL.
func (s *RedisStore) revoke(ctx context.Context, c redis.Cmdable, token string) error {
	return c.Set(ctx, s.Key(token), tombstone, s.TombstoneTTL).Err()
}

// evict deletes a cached copy on c (the client or a pipeline), leaving a
// tombstone in place.
func (s *RedisStore) evict(ctx context.Context, c redis.Cmdable, token string) error {
	return evictScript.Eval(ctx, c, []string{s.Key(token)}, tombstone).Err()
}

// revokeAll tombstones every token in one pipeline; as the record, in
// PostgreSQL first, where the tombstones survive a Redis rollback.
func (s *RedisStore) revokeAll(ctx context.Context, tokens []string) error {
	if len(tokens) == 0 {
		return nil
	}
	if s.record != nil {
		if err := s.record.revokeAll(ctx, tokens); err != nil {
			return err
		}
	}
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, tok := range tokens {
			_ = s.revoke(ctx, p, tok) // queued: Pipelined reports the result
		}
		return nil
	})
	return err
}

// FindCtx returns a live session's data; an unverified copy is settled
// against PostgreSQL's tombstones first (verify).
func (s *RedisStore) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	v, err := s.rdb.Get(ctx, s.Key(token)).Bytes()
	b, l, err := s.lookupOf(v, err)
	if l != unverified || err != nil {
		return b, l == live, err
	}
	alive, err := s.verify(ctx, []string{token}, [][]byte{v}, [][]byte{b})
	if err != nil || !alive[token] {
		return nil, false, err
	}
	return b, true, nil
}

// CommitCtx stores the session unless it was destroyed, and indexes it
// under its user.
func (s *RedisStore) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	written, err := s.commitWritten(ctx, token, b, expiry, s.currentEpoch())
	if err != nil || !written {
		return err
	}
	if id := UserIDFromData(b); id != 0 {
		ttl := time.Until(expiry).Milliseconds()
		return indexScript.Run(ctx, s.rdb, []string{s.userKey(id)}, token, strconv.FormatInt(ttl, 10)).Err()
	}
	return nil
}

// DeleteCtx destroys the session, leaving a tombstone (in PostgreSQL too
// when Redis is the record).
func (s *RedisStore) DeleteCtx(ctx context.Context, token string) error {
	return s.revokeAll(ctx, []string{token})
}

// userTokens lists every token indexed under the user, ended or not.
func (s *RedisStore) userTokens(ctx context.Context, userID int64) ([]string, error) {
	return s.rdb.SMembers(ctx, s.userKey(userID)).Result()
}

// userSessions returns the user's live sessions (any order), removing ended
// ones from the user's set.
func (s *RedisStore) userSessions(ctx context.Context, userID int64) ([]postgres.StoredSession, error) {
	tokens, err := s.userTokens(ctx, userID)
	if err != nil || len(tokens) == 0 {
		return nil, err
	}
	cmds := make([]*redis.StringCmd, len(tokens))
	if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, tok := range tokens {
			cmds[i] = p.Get(ctx, s.Key(tok))
		}
		return nil
	}); err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	var out []postgres.StoredSession
	var gone []any
	var doubt []string
	var doubtValues, doubtPayloads [][]byte
	for i, tok := range tokens {
		b, l, err := s.lookupOf(cmds[i].Bytes())
		if err != nil {
			return nil, err
		}
		switch {
		case l == unverified && UserIDFromData(b) == userID:
			doubt = append(doubt, tok)
			v, _ := cmds[i].Bytes()
			doubtValues, doubtPayloads = append(doubtValues, v), append(doubtPayloads, b)
		case l == live && UserIDFromData(b) == userID:
			out = append(out, postgres.StoredSession{Token: tok, Data: b})
		default:
			gone = append(gone, tok)
		}
	}
	if len(doubt) > 0 {
		alive, err := s.verify(ctx, doubt, doubtValues, doubtPayloads)
		if err != nil {
			return nil, err
		}
		for i, tok := range doubt {
			if alive[tok] {
				out = append(out, postgres.StoredSession{Token: tok, Data: doubtPayloads[i]})
			} else {
				gone = append(gone, tok)
			}
		}
	}
	if len(gone) > 0 {
		// Pruning is housekeeping: a failure leaves members the next read drops.
		_ = s.rdb.SRem(ctx, s.userKey(userID), gone...).Err()
	}
	return out, nil
}

// forget removes revoked tokens from the user's set.
func (s *RedisStore) forget(ctx context.Context, userID int64, tokens []string) {
	if len(tokens) == 0 {
		return
	}
	m := make([]any, len(tokens))
	for i, t := range tokens {
		m[i] = t
	}
	_ = s.rdb.SRem(ctx, s.userKey(userID), m...).Err()
}

// Find implements scs.Store.
func (s *RedisStore) Find(token string) ([]byte, bool, error) {
	return s.FindCtx(context.Background(), token)
}

// Commit implements scs.Store.
func (s *RedisStore) Commit(token string, b []byte, expiry time.Time) error {
	return s.CommitCtx(context.Background(), token, b, expiry)
}

// Delete implements scs.Store.
func (s *RedisStore) Delete(token string) error {
	return s.DeleteCtx(context.Background(), token)
}
