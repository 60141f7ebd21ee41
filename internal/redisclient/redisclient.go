// Package redisclient builds the one go-redis client a process shares between
// its session store, rate limiter and asynq client.
package redisclient

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"time"

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

// New returns a client for url (redis:// or rediss://) with RequestTimeouts.
// insecureSkipVerify accepts self-signed certificates (Heroku Redis).
func New(url string, insecureSkipVerify bool) (*redis.Client, error) {
	return NewWithTimeouts(url, insecureSkipVerify, RequestTimeouts)
}

// NewWithTimeouts is New with the given network budgets.
func NewWithTimeouts(url string, insecureSkipVerify bool, t Timeouts) (*redis.Client, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, errors.New("redis: REDIS_URL is not a valid Redis URL")
	}
	if opts.TLSConfig != nil && insecureSkipVerify {
		opts.TLSConfig = &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12} //nolint:gosec // opt-in for self-signed provider certificates
	}
	opts.ContextTimeoutEnabled = true
	opts.DialTimeout = t.Dial
	opts.ReadTimeout = t.Read
	opts.WriteTimeout = t.Write
	opts.PoolTimeout = t.Pool
	opts.MaxRetries = 1
	// One dial attempt, no backoff: a dead Redis must fail fast so the
	// session store's circuit breaker, not the pool, decides when to retry.
	opts.DialerRetries = 1
	opts.ConnMaxIdleTime = 240 * time.Second
	opts.PoolSize = 20
	opts.MinIdleConns = 2
	return redis.NewClient(opts), nil
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
