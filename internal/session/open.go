package session

import (
	"context"
	"log/slog"

	"github.com/alexedwards/scs/v2"
	"github.com/dealctx/dealctx/internal/config"
	"github.com/dealctx/dealctx/internal/postgres"
	"github.com/redis/go-redis/v9"
)

// Open builds the session manager for cfg.SessionStore. rdb is nil when Redis
// is not configured.
func Open(ctx context.Context, cfg config.Config, db *postgres.DB, rdb *redis.Client, logger *slog.Logger) (*Manager, error) {
	var store scs.CtxStore = NewPostgresStore(db, cfg.SessionLifetime)
	mode := config.StorePostgres
	logger.Info("session store: " + mode)
	return NewManager(store, mode, Options{Lifetime: cfg.SessionLifetime, CookieSecure: cfg.CookieSecure}), nil
}
