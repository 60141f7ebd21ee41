// Package httpapi assembles the api's HTTP handler: the routes, with their
// middleware, over the JSON API (internal/web/api), the pages
// (internal/web/pages) and what they share (internal/web); Build makes the
// App that `api serve` serves.
package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/dealctx/dealctx/internal/access"
	"github.com/dealctx/dealctx/internal/auth"
	"github.com/dealctx/dealctx/internal/config"
	"github.com/dealctx/dealctx/internal/jobs"
	"github.com/dealctx/dealctx/internal/postgres"
	"github.com/dealctx/dealctx/internal/ratelimit"
	"github.com/dealctx/dealctx/internal/redisepoch"
	"github.com/dealctx/dealctx/internal/session"
	"github.com/dealctx/dealctx/internal/web"
	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// App is the api's HTTP handler together with the session layer and the
// background helpers it was built over: exactly what `api serve` serves.
type App struct {
	// Handler serves every route.
	Handler http.Handler
	// Sessions is the session layer the handler uses.
	Sessions      *session.Manager
	closers       []func()
	copies        *access.Copies
	draining      atomic.Bool
	drainingGauge prometheus.Gauge
}

// Drain makes /readyz answer 503 from now on, and dealctx_draining 1, while
// every other route keeps serving: the first step of a graceful shutdown,
// so that a balancer's health check takes the process out of rotation
// before it stops accepting.
func (a *App) Drain() {
	a.draining.Store(true)
	a.drainingGauge.Set(1)
}

// Close stops the app's background work (the usage counts' writer, which
// writes what is pending, the audit waker, the session store's loop),
// newest first; the handler must not be used after.
func (a *App) Close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i]()
	}
}

// hashWait is how long a request waits for a password hashing slot before
// it is answered 503 (the contract's PASSWORD_HASH_CONCURRENCY).
const hashWait = 2 * time.Second

// accessRelayTick is how often each api process relays the access outbox
// to Redis: the session store's replay tick, so a bump lost between commit
// and Redis lands as fast as a logout queued for Redis does.
const accessRelayTick = 500 * time.Millisecond

// Build assembles the api from its configuration and connections: the
// session layer (session.Open), the metrics registry, the audit waker (when
// Redis is configured), the password hasher, and the sign-in and member
// lookup limiter. It is
// the one constructor, used by `api serve` and by the benchmarks, so what is
// measured is what is served. rdb (redisclient.OpenChecked's: single,
// Sentinel or Cluster, with epoch.OnConnect as its check) may be nil; db and
// rdb stay the caller's to close. epoch keeps the Redis epoch that copies in
// Redis are checked against (Build runs its once-a-second check); nil
// distrusts every copy.
func Build(ctx context.Context, cfg config.Config, db *postgres.DB, rdb redis.UniversalClient, epoch *redisepoch.Tracker, logger *slog.Logger) (*App, error) {
	app, err := build(ctx, cfg, db, rdb, logger, epoch.Epoch)
	if err != nil || rdb == nil || epoch == nil {
		return app, err
	}
	// The epoch's safety net: a Redis that changed without a new
	// connection, and bumps made by other processes.
	ectx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); epoch.Run(ectx, rdb) }()
	app.closers = append(app.closers, func() { stop(); <-done })
	return app, nil
}

// build is Build with the Redis epoch's source (returning 0: unknown).
func build(ctx context.Context, cfg config.Config, db *postgres.DB, rdb redis.UniversalClient, logger *slog.Logger, epoch func() uint64) (*App, error) {
	sessions, err := session.Open(ctx, cfg, db, rdb, epoch, logger)
	if err != nil {
		return nil, err
	}
	app := &App{Sessions: sessions, closers: []func(){sessions.Close}}
	registry := prometheus.NewRegistry()
	registry.MustRegister(sessions.Collectors()...)
	app.drainingGauge = prometheus.NewGauge(prometheus.GaugeOpts{Name: "dealctx_draining",
		Help: "1 while the process drains before shutting down (SIGTERM): /readyz answers 503, other routes serve."})
	registry.MustRegister(app.drainingGauge)
	// Audit events are already committed in the outbox; the waker only asks
	// the worker to move them now rather than at its next sweep.
	var auditWake func()
	if rdb != nil {
		waker := jobs.NewAuditWaker(asynq.NewClientFromRedisClient(rdb), logger)
		app.closers = append(app.closers, waker.Close)
		auditWake = waker.Notify
	}
	limiter := ratelimit.New(rdb, ratelimit.Options{
		AccountLimit: cfg.LoginAccountLimit, IPLimit: cfg.LoginIPLimit, Window: cfg.LoginLimitWindow,
		MemberLookupLimit: cfg.MemberLookupLimit, MemberLookupWindow: cfg.MemberLookupWindow,
		KeyPrefix: cfg.RedisKeyPrefix,
	}, logger)
	// The Redis copies of the access generations, relayed from the outbox
	// on the session store's tick, wherever sessions live in Redis.
	var copies *access.Copies
	if rdb != nil && sessions.Mode != session.ModePostgres {
		copies = access.New(rdb, cfg.RedisKeyPrefix, db, logger)
		// A process that lost Redis trusts it again only once the bumps
		// committed meanwhile are in Redis.
		sessions.BeforeTrust(copies.Relay)
		// A Redis failure anywhere in this process may have hidden a bump
		// (the revoking process's write failed too): no copy is believed
		// until a relay has landed the outbox.
		sessions.OnRedisFailure(copies.MarkBehind)
		// A hot request reads its session and the copies that vouch for
		// its decision in one round trip.
		sessions.ReadGenerations(copies.KeyPrefixes())
		app.copies = copies
		relayCtx, stopRelay := context.WithCancel(context.Background())
		relayDone := make(chan struct{})
		go func() {
			defer close(relayDone)
			copies.Run(relayCtx, accessRelayTick)
		}()
		app.closers = append(app.closers, func() { stopRelay(); <-relayDone })
	}
	var closeUsage func()
	app.Handler, closeUsage = newServer(web.Deps{
		Draining:      &app.draining,
		Access:        copies,
		Epoch:         epoch,
		Logger:        logger,
		Config:        cfg,
		Sessions:      sessions,
		DB:            db,
		Hasher:        auth.NewHasher(cfg.Argon2MemoryKiB, cfg.Argon2Time).Bound(cfg.PasswordHashConcurrency, hashWait),
		Health:        &session.Health{DB: db, Redis: rdb, Mode: sessions.Mode, Breaker: sessions.BreakerState, Topology: cfg.RedisTopology},
		Registry:      registry,
		AuditWake:     auditWake,
		Limiter:       limiter,
		MemberLookups: limiter,
	})
	// Closed first (closers run newest first): the last usage counts are
	// written while the database is still there.
	app.closers = append(app.closers, closeUsage)
	return app, nil
}

// access returns the app's copies of the access generations (nil without).
func (a *App) access() *access.Copies { return a.copies }

// NewServer returns the api's HTTP handler. Usage counts still pending
// when the process ends are lost (at most a second's); Build's App.Close
// writes them.
func NewServer(d web.Deps) http.Handler {
	h, _ := newServer(d)
	return h
}

// newServer is NewServer, also returning the close of its background work.
func newServer(d web.Deps) (http.Handler, func()) {
	s, closeUsage := web.New(d)
	return routes(s), closeUsage
}

// Deps are the server's dependencies (web.Deps).
type Deps = web.Deps

// RememberCookieName is the remember-me cookie's name.
const RememberCookieName = web.RememberCookieName
