// Package redisclient builds the one go-redis client a process shares between
// its session store, rate limiter and asynq client.
package redisclient

import (
	"crypto/tls"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// New returns a client for url (redis:// or rediss://) with short timeouts, so
// a black-holed Redis costs a request milliseconds, not seconds.
// insecureSkipVerify accepts self-signed certificates (Heroku Redis).
func New(url string, insecureSkipVerify bool) (*redis.Client, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, errors.New("redis: REDIS_URL is not a valid Redis URL")
	}
	if opts.TLSConfig != nil && insecureSkipVerify {
		opts.TLSConfig = &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12} //nolint:gosec // opt-in for self-signed provider certificates
	}
	opts.ContextTimeoutEnabled = true
	opts.DialTimeout = 500 * time.Millisecond
	opts.ReadTimeout = 250 * time.Millisecond
	opts.WriteTimeout = 250 * time.Millisecond
	opts.PoolTimeout = 300 * time.Millisecond
	opts.MaxRetries = 1
	// One dial attempt, no backoff: a dead Redis must fail fast so the
	// session store's circuit breaker, not the pool, decides when to retry.
	opts.DialerRetries = 1
	opts.ConnMaxIdleTime = 240 * time.Second
	opts.PoolSize = 20
	opts.MinIdleConns = 2
	return redis.NewClient(opts), nil
}
