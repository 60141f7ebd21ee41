package main

import (
	"context"
	"fmt"
	"time"

	"github.com/dealctx/dealctx/internal/config"
	"github.com/dealctx/dealctx/internal/postgres"
	"github.com/dealctx/dealctx/internal/redisclient"
)

// sessionKey is the tiered and redis session stores' key for a token.
func sessionKey(cfg config.Config, token string) string {
	return cfg.RedisKeyPrefix + "session:" + token
}

// forgetCachedSessions deletes the Redis copies of a user's sessions after
// PostgreSQL revoked them, so no copy outlives the revocation. It is a no-op
// when Redis is not configured or SESSION_STORE=postgres; otherwise a Redis
// failure is an error, because a copy left behind would sign the user in
// again once Redis serves it.
func forgetCachedSessions(ctx context.Context, cfg config.Config, db *postgres.DB, userID int64) error {
	if cfg.RedisURL == "" || cfg.SessionStore == config.StorePostgres {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	tokens, err := db.SessionTokensForUser(ctx, userID)
	if err != nil {
		return err
	}
	if len(tokens) == 0 {
		return nil
	}
	rdb, err := redisclient.New(cfg.RedisURL, cfg.RedisInsecureTLS)
	if err != nil {
		return err
	}
	defer rdb.Close()
	for len(tokens) > 0 {
		n := min(len(tokens), 500)
		keys := make([]string, n)
		for i, tok := range tokens[:n] {
			keys[i] = sessionKey(cfg, tok)
		}
		if err := rdb.Del(ctx, keys...).Err(); err != nil {
			return fmt.Errorf("delete Redis copies of the sessions: %w", err)
		}
		tokens = tokens[n:]
	}
	return nil
}
