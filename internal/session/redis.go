package session

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// tombstone is the value a destroyed session's key holds until its expiry,
// so that a commit of the same session arriving late cannot revive it.
// scs's gob payloads are never this short.
const tombstone = "revoked"

// commitScript writes a session unless its key holds a tombstone.
var commitScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[3] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`)

// evictScript deletes a cached session unless its key holds a tombstone.
var evictScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return 0 end
return redis.call('DEL', KEYS[1])`)

// RedisStore keeps sessions in Redis under Prefix+"session:"+token, each
// expiring with its session. Deleting a session leaves a tombstone that
// commits never overwrite, so a logout stays a logout.
type RedisStore struct {
	rdb    *redis.Client
	prefix string
	// TombstoneTTL is how long a tombstone lives.
	TombstoneTTL time.Duration
}

// NewRedisStore returns a store over rdb whose keys start with prefix.
func NewRedisStore(rdb *redis.Client, prefix string, lifetime time.Duration) *RedisStore {
	return &RedisStore{rdb: rdb, prefix: prefix + "session:", TombstoneTTL: lifetime}
}

// Key is the Redis key of token's session.
func (s *RedisStore) Key(token string) string { return s.prefix + token }

// lookup is what a key holds: a live session, a tombstone, or nothing.
type lookup int

const (
	missing lookup = iota
	live
	revoked
)

// find reads token's key.
func (s *RedisStore) find(ctx context.Context, token string) ([]byte, lookup, error) {
	b, err := s.rdb.Get(ctx, s.Key(token)).Bytes()
	switch {
	case errors.Is(err, redis.Nil):
		return nil, missing, nil
	case err != nil:
		return nil, missing, err
	case string(b) == tombstone:
		return nil, revoked, nil
	}
	return b, live, nil
}

// commit stores the session unless it is a tombstone; an expired session
// is evicted instead.
func (s *RedisStore) commit(ctx context.Context, token string, b []byte, expiry time.Time) error {
	ttl := time.Until(expiry).Milliseconds()
	if ttl <= 0 {
		return s.evict(ctx, token)
	}
	return commitScript.Run(ctx, s.rdb, []string{s.Key(token)}, b, strconv.FormatInt(ttl, 10), tombstone).Err()
}

// revoke replaces the key with a tombstone.
func (s *RedisStore) revoke(ctx context.Context, token string) error {
	return s.rdb.Set(ctx, s.Key(token), tombstone, s.TombstoneTTL).Err()
}

// evict deletes a cached copy, leaving a tombstone in place.
func (s *RedisStore) evict(ctx context.Context, token string) error {
	return evictScript.Run(ctx, s.rdb, []string{s.Key(token)}, tombstone).Err()
}

// FindCtx returns a live session's data.
func (s *RedisStore) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	b, l, err := s.find(ctx, token)
	return b, l == live, err
}

// CommitCtx stores the session unless it was destroyed.
func (s *RedisStore) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	return s.commit(ctx, token, b, expiry)
}

// DeleteCtx destroys the session, leaving a tombstone.
func (s *RedisStore) DeleteCtx(ctx context.Context, token string) error {
	return s.revoke(ctx, token)
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
