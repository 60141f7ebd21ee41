package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/dealctx/dealctx/internal/config"
	"github.com/hibiken/asynq"
	"github.com/robfig/cron/v3"
)

// Job is one row of the worker's table of jobs: everything `worker run-once`,
// the task handlers, the cron schedule and the metrics know about a job.
type Job struct {
	// Name is the job as `worker run-once`, the logs and the metrics' job
	// label call it.
	Name string
	// Type is its asynq task type.
	Type string
	// Env names the variable holding its cron spec; SpecFrom reads that
	// spec from a loaded Config.
	Env      string
	SpecFrom func(config.Config) string
	// Does says what one run does, for --help.
	Does string
	// Count names what a run counts, the key of run-once's summary
	// {"task": Name, Count: N}.
	Count string
	// Run runs the job once, in this process, and returns its count.
	Run func(context.Context, Deps) (int64, error)
	// NewTask returns the job's task, with its queue, retries and timeout.
	NewTask func(...asynq.Option) *asynq.Task
}

// Jobs returns the table of jobs, in the order --help and `worker schedule`
// list them: the single list of what the worker runs.
func Jobs() []Job {
	return []Job{{
		Name: JobSessionCleanup, Type: TypeSessionCleanup,
		Env: "SESSION_CLEANUP_CRON", SpecFrom: func(c config.Config) string { return c.SessionCleanupCron },
		Does: "delete expired sessions now", Count: "deleted",
		Run: SessionCleanup, NewTask: NewSessionCleanupTask,
	}, {
		Name: JobPruneStaleDeals, Type: TypePruneStaleDeals,
		Env: "PRUNE_STALE_DEALS_CRON", SpecFrom: func(c config.Config) string { return c.PruneStaleDealsCron },
		Does: "clear stale users.last_deal_id now", Count: "cleared",
		Run: PruneStaleDeals, NewTask: NewPruneStaleDealsTask,
	}, {
		Name: JobAuditFlush, Type: TypeAuditFlush,
		Env: "AUDIT_SWEEP_CRON", SpecFrom: func(c config.Config) string { return c.AuditSweepCron },
		Does: "move waiting audit events into audit_log now", Count: "moved",
		Run: FlushAudit, NewTask: NewAuditFlushTask,
	}}
}

// Lookup returns the job called name in the table.
func Lookup(name string) (Job, bool) {
	for _, j := range Jobs() {
		if j.Name == name {
			return j, true
		}
	}
	return Job{}, false
}

// DefaultSpec is the schedule the job runs on when its variable is unset.
func (j Job) DefaultSpec() string {
	for _, v := range config.Variables {
		if v.Name == j.Env {
			return v.Default
		}
	}
	return ""
}

// Entry is one line of the worker's schedule: a job, its spec and when it
// runs.
type Entry struct {
	Job
	Spec string
	// Schedule gives the entry's activation times; every worker computes
	// the same ones from the same spec.
	Schedule cron.Schedule
}

// Schedule returns the worker's cron entries, one per job of the table, with
// the specs of cfg parsed once for the whole process (the scheduler, and
// `worker schedule`, use the result).
func Schedule(cfg config.Config) ([]Entry, error) {
	var list []Entry
	for _, j := range Jobs() {
		spec := j.SpecFrom(cfg)
		s, err := config.ParseCron(spec)
		if err != nil {
			return nil, fmt.Errorf("config: %s: not a valid cron schedule", j.Env)
		}
		list = append(list, Entry{Job: j, Spec: spec, Schedule: Aligned(s)})
	}
	return list, nil
}

// Next returns the entry's next n activation times after t.
func (e Entry) Next(t time.Time, n int) []time.Time {
	out := make([]time.Time, 0, n)
	for range n {
		t = e.Schedule.Next(t)
		out = append(out, t)
	}
	return out
}
