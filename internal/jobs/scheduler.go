package jobs

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/robfig/cron/v3"
)

// Aligned returns s with `@every` schedules pinned to multiples of their
// interval since the Unix epoch. robfig/cron counts `@every` from the moment
// the process started, so two workers would disagree on the periods; field
// schedules (`*/15 * * * *`) are wall-clock aligned already and are
// returned unchanged.
func Aligned(s cron.Schedule) cron.Schedule {
	if c, ok := s.(cron.ConstantDelaySchedule); ok {
		return alignedEvery{sec: int64(c.Delay / time.Second)}
	}
	return s
}

// alignedEvery fires at every whole multiple of sec seconds since the epoch.
type alignedEvery struct{ sec int64 }

func (a alignedEvery) Next(t time.Time) time.Time {
	return time.Unix((t.Unix()/a.sec+1)*a.sec, 0).In(t.Location())
}

// PeriodTaskID is the task id of one job's one period: the same in every
// worker, so the queue takes it once.
func PeriodTaskID(taskType string, period time.Time) string {
	return fmt.Sprintf("%s:%d", taskType, period.Unix())
}

// retention keeps a finished period's task id taken for a few periods (at
// least a minute, at most a day), so a worker that fires late for the same
// period is refused rather than running the job twice.
func retention(s cron.Schedule, at time.Time) time.Duration {
	r := 3 * s.Next(at).Sub(at)
	return min(max(r, time.Minute), 24*time.Hour)
}

// Scheduler enqueues each entry's task at the entry's activation times, one
// task id per job and period, so however many workers run the schedule, each
// period's task runs once. Redis refusing a duplicate id is the expected
// outcome in all workers but one.
type Scheduler struct {
	Client  *asynq.Client
	Entries []Entry
	Deps    Deps
}

// Run schedules until ctx ends, then returns once any job it ran in this
// process (because Redis was unreachable) has stopped.
func (s *Scheduler) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, e := range s.Entries {
		wg.Go(func() { s.loop(ctx, e) })
	}
	wg.Wait()
}

func (s *Scheduler) loop(ctx context.Context, e Entry) {
	next := e.Schedule.Next(time.Now())
	for {
		timer := time.NewTimer(time.Until(next))
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
		s.fire(ctx, e, next)
		next = e.Schedule.Next(time.Now())
	}
}

// fire enqueues the task of the period that starts at at. When Redis cannot
// take it, the job runs here instead: every job is idempotent and safe to
// run beside itself, and the work must not wait for Redis.
func (s *Scheduler) fire(ctx context.Context, e Entry, at time.Time) {
	id := PeriodTaskID(e.Type, at)
	ectx, cancel := context.WithTimeout(ctx, 5*time.Second)
	_, err := s.Client.EnqueueContext(ectx, e.NewTask(), asynq.TaskID(id), asynq.Retention(retention(e.Schedule, at)))
	cancel()
	switch {
	case err == nil:
		s.Deps.Logger.Debug("job enqueued", "job", e.Name, "task_id", id)
	case errors.Is(err, asynq.ErrTaskIDConflict):
		s.Deps.Logger.Debug("job already enqueued for this period", "job", e.Name, "task_id", id)
	case ctx.Err() != nil:
	default:
		s.Deps.Logger.Warn("cannot enqueue; running the job in this process", "job", e.Name, "task_id", id, "error", err.Error())
		// Finish the current batch on shutdown, but never hang the exit.
		rctx, cancelRun := context.WithCancel(withRunID(context.WithoutCancel(ctx), id))
		stop := context.AfterFunc(ctx, func() { time.AfterFunc(10*time.Second, cancelRun) })
		d := s.Deps
		d.Stopping = ctx.Done()
		_, _ = e.Run(rctx, d) // the run logs its own outcome and records its metrics
		stop()
		cancelRun()
	}
}

type runIDKey struct{}

// withRunID names a run that asynq did not start, for its log line.
func withRunID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, runIDKey{}, id)
}
