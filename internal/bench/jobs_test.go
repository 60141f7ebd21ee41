//go:build bench

package bench

import (
	"context"

	"github.com/dealctx/dealctx/internal/postgres"
)

// The worker's jobs as this tree has them: batches of the store's own
// statements until a batch comes back short.
const batch = 1000

func sessionCleanup(ctx context.Context, db *postgres.DB) (int64, error) {
	return loopBatches(func() (int64, error) { return db.DeleteExpiredSessions(ctx, batch) })
}

func pruneStaleDeals(ctx context.Context, db *postgres.DB) (int64, error) {
	return loopBatches(func() (int64, error) { return db.PruneStaleLastDeals(ctx, batch) })
}

func flushAudit(ctx context.Context, db *postgres.DB) (int64, error) {
	return loopBatches(func() (int64, error) { return db.MoveAuditEvents(ctx, batch) })
}

func loopBatches(step func() (int64, error)) (int64, error) {
	var total int64
	for {
		n, err := step()
		total += n
		if err != nil || n < batch {
			return total, err
		}
	}
}
