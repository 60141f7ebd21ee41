//go:build bench

package bench

import (
	"context"
	"io"

	"github.com/dealctx/dealctx/internal/jobs"
	"github.com/dealctx/dealctx/internal/logging"
	"github.com/dealctx/dealctx/internal/postgres"
)

// The worker's jobs exactly as `worker run-once` runs them.

func jobDeps(db *postgres.DB) jobs.Deps {
	return jobs.Deps{DB: db, Logger: logging.New(io.Discard, "json", 0)}
}

func sessionCleanup(ctx context.Context, db *postgres.DB) (int64, error) {
	return jobs.SessionCleanup(ctx, jobDeps(db))
}

func pruneStaleDeals(ctx context.Context, db *postgres.DB) (int64, error) {
	return jobs.PruneStaleDeals(ctx, jobDeps(db))
}

func flushAudit(ctx context.Context, db *postgres.DB) (int64, error) {
	return jobs.FlushAudit(ctx, jobDeps(db))
}

// pruneBefore is the statement prune-stale-deals ran before the keyset walk
// (main at 1afb51a): each batch joined users from the start, so it read past
// every row earlier batches had cleared. Kept to record before and after.
func pruneBefore(ctx context.Context, db *postgres.DB) (int64, error) {
	var total int64
	for {
		tag, err := db.Pool.Exec(ctx, `
UPDATE users SET last_deal_id = NULL
WHERE id IN (
	SELECT u.id FROM users u
	JOIN deals d ON d.id = u.last_deal_id
	LEFT JOIN deal_members m ON m.deal_id = d.id AND m.user_id = u.id
	WHERE d.deleted_at IS NOT NULL
	   OR NOT (d.owner_id = u.id OR m.user_id IS NOT NULL OR u.is_admin)
	LIMIT $1
	FOR UPDATE OF u SKIP LOCKED
)`, jobs.DefaultBatchSize)
		total += tag.RowsAffected()
		if err != nil || tag.RowsAffected() < jobs.DefaultBatchSize {
			return total, err
		}
	}
}
