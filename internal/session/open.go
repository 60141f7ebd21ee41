package session

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/dealctx/dealctx/internal/config"
	"github.com/dealctx/dealctx/internal/postgres"
	"github.com/redis/go-redis/v9"
)

// StartBudget bounds Open's Redis checks: the auto mode's ping, and the
// tiered store's first probe.
const StartBudget = 2 * time.Second

// Open builds the session manager for cfg.SessionStore and logs one line
// naming the store in use and why. rdb is nil when Redis is not configured.
// epoch is the Redis epoch (redisepoch.Tracker.Epoch) that copies in Redis
// are stamped with and checked against; nil leaves them unchecked.
// In auto mode Redis is pinged within StartBudget: healthy means tiered,
// anything else postgres. The tiered store's background loop runs until the
// Manager is closed.
func Open(ctx context.Context, cfg config.Config, db *postgres.DB, rdb redis.UniversalClient, epoch func() uint64, logger *slog.Logger) (*Manager, error) {
	if isNil(rdb) {
		rdb = nil
	}
	mode, reason := cfg.SessionStore, "SESSION_STORE="+cfg.SessionStore
	switch mode {
	case config.StoreAuto:
		switch rdb {
		case nil:
			mode, reason = config.StorePostgres, "redis not configured"
		default:
			pctx, cancel := context.WithTimeout(ctx, StartBudget)
			err := rdb.Ping(pctx).Err()
			cancel()
			if err != nil {
				mode, reason = config.StorePostgres, "redis unavailable: "+DescribeRedisError(err)
			} else {
				mode, reason = config.StoreTiered, "redis healthy"
			}
		}
	case config.StoreTiered, config.StoreRedis:
		if rdb == nil {
			return nil, fmt.Errorf("config: SESSION_STORE: %s needs REDIS_URL or REDIS_TLS_URL", mode)
		}
	case config.StorePostgres:
	default:
		return nil, fmt.Errorf("config: SESSION_STORE: unknown store %q", mode)
	}

	m := build(cfg, StoreMode(mode), db, rdb, epoch, logger)
	if m.tiered != nil {
		sctx, cancel := context.WithTimeout(ctx, StartBudget)
		m.tiered.Start(sctx)
		cancel()
	}
	level := slog.LevelInfo
	if strings.HasPrefix(reason, "redis unavailable") {
		level = slog.LevelWarn
	}
	logger.Log(ctx, level, fmt.Sprintf("session store: %s (%s)", mode, reason))
	return m, nil
}

// build returns the Manager over mode's store, its background loop not
// started.
func build(cfg config.Config, mode StoreMode, db *postgres.DB, rdb redis.UniversalClient, epoch func() uint64, logger *slog.Logger) *Manager {
	opts := Options{Lifetime: cfg.SessionLifetime, CookieSecure: cfg.CookieSecure,
		IdleTimeout: cfg.SessionIdleTimeout, DB: db, Logger: logger, Codec: Codec{WriteGob: cfg.SessionCodecGob}}
	pg := NewPostgresStore(db, cfg.SessionLifetime)
	var st scs.CtxStore = pg
	switch mode {
	case ModeRedis:
		// Redis is the record; PostgreSQL keeps its tombstones, which
		// survive a Redis rollback.
		rs := NewRedisStore(rdb, cfg.RedisKeyPrefix, cfg.SessionLifetime)
		rs.epoch, rs.record, rs.unstamped = epoch, pg, cfg.SessionCodecGob
		st = rs
	case ModeTiered:
		rs := NewRedisStore(rdb, cfg.RedisKeyPrefix, cfg.SessionLifetime)
		rs.epoch, rs.unstamped = epoch, cfg.SessionCodecGob
		st = NewTieredStore(pg, rs, logger, TieredOptions{Target: RedisTarget(cfg)})
	}
	return NewManager(st, mode, opts)
}

// OpenRevoker returns a Manager for revoking sessions from outside a server
// (the api's user commands): the store SESSION_STORE names, and in auto
// mode with Redis configured the tiered store, so copies a running server
// cached in Redis are tombstoned too (or queued for replay when Redis is
// down). It starts no background work; Close it anyway.
func OpenRevoker(cfg config.Config, db *postgres.DB, rdb redis.UniversalClient, logger *slog.Logger) (*Manager, error) {
	if isNil(rdb) {
		rdb = nil
	}
	mode := StoreMode(cfg.SessionStore)
	switch {
	case mode == ModePostgres:
	case rdb == nil && (mode == ModeTiered || mode == ModeRedis):
		return nil, fmt.Errorf("config: SESSION_STORE: %s needs REDIS_URL or REDIS_TLS_URL", mode)
	case rdb == nil:
		mode = ModePostgres
	case mode != ModeRedis:
		mode = ModeTiered
	}
	return build(cfg, mode, db, rdb, nil, logger), nil
}

// RedisTarget names the Redis a deployment caches sessions in: a hash of
// the key prefix, the topology and the server's address (host, port and
// database; Sentinel master and Sentinels; Cluster seeds), never the
// password. Processes of one deployment, configured alike, share it; a
// deployment on another Redis or prefix has another.
func RedisTarget(cfg config.Config) string {
	id := cfg.RedisTopology
	switch cfg.RedisTopology {
	case config.TopologySentinel:
		addrs := slices.Clone(cfg.RedisSentinelAddrs)
		slices.Sort(addrs)
		id += "|" + cfg.RedisSentinelMaster + "|" + strings.Join(addrs, ",")
	case config.TopologyCluster:
		addrs := slices.Clone(cfg.RedisClusterAddrs)
		slices.Sort(addrs)
		id += "|" + strings.Join(addrs, ",")
	default:
		if o, err := redis.ParseURL(cfg.RedisURL); err == nil {
			id += "|" + o.Addr + "/" + strconv.Itoa(o.DB)
		}
	}
	sum := sha256.Sum256([]byte(cfg.RedisKeyPrefix + "\x00" + id))
	return hex.EncodeToString(sum[:8])
}

// isNil reports whether rdb is nil, or a nil client in a non-nil interface
// (a caller's `var rdb *redis.Client` left unset).
func isNil(rdb redis.UniversalClient) bool {
	if rdb == nil {
		return true
	}
	v := reflect.ValueOf(rdb)
	return v.Kind() == reflect.Pointer && v.IsNil()
}

// DescribeRedisError names the kind of a Redis connection failure in a few
// words that never include the URL, host or password.
func DescribeRedisError(err error) string {
	var ne net.Error
	var dns *net.DNSError
	var cert *tls.CertificateVerificationError
	var unknownAuth x509.UnknownAuthorityError
	var rec tls.RecordHeaderError
	msg := err.Error()
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
		return "timed out"
	case errors.As(err, &dns):
		return "host not found"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.As(err, &cert) || errors.As(err, &unknownAuth) || errors.As(err, &rec) || strings.Contains(msg, "tls:"):
		return "TLS handshake failed"
	case strings.HasPrefix(msg, "NOAUTH") || strings.HasPrefix(msg, "WRONGPASS") || strings.Contains(msg, "invalid password"):
		return "authentication failed"
	}
	return "ping failed"
}
