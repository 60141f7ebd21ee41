package session

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
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
// In auto mode Redis is pinged within StartBudget: healthy means tiered,
// anything else postgres. The tiered store's background loop runs until the
// Manager is closed.
func Open(ctx context.Context, cfg config.Config, db *postgres.DB, rdb *redis.Client, logger *slog.Logger) (*Manager, error) {
	mode, reason := cfg.SessionStore, "SESSION_STORE="+cfg.SessionStore
	switch mode {
	case config.StoreAuto:
		switch {
		case rdb == nil:
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

	opts := Options{Lifetime: cfg.SessionLifetime, CookieSecure: cfg.CookieSecure}
	pg := NewPostgresStore(db, cfg.SessionLifetime)
	var store scs.CtxStore = pg
	var tiered *TieredStore
	switch mode {
	case config.StoreRedis:
		store = NewRedisStore(rdb, cfg.RedisKeyPrefix, cfg.SessionLifetime)
	case config.StoreTiered:
		tiered = NewTieredStore(pg, NewRedisStore(rdb, cfg.RedisKeyPrefix, cfg.SessionLifetime), db, rdb, logger, TieredOptions{})
		sctx, cancel := context.WithTimeout(ctx, StartBudget)
		tiered.Start(sctx)
		cancel()
		store = tiered
	}
	level := slog.LevelInfo
	if strings.HasPrefix(reason, "redis unavailable") {
		level = slog.LevelWarn
	}
	logger.Log(ctx, level, fmt.Sprintf("session store: %s (%s)", mode, reason))
	m := NewManager(store, mode, opts)
	m.tiered = tiered
	return m, nil
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
