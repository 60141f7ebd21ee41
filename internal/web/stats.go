package web

import (
	"context"
	"net/http"
	"time"

	"github.com/dealctx/dealctx/internal/deal"
	"github.com/dealctx/dealctx/internal/session"
	"github.com/dealctx/dealctx/internal/usage"
)

// The success figures that GET /api/admin/stats and /admin both report,
// and the admin check.

// StatsSource records and reads the success figures, shared by every api
// process (PostgreSQL implements it).
type StatsSource interface {
	usage.Counter
	// FindUsageStats returns the figures since the given moment and the
	// last seven UTC days'.
	FindUsageStats(ctx context.Context, since time.Time) (deal.UsageStats, error)
}

var errNoStats = deal.Errorf(deal.EUNAVAILABLE, "The figures are not available: this server records none.")

// AdminStats is what GET /api/admin/stats and /admin report for one window.
type AdminStats struct {
	Window             string        `json:"window"`
	Since              time.Time     `json:"since"`
	SignIns            int64         `json:"sign_ins"`
	SignInsRestored    int64         `json:"sign_ins_restored"`
	SelectorPrompts    int64         `json:"selector_prompts"`
	Restores           restoreCounts `json:"restores"`
	RestoreSuccessRate *float64      `json:"restore_success_rate"`
	ActiveSessions     int64         `json:"active_sessions"`
	Store              string        `json:"store"`
	RedisHealthy       bool          `json:"redis_healthy"`
	// Breaker is the tiered store's breaker; null for other stores.
	Breaker *string `json:"breaker"`
	// RedisTopology is "single", "sentinel" or "cluster"; null without Redis.
	RedisTopology *string `json:"redis_topology"`
	// RedisNode is the host:port of the Redis server that answered; null
	// without Redis or when none did.
	RedisNode *string `json:"redis_node"`

	Usage deal.UsageStats `json:"-"`
}

type restoreCounts struct {
	Restored int64 `json:"restored"`
	Denied   int64 `json:"denied"`
	Deleted  int64 `json:"deleted"`
	Failed   int64 `json:"failed"`
}

// FindAdminStats reads the figures for window (a key of
// deal.StatsWindows), with the session layer's health from health (called
// only for a valid window).
func (s *Server) FindAdminStats(ctx context.Context, window string, health func(context.Context) session.HealthReport) (AdminStats, error) {
	span, ok := deal.StatsWindows[window]
	if !ok {
		return AdminStats{}, deal.Errorf(deal.EINVALID, "window must be 24h or 7d.")
	}
	if s.Stats == nil {
		return AdminStats{}, errNoStats
	}
	u, err := s.Stats.FindUsageStats(ctx, time.Now().Add(-span))
	if err != nil {
		return AdminStats{}, err
	}
	h := health(ctx)
	st := AdminStats{
		Window: window, Since: u.Since.UTC(), SignIns: u.SignIns, SignInsRestored: u.SignInsRestored,
		SelectorPrompts:    u.SelectorPrompts,
		Restores:           restoreCounts{Restored: u.Restored, Denied: u.Denied, Deleted: u.Deleted, Failed: u.Failed},
		RestoreSuccessRate: u.RestoreSuccessRate(), ActiveSessions: u.ActiveSessions,
		Store: h.Store, RedisHealthy: h.Redis.Healthy, Usage: u,
	}
	st.Breaker, st.RedisTopology, st.RedisNode = nonEmpty(h.Redis.Breaker), nonEmpty(h.Redis.Topology), nonEmpty(h.Redis.Node)
	return st, nil
}

// SessionHealth checks the session layer, or reports nothing known when
// the server has no checker.
func (s *Server) SessionHealth(ctx context.Context) session.HealthReport {
	if s.Health == nil {
		return session.HealthReport{}
	}
	return s.Health.Check(ctx)
}

// nonEmpty is s, or nil (JSON null) when s is empty.
func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// RequireAdmin lets only admins through; others are 403 forbidden.
func (s *Server) RequireAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		u, err := s.DB.FindUserByID(ctx, s.Sessions.UserID(ctx))
		if err == nil && !u.IsAdmin {
			err = errAdminOnly
		}
		if err != nil {
			s.WriteError(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

var errAdminOnly = deal.Errorf(deal.EFORBIDDEN, "Only admins may see the figures.")
