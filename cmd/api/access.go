package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/dealctx/dealctx/internal/access"
	"github.com/dealctx/dealctx/internal/config"
	"github.com/dealctx/dealctx/internal/deal"
	"github.com/dealctx/dealctx/internal/postgres"
	"github.com/dealctx/dealctx/internal/redisclient"
)

// runAccess is `api access reset --email E | --deal ID | --all`: for
// operators who edited users, deals or deal_members by hand, it bumps the
// user's, the deal's or the global access generation, so the next request
// of that user, on that deal, or of everyone re-checks access in
// PostgreSQL.
func runAccess(ctx context.Context, db *postgres.DB, cfg config.Config, logger *slog.Logger, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("access reset", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	email := fs.String("email", "", "the user's email")
	dealID := fs.Int64("deal", 0, "the deal's id")
	all := fs.Bool("all", false, "everyone")
	if err := fs.Parse(args[1:]); err != nil {
		return fmt.Errorf("access reset: %w", err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("access reset: unexpected argument %q", fs.Arg(0))
	}
	given := 0
	fs.Visit(func(*flag.Flag) { given++ })
	if given != 1 {
		return errors.New("access reset: want exactly one of --email E, --deal ID, --all")
	}
	var out map[string]any
	switch {
	case *all:
		if err := db.ResetAllAccess(ctx); err != nil {
			return fmt.Errorf("access reset: %w", err)
		}
		out = map[string]any{"all": true}
	case *email != "":
		addr, err := deal.ValidateEmail(*email)
		if err != nil {
			return fmt.Errorf("access reset: --email: %s", deal.ErrorMessage(err))
		}
		id, err := db.ResetUserAccess(ctx, addr)
		if err != nil {
			return fmt.Errorf("access reset: %s", deal.ErrorMessage(err))
		}
		out = map[string]any{"user_id": id}
	case *dealID > 0:
		if err := db.ResetDealAccess(ctx, *dealID); err != nil {
			return fmt.Errorf("access reset: %s", deal.ErrorMessage(err))
		}
		out = map[string]any{"deal_id": *dealID}
	default:
		return errors.New("access reset: --deal: want a positive deal id")
	}
	relayAccess(ctx, cfg, db, logger)
	return json.NewEncoder(stdout).Encode(out)
}

// relayAccess writes the access generations a command just committed to
// Redis (internal/access), when Redis is configured. PostgreSQL is the
// record: when Redis cannot be reached, every api process's relay lands
// them within a tick of reaching it, so this is a warning, not a failure.
func relayAccess(ctx context.Context, cfg config.Config, db *postgres.DB, logger *slog.Logger) {
	if cfg.SessionStore == config.StorePostgres {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	rdb, err := redisclient.Open(cfg, redisclient.RequestTimeouts)
	if err != nil || rdb == nil {
		return
	}
	defer func() { _ = rdb.Close() }()
	if err := access.New(rdb, cfg.RedisKeyPrefix, db, logger).Relay(ctx); err != nil {
		logger.Warn("access generations not written to redis; the api processes will relay them", "err", err)
	}
}
