// Package redisclient builds the one go-redis client a process shares between
// its session store, rate limiter, audit waker and asynq: a single server, a
// Sentinel-managed primary or a Redis Cluster, as the configuration names.
package redisclient

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/dealctx/dealctx/internal/config"
	"github.com/redis/go-redis/v9"
)

// Timeouts are a client's network budgets.
type Timeouts struct {
	Dial, Read, Write, Pool time.Duration
}

// RequestTimeouts suit the api's request path: a black-holed Redis costs a
// request milliseconds, not seconds.
var RequestTimeouts = Timeouts{Dial: 500 * time.Millisecond, Read: 250 * time.Millisecond, Write: 250 * time.Millisecond, Pool: 300 * time.Millisecond}

// WorkerTimeouts suit the worker's asynq server: its Lua scripts (dequeue,
// forwarding, recovery, cleanup of up to 100 tasks each) must not be cut off
// and retried under load, and nothing waits on them but the worker itself.
var WorkerTimeouts = Timeouts{Dial: 2 * time.Second, Read: 5 * time.Second, Write: 5 * time.Second, Pool: 6 * time.Second}

// Open returns the client for cfg's Redis topology with budgets t: a
// redis.Client for REDIS_URL/REDIS_TLS_URL, a failover client following the
// master REDIS_SENTINEL_ADDRS and REDIS_SENTINEL_MASTER name, or a cluster
// client seeded with REDIS_CLUSTER_ADDRS. With Sentinel or Cluster, the
// servers' user, password, TLS (and, for Sentinel, database) come from
// REDIS_URL when it is set. It returns nil and no error when no Redis is
// configured. It connects to nothing: a bad combination is an error naming
// the variable, an unreachable server is the caller's first failed command.
func Open(cfg config.Config, t Timeouts) (redis.UniversalClient, error) {
	return OpenChecked(cfg, t, nil)
}

// ConnectCheck runs on every new connection before its first command; an
// error keeps the connection from being used (redisepoch.Tracker.OnConnect).
type ConnectCheck func(ctx context.Context, cn *redis.Conn) error

// OpenChecked is Open with check run on every new connection, to every
// server of the topology (Sentinels included: a check tells them apart).
func OpenChecked(cfg config.Config, t Timeouts, check ConnectCheck) (redis.UniversalClient, error) {
	if !cfg.RedisConfigured() {
		return nil, nil
	}
	base := &redis.Options{}
	if cfg.RedisURL != "" {
		var err error
		if base, err = parse(cfg.RedisURL, cfg.RedisInsecureTLS); err != nil {
			return nil, err
		}
	}
	u := universal(base, t)
	u.OnConnect = check
	switch cfg.RedisTopology {
	case config.TopologySentinel:
		u.MasterName = cfg.RedisSentinelMaster
		u.Addrs = cfg.RedisSentinelAddrs
		u.SentinelPassword = cfg.RedisSentinelPassword
		return redis.NewFailoverClient(u.Failover()), nil
	case config.TopologyCluster:
		if base.DB != 0 {
			return nil, errors.New("config: REDIS_URL: a Redis Cluster has only database 0; drop the /N from the URL")
		}
		u.Addrs = cfg.RedisClusterAddrs
		// One redirect chain is followed (a MOVED after a resharding); a
		// dead node still fails fast for the breaker to judge.
		u.MaxRedirects = 3
		return redis.NewClusterClient(u.Cluster()), nil
	}
	return single(base, u), nil
}

// New returns a client for url (redis:// or rediss://) with RequestTimeouts.
// insecureSkipVerify accepts self-signed certificates (Heroku Redis).
func New(url string, insecureSkipVerify bool) (*redis.Client, error) {
	return NewWithTimeouts(url, insecureSkipVerify, RequestTimeouts)
}

// NewWithTimeouts is New with the given network budgets.
func NewWithTimeouts(url string, insecureSkipVerify bool, t Timeouts) (*redis.Client, error) {
	opts, err := parse(url, insecureSkipVerify)
	if err != nil {
		return nil, err
	}
	return single(opts, universal(opts, t)), nil
}

// parse reads url's address, credentials, database and TLS.
func parse(url string, insecureSkipVerify bool) (*redis.Options, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, errors.New("config: REDIS_URL: not a valid Redis URL")
	}
	if opts.TLSConfig != nil && insecureSkipVerify {
		opts.TLSConfig = &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12} //nolint:gosec // opt-in for self-signed provider certificates
	}
	return opts, nil
}

// universal carries what a URL gave (credentials, database, TLS, protocol)
// and this package's budgets, for any of the three topologies: the one list
// of timeouts, retries and pool sizes.
func universal(base *redis.Options, t Timeouts) *redis.UniversalOptions {
	return &redis.UniversalOptions{
		Addrs:                 []string{base.Addr},
		ClientName:            base.ClientName,
		Protocol:              base.Protocol,
		Username:              base.Username,
		Password:              base.Password,
		DB:                    base.DB,
		TLSConfig:             base.TLSConfig,
		ContextTimeoutEnabled: true,
		DialTimeout:           t.Dial,
		ReadTimeout:           t.Read,
		WriteTimeout:          t.Write,
		PoolTimeout:           t.Pool,
		MaxRetries:            1,
		// One dial attempt, no backoff: a dead Redis must fail fast so the
		// session store's circuit breaker, not the pool, decides when to
		// retry.
		DialerRetries:   1,
		ConnMaxIdleTime: 240 * time.Second,
		PoolSize:        20,
		MinIdleConns:    2,
	}
}

// single is the one-server client of base's address (TCP or a Unix socket).
func single(base *redis.Options, u *redis.UniversalOptions) *redis.Client {
	opts := u.Simple()
	opts.Network, opts.Addr = base.Network, base.Addr
	return redis.NewClient(opts)
}

// Node is the address of the server that answers rdb's commands, as that
// server sees the connection (CLIENT INFO's laddr): the current master
// through Sentinel, one of the primaries in a cluster. It is "" when the
// server does not answer within ctx or refuses CLIENT INFO.
func Node(ctx context.Context, rdb redis.UniversalClient) string {
	info, err := rdb.ClientInfo(ctx).Result()
	if err != nil || info == nil {
		return ""
	}
	return info.LAddr
}

// Logger adapts l to go-redis's process-wide internal logger, for
// redis.SetLogger in main; go-redis never logs credentials.
func Logger(l *slog.Logger) interface {
	Printf(ctx context.Context, format string, v ...any)
} {
	return logAdapter{l}
}

type logAdapter struct{ l *slog.Logger }

func (a logAdapter) Printf(ctx context.Context, format string, v ...any) {
	a.l.WarnContext(ctx, "redis: "+fmt.Sprintf(format, v...))
}
