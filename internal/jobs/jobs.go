// Package jobs is the worker's background work: the asynq task types, their
// constructors and handlers, the jobs they run against PostgreSQL, the cron
// schedule that enqueues them, and the api's audit waker.
package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/dealctx/dealctx/internal/deal"
	"github.com/dealctx/dealctx/internal/postgres"
	"github.com/hibiken/asynq"
)

// Task types.
const (
	TypeSessionCleanup  = "maintenance:session_cleanup"
	TypePruneStaleDeals = "maintenance:prune_stale_deals"
	TypeAuditFlush      = "audit:flush"
)

// Job names, as `worker run-once`, the logs and the metrics call them.
const (
	JobSessionCleanup  = "session-cleanup"
	JobPruneStaleDeals = "prune-stale-deals"
	JobAuditFlush      = "audit-flush"
)

// Queues the worker serves.
const (
	QueueAudit       = "audit"
	QueueMaintenance = "maintenance"
)

// Queues returns the queues a worker serves with their priorities: audit
// writes come before maintenance.
func Queues() map[string]int { return map[string]int{QueueAudit: 6, QueueMaintenance: 2} }

// DefaultBatchSize is how many rows one statement of a job touches.
const DefaultBatchSize = 1000

// NewSessionCleanupTask returns a task that deletes expired sessions and
// remember tokens.
func NewSessionCleanupTask(opts ...asynq.Option) *asynq.Task {
	return asynq.NewTask(TypeSessionCleanup, nil, append(maintenanceOpts(), opts...)...)
}

// NewPruneStaleDealsTask returns a task that clears users' last_deal_id where
// the deal is deleted or no longer accessible.
func NewPruneStaleDealsTask(opts ...asynq.Option) *asynq.Task {
	return asynq.NewTask(TypePruneStaleDeals, nil, append(maintenanceOpts(), opts...)...)
}

// NewAuditFlushTask returns a task that moves waiting audit events from the
// outbox into audit_log.
func NewAuditFlushTask(opts ...asynq.Option) *asynq.Task {
	return asynq.NewTask(TypeAuditFlush, nil, append([]asynq.Option{
		asynq.Queue(QueueAudit), asynq.MaxRetry(10), asynq.Timeout(10 * time.Minute),
	}, opts...)...)
}

// maintenanceOpts: few retries, since the next period runs the job anyway.
func maintenanceOpts() []asynq.Option {
	return []asynq.Option{asynq.Queue(QueueMaintenance), asynq.MaxRetry(3), asynq.Timeout(30 * time.Minute)}
}

// Deps are what the jobs need.
type Deps struct {
	DB      *postgres.DB
	Logger  *slog.Logger
	Metrics *Metrics // nil records nothing
	// BatchSize is the rows per statement; zero means DefaultBatchSize.
	BatchSize int
	// Stopping, once closed, makes a running job stop after its current
	// batch and report what it did; what is left waits for the next run.
	// Nil never closes.
	Stopping <-chan struct{}
}

func (d Deps) batch() int {
	if d.BatchSize > 0 {
		return d.BatchSize
	}
	return DefaultBatchSize
}

func (d Deps) stopping() bool {
	select {
	case <-d.Stopping:
		return true
	default:
		return false
	}
}

// SessionCleanup deletes expired sessions (tombstones included), then expired
// remember tokens, one short batch at a time until a batch comes back short.
// It returns how many sessions it deleted and logs one line for the run.
func SessionCleanup(ctx context.Context, d Deps) (deleted int64, err error) {
	start := time.Now()
	var tokens int64
	stopped, err := loop(ctx, d, func(limit int) (int64, error) {
		n, err := d.DB.DeleteExpiredSessions(ctx, limit)
		deleted += n
		return n, err
	})
	if err == nil && !stopped {
		stopped, err = loop(ctx, d, func(limit int) (int64, error) {
			n, err := d.DB.DeleteExpiredRememberTokens(ctx, limit)
			tokens += n
			return n, err
		})
	}
	// Invalidations queued for Redis are moot once their sessions expired;
	// the tiered store also trims them, but a postgres-mode deployment
	// relies on this.
	var invalidations int64
	if err == nil && !stopped {
		invalidations, err = d.DB.DeleteExpiredSessionInvalidations(ctx)
	}
	d.record(ctx, JobSessionCleanup, start, stopped, err,
		slog.Int64("deleted", deleted), slog.Int64("remember_tokens_deleted", tokens),
		slog.Int64("invalidations_deleted", invalidations))
	return deleted, err
}

