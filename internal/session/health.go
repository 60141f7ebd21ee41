package session

import (
	"context"
	"sync"
	"time"

	"github.com/dealctx/dealctx/internal/postgres"
	"github.com/dealctx/dealctx/internal/redisclient"
	"github.com/redis/go-redis/v9"
)

// HealthReport is the session layer's health with every detail: what
// /api/admin/stats and /admin show admins. Anonymous GET /api/health/session
// gets only the contract's fields of it (httpapi's publicHealth).
type HealthReport struct {
	Status   string         `json:"status"`
	Store    string         `json:"store"`
	Redis    RedisHealth    `json:"redis"`
	Postgres PostgresHealth `json:"postgres"`
}

// RedisHealth is Redis's part of a HealthReport.
type RedisHealth struct {
	Configured bool     `json:"configured"`
	Healthy    bool     `json:"healthy"`
	LatencyMS  *float64 `json:"latency_ms"`
	// Breaker is the tiered store's circuit breaker state: "closed",
	// "half-open" or "open"; absent for other stores.
	Breaker string `json:"breaker,omitempty"`
	// Topology is "single", "sentinel" or "cluster"; absent when Redis is
	// not configured.
	Topology string `json:"topology,omitempty"`
	// Node is the address of the Redis server that answered (the current
	// master through Sentinel); absent when none did.
	Node string `json:"node,omitempty"`
}

// PostgresHealth is PostgreSQL's part of a HealthReport.
type PostgresHealth struct {
	Healthy   bool     `json:"healthy"`
	LatencyMS *float64 `json:"latency_ms"`
}

// Health checks the session stores, each within a short budget, in parallel.
type Health struct {
	DB    *postgres.DB
	Redis redis.UniversalClient // nil when Redis is not configured
	Mode  StoreMode
	// Budget bounds each check; zero means 500ms.
	Budget time.Duration
	// Breaker reports the tiered store's breaker state (Manager.BreakerState);
	// nil or "" when there is none.
	Breaker func() string
	// Topology names Redis's topology for the report (config.RedisTopology);
	// "" means "single".
	Topology string
}

// Check pings PostgreSQL and, when configured, Redis. Status is "ok" when
// every store the mode uses is healthy and the tiered store's breaker is
// closed, else "degraded". It returns within Budget.
func (h *Health) Check(ctx context.Context) HealthReport {
	budget := h.Budget
	if budget == 0 {
		budget = 500 * time.Millisecond
	}
	rep := HealthReport{Status: "ok", Store: string(h.Mode)}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		rep.Postgres.Healthy, rep.Postgres.LatencyMS = timed(ctx, budget, h.DB.Ping)
	}()
	if !isNil(h.Redis) {
		rep.Redis.Configured = true
		rep.Redis.Topology = h.Topology
		if rep.Redis.Topology == "" {
			rep.Redis.Topology = "single"
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			nctx, cancel := context.WithTimeout(ctx, budget)
			defer cancel()
			rep.Redis.Healthy, rep.Redis.LatencyMS = timed(nctx, budget, func(ctx context.Context) error {
				return h.Redis.Ping(ctx).Err()
			})
			if rep.Redis.Healthy {
				rep.Redis.Node = redisclient.Node(nctx, h.Redis)
			}
		}()
	}
	wg.Wait()
	if h.Breaker != nil {
		rep.Redis.Breaker = h.Breaker()
	}
	usesRedis := h.Mode == ModeTiered || h.Mode == ModeRedis
	if !rep.Postgres.Healthy || usesRedis && (!rep.Redis.Healthy || rep.Redis.Breaker != "" && rep.Redis.Breaker != "closed") {
		rep.Status = "degraded"
	}
	return rep
}

func timed(ctx context.Context, budget time.Duration, ping func(context.Context) error) (bool, *float64) {
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	start := time.Now()
	if err := ping(ctx); err != nil {
		return false, nil
	}
	ms := float64(time.Since(start).Microseconds()) / 1000
	return true, &ms
}
