// Package web is what the JSON API (internal/web/api) and the pages
// (internal/web/pages) share: the server and its dependencies, the one
// error writer (the contract's error shape, or the HTML error page),
// JSON encoding, headers, the middleware (request ids, instrumenting,
// sessions, remember-me, sign-in checks, the restore), the client's
// address, metrics, the access checks, the openings that read what a
// request carries, the calls into internal/app, and rendering a page.
// Routes and assembly are internal/httpapi's.
package web

import (
	"context"
	"log/slog"
	"net/http"
	"sync/atomic"

	"github.com/dealctx/dealctx/internal/access"

	"github.com/dealctx/dealctx/internal/app"
	"github.com/dealctx/dealctx/internal/auth"
	"github.com/dealctx/dealctx/internal/config"
	"github.com/dealctx/dealctx/internal/logging"
	"github.com/dealctx/dealctx/internal/postgres"
	"github.com/dealctx/dealctx/internal/session"
	"github.com/dealctx/dealctx/internal/usage"
	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
)

// Deps are the server's dependencies, all explicit.
type Deps struct {
	// Draining, once true, makes /readyz answer 503 so that balancers take
	// the process out of rotation while it still serves (App.Drain).
	Draining *atomic.Bool
	Logger   *slog.Logger
	Config   config.Config
	Sessions *session.Manager
	DB       *postgres.DB
	Hasher   *auth.Hasher
	// Health reports the session layer's state for /api/health/session.
	Health HealthChecker
	// Registry receives the server's metrics; nil means a private registry.
	Registry *prometheus.Registry
	// Gatherer serves /metrics; nil means Registry.
	Gatherer prometheus.Gatherer
	// AuditWake is called after a request recorded audit events, so the
	// worker moves them promptly; it must not block. Nil does nothing.
	AuditWake func()
	// Limiter throttles failed sign-ins; nil means no throttling.
	Limiter LoginLimiter
	// MemberLookups throttles member additions by unknown email; nil means
	// no throttling.
	MemberLookups MemberLookupLimiter
	// Stats records and reads the success figures across processes; nil
	// means DB when it provides them, else the figures are not recorded
	// and GET /api/admin/stats answers 503.
	Stats StatsSource
	// Access holds the Redis copies of the access generations; nil means
	// every access check asks PostgreSQL.
	Access *access.Copies
	// Epoch returns the Redis epoch (0: unknown); nil means unknown. A
	// checked decision is served again only at the epoch it was made at.
	Epoch func() uint64
}

// HealthChecker reports the session layer's health.
type HealthChecker interface {
	Check(ctx context.Context) session.HealthReport
}

// LoginLimiter throttles failed sign-ins per account and per client IP,
// reserving a slot before the password is checked.
type LoginLimiter interface {
	// Reserve takes a slot for one attempt and returns zero, or how long
	// the caller must wait (having taken nothing). A failed attempt keeps
	// its slot.
	Reserve(ctx context.Context, email, ip string) (retryAfterSeconds int)
	// Succeeded resets the account's count and gives the IP's slot back.
	Succeeded(ctx context.Context, email, ip string)
	// Release gives both slots back: the password was never checked.
	Release(ctx context.Context, email, ip string)
}

// MemberLookupLimiter throttles, per signed-in user, member additions whose
// email matches no user, so adding members cannot test which emails have
// accounts.
type MemberLookupLimiter interface {
	// ReserveMemberLookup takes a slot before the email is looked up and
	// returns zero, or how long the caller must wait.
	ReserveMemberLookup(ctx context.Context, userID int64) (retryAfterSeconds int)
	// MemberLookupFound gives the slot back: the email matched a user.
	MemberLookupFound(ctx context.Context, userID int64)
}

// Server holds what the handlers share.
type Server struct {
	Deps
	Metrics  *metrics
	restorer *app.Restorer[postgres.Gens]
	app      *app.Service // the use cases the handlers call
	Pages    *PageSet
	Mux      *chi.Mux // the router, for the route of a request it refused
	// accessLog writes the one line per request (Instrument): Logger's
	// batching side when it has one (logging.Access).
	accessLog *logging.AccessLog
}

// New returns the server over d, its defaults filled in, without
// routes, and the close of its background work (the usage counts' writer).
func New(d Deps) (*Server, func()) {
	if d.Registry == nil {
		d.Registry = prometheus.NewRegistry()
	}
	if d.Gatherer == nil {
		d.Gatherer = d.Registry
	}
	if d.AuditWake == nil {
		d.AuditWake = func() {}
	}
	if d.Draining == nil {
		d.Draining = new(atomic.Bool)
	}
	if src, ok := any(d.DB).(StatsSource); ok && d.Stats == nil && d.DB != nil {
		d.Stats = src
	}
	var counter usage.Counter
	if d.Stats != nil {
		counter = d.Stats
	}
	rec := usage.New(counter, d.Logger)
	s := &Server{Deps: d, Metrics: newMetrics(d.Registry, d.DB, rec), accessLog: logging.Access(d.Logger)}
	s.Pages = NewPageSet(func(w http.ResponseWriter, r *http.Request) { s.WriteError(w, r, ErrRouteNotFound) })
	s.app = s.newApp()
	return s, rec.Close
}