// PruneStaleDeals clears last_deal_id where the deal is soft-deleted or the
// user can no longer access it, walking users in id order a batch at a time.
// It returns how many it cleared and logs one line for the run.
func PruneStaleDeals(ctx context.Context, d Deps) (cleared int64, err error) {
	start := time.Now()
	var after int64
	stopped := false
	for {
		var n int64
		n, after, err = d.DB.PruneStaleLastDeals(ctx, after, d.batch())
		cleared += n
		if err != nil || after == 0 {
			break
		}
		if stopped = d.stopping(); stopped {
			break
		}
	}
	d.record(ctx, JobPruneStaleDeals, start, stopped, err, slog.Int64("cleared", cleared))
	return cleared, err
}

// FlushAudit moves waiting audit events from the outbox into audit_log until
// the outbox is empty. Every event lands exactly once, whoever else is
// moving at the same time. It returns how many it moved and logs one line.
func FlushAudit(ctx context.Context, d Deps) (moved int64, err error) {
	start := time.Now()
	stopped, err := loop(ctx, d, func(limit int) (int64, error) {
		n, err := d.DB.MoveAuditEvents(ctx, limit)
		moved += n
		return n, err
	})
	d.record(ctx, JobAuditFlush, start, stopped, err, slog.Int64("moved", moved))
	return moved, err
}

// loop runs step until a batch comes back short, an error, or Stopping.
func loop(ctx context.Context, d Deps, step func(limit int) (int64, error)) (stopped bool, err error) {
	limit := d.batch()
	for {
		n, err := step(limit)
		if err != nil {
			return false, err
		}
		if n < int64(limit) {
			return false, nil
		}
		if d.stopping() {
			return true, nil
		}
		if err := ctx.Err(); err != nil {
			return false, err
		}
	}
}

// record logs the one line of a run and updates the metrics.
func (d Deps) record(ctx context.Context, job string, start time.Time, stopped bool, err error, counts ...slog.Attr) {
	elapsed := time.Since(start)
	d.Metrics.observe(job, elapsed, err)
	attrs := []slog.Attr{slog.String("job", job)}
	if id, ok := asynq.GetTaskID(ctx); ok {
		attrs = append(attrs, slog.String("task_id", id))
	} else if id, ok := ctx.Value(runIDKey{}).(string); ok {
		attrs = append(attrs, slog.String("task_id", id))
	}
	attrs = append(attrs, counts...)
	attrs = append(attrs, slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000))
	if stopped {
		attrs = append(attrs, slog.Bool("stopped_early", true))
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
		d.Logger.LogAttrs(ctx, slog.LevelError, "job failed", attrs...)
		return
	}
	d.Logger.LogAttrs(ctx, slog.LevelInfo, "job run", attrs...)
}

// NewServeMux routes each job's task type to its handler, from the table of
// jobs.
func NewServeMux(d Deps) *asynq.ServeMux {
	mux := asynq.NewServeMux()
	for _, j := range Jobs() {
		mux.HandleFunc(j.Type, handle(j, d))
	}
	return mux
}

// handle runs j for each of its tasks.
func handle(j Job, d Deps) asynq.HandlerFunc {
	return func(ctx context.Context, t *asynq.Task) error {
		if err := checkPayload(t); err != nil {
			return err
		}
		_, err := j.Run(ctx, d)
		return retryable(err)
	}
}

// checkPayload refuses, for good, a task that carries a payload: these tasks
// take none, so it was not made by this program.
func checkPayload(t *asynq.Task) error {
	if len(t.Payload()) > 0 {
		return fmt.Errorf("task %s: unexpected payload: %w", t.Type(), asynq.SkipRetry)
	}
	return nil
}

// retryable keeps transient failures (database unreachable, timeouts) for a
// retry with backoff and marks every other failure permanent: a broken
// statement fails the same way next time, and the next period runs anyway.
func retryable(err error) error {
	if err == nil {
		return nil
	}
	if deal.ErrorCode(err) == deal.EUNAVAILABLE || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
}
