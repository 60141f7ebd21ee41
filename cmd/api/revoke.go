package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/dealctx/dealctx/internal/config"
	"github.com/dealctx/dealctx/internal/postgres"
	"github.com/dealctx/dealctx/internal/redisclient"
	"github.com/dealctx/dealctx/internal/session"
)

// revokeSessions ends every session of the user in the session store the
// configuration names (session.RevokeUser: tombstones in PostgreSQL and
// Redis, queued for Redis when it is down in tiered mode). A failure is an
// error: a session left behind would keep the user signed in.
func revokeSessions(ctx context.Context, cfg config.Config, db *postgres.DB, logger *slog.Logger, userID int64) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	rdb, err := redisclient.Open(cfg, redisclient.RequestTimeouts)
	if err != nil {
		return err
	}
	if rdb != nil {
		defer func() { _ = rdb.Close() }()
	}
	sessions, err := session.OpenRevoker(cfg, db, rdb, logger)
	if err != nil {
		return err
	}
	defer sessions.Close()
	return sessions.RevokeUser(ctx, userID)
}
