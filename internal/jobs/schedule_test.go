package jobs

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/dealctx/dealctx/internal/config"
	"github.com/dealctx/dealctx/internal/redisclient"
	"github.com/dealctx/dealctx/internal/testserver"
	"github.com/hibiken/asynq"
)

func TestAlignedEveryGivesTwoWorkersTheSamePeriods(t *testing.T) {
	t.Parallel()
	s, err := config.ParseCron("@every 2s")
	if err != nil {
		t.Fatal(err)
	}
	a, b := Aligned(s), Aligned(s)
	// Two workers started 1.3 s apart.
	ta := time.Date(2026, 1, 2, 3, 4, 5, 100_000_000, time.UTC)
	tb := ta.Add(1300 * time.Millisecond)
	na, nb := a.Next(ta), b.Next(tb)
	if got, want := na, time.Date(2026, 1, 2, 3, 4, 6, 0, time.UTC); !got.Equal(want) {
		t.Errorf("first period of worker a: got %v, want %v", got, want)
	}
	if !a.Next(na).Equal(nb) {
		t.Errorf("worker b's first period: got %v, want worker a's second, %v", nb, a.Next(na))
	}
	if got, want := PeriodTaskID(TypeAuditFlush, na), "audit:flush:"+strconv.FormatInt(na.Unix(), 10); got != want {
		t.Errorf("task id: got %q, want %q", got, want)
	}
}

func TestFieldSchedulesAreWallClockPeriods(t *testing.T) {
	t.Parallel()
	s, err := config.ParseCron("*/15 * * * *")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if got, want := Aligned(s).Next(at), time.Date(2026, 1, 2, 3, 15, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("next: got %v, want %v", got, want)
	}
	if got, want := retention(Aligned(s), time.Date(2026, 1, 2, 3, 15, 0, 0, time.UTC)), 45*time.Minute; got != want {
		t.Errorf("retention: got %v, want three periods, %v", got, want)
	}
}

func TestScheduleNamesTheBadVariable(t *testing.T) {
	t.Parallel()
	cfg := config.Config{SessionCleanupCron: "@every 1m", PruneStaleDealsCron: "61 * * * *", AuditSweepCron: "@every 15s"}
	_, err := Schedule(cfg)
	if err == nil || err.Error() != "config: PRUNE_STALE_DEALS_CRON: not a valid cron schedule" {
		t.Errorf("got %v, want the error to name PRUNE_STALE_DEALS_CRON", err)
	}
}

// queued counts the tasks in a queue, in any state.
func queued(t *testing.T, insp *asynq.Inspector, queue string) int {
	t.Helper()
	info, err := insp.GetQueueInfo(queue)
	if err != nil {
		return 0
	}
	return info.Size + info.Completed
}

func TestSchedulerFireEnqueuesOneTaskPerPeriod(t *testing.T) {
	t.Parallel()
	redis := testserver.StartRedis(t)
	rdb, err := redisclient.NewWithTimeouts(redis.URL(), false, redisclient.WorkerTimeouts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := rdb.Close(); err != nil {
			t.Errorf("close Redis client: %v", err)
		}
	})
	entries, err := Schedule(config.Config{SessionCleanupCron: "@every 2s", PruneStaleDealsCron: "@every 2s", AuditSweepCron: "@every 2s"})
	if err != nil {
		t.Fatal(err)
	}
	// Three workers fire for the same period, then one for the next.
	d := Deps{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	period := time.Unix(1_800_000_000, 0)
	for range 3 {
		s := &Scheduler{Client: asynq.NewClientFromRedisClient(rdb), Entries: entries, Deps: d}
		s.fire(context.Background(), entries[0], period)
	}
	s := &Scheduler{Client: asynq.NewClientFromRedisClient(rdb), Entries: entries, Deps: d}
	s.fire(context.Background(), entries[0], period.Add(2*time.Second))

	insp := asynq.NewInspectorFromRedisClient(rdb)
	if n := queued(t, insp, QueueMaintenance); n != 2 {
		t.Fatalf("tasks: got %d, want 2 (one per period)", n)
	}
	info, err := insp.GetTaskInfo(QueueMaintenance, PeriodTaskID(TypeSessionCleanup, period))
	if err != nil {
		t.Fatalf("task of the first period: %v", err)
	}
	if info.Retention != time.Minute {
		t.Errorf("retention: got %v, want 1m (3 periods, at least a minute)", info.Retention)
	}
}

func TestSchedulerRunsTheJobHereWhenRedisIsDown(t *testing.T) {
	t.Parallel()
	db, d := setup(t)
	outboxEvents(t, db, 120)
	redis := testserver.StartRedis(t)
	rdb, err := redisclient.NewWithTimeouts(redis.URL(), false, redisclient.WorkerTimeouts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := rdb.Close(); err != nil {
			t.Errorf("close Redis client: %v", err)
		}
	})
	redis.Kill()
	entries, err := Schedule(config.Config{SessionCleanupCron: "@every 2s", PruneStaleDealsCron: "@every 2s", AuditSweepCron: "@every 2s"})
	if err != nil {
		t.Fatal(err)
	}
	s := &Scheduler{Client: asynq.NewClientFromRedisClient(rdb), Entries: entries, Deps: d}
	s.fire(context.Background(), entries[2], time.Now().Truncate(2*time.Second))
	if n := count(t, db, `SELECT count(*) FROM audit_log`); n != 120 {
		t.Errorf("audit_log with Redis down: got %d events, want 120", n)
	}
}

func TestAuditWakerCoalescesAndNeverBlocks(t *testing.T) {
	t.Parallel()
	redis := testserver.StartRedis(t)
	rdb, err := redisclient.New(redis.URL(), false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := rdb.Close(); err != nil {
			t.Errorf("close Redis client: %v", err)
		}
	})
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	w := NewAuditWaker(asynq.NewClientFromRedisClient(rdb), logger)
	for range 500 {
		w.Notify()
	}
	w.Close()
	insp := asynq.NewInspectorFromRedisClient(rdb)
	if n := queued(t, insp, QueueAudit); n < 1 || n > 2 {
		t.Errorf("wake tasks after 500 notifications: got %d, want 1 or 2", n)
	}

	// With Redis gone, Notify still returns at once and Close finishes.
	redis.Kill()
	w = NewAuditWaker(asynq.NewClientFromRedisClient(rdb), logger)
	start := time.Now()
	for range 500 {
		w.Notify()
	}
	if el := time.Since(start); el > time.Second {
		t.Errorf("500 notifications with Redis down took %v, want well under 1s", el)
	}
	done := make(chan struct{})
	go func() { w.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close with Redis down: did not return within 10s")
	}
}

func TestEveryJobOfTheTableIsRoutedScheduledAndDocumented(t *testing.T) {
	t.Parallel()
	cfg, err := config.Load(func(k string) string { return map[string]string{"DATABASE_URL": "postgres://x/y"}[k] })
	if err != nil {
		t.Fatal(err)
	}
	entries, err := Schedule(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := NewServeMux(Deps{})
	seen := map[string]bool{}
	for i, j := range Jobs() {
		if seen[j.Name] || seen[j.Type] {
			t.Errorf("%s: name or task type used twice", j.Name)
		}
		seen[j.Name], seen[j.Type] = true, true
		if got := j.NewTask().Type(); got != j.Type {
			t.Errorf("%s: task type got %q, want %q", j.Name, got, j.Type)
		}
		if _, pattern := mux.Handler(j.NewTask()); pattern != j.Type {
			t.Errorf("%s: handler pattern got %q, want %q", j.Name, pattern, j.Type)
		}
		if got, want := j.SpecFrom(cfg), j.DefaultSpec(); got != want || want == "" {
			t.Errorf("%s: spec with %s unset got %q, want the documented default %q", j.Name, j.Env, got, want)
		}
		if entries[i].Name != j.Name || entries[i].Spec != j.SpecFrom(cfg) {
			t.Errorf("schedule entry %d: got %s %q, want %s %q", i, entries[i].Name, entries[i].Spec, j.Name, j.SpecFrom(cfg))
		}
		if got, ok := Lookup(j.Name); !ok || got.Type != j.Type {
			t.Errorf("Lookup(%q): got %v %v, want the job", j.Name, got.Type, ok)
		}
		for _, v := range config.Variables {
			if v.Name == j.Env && v.ReadBy&config.ProcWorker == 0 {
				t.Errorf("%s: %s is not marked as read by the worker", j.Name, j.Env)
			}
		}
	}
	if _, ok := Lookup("vacuum"); ok {
		t.Errorf("Lookup of an unknown job: got ok, want not found")
	}
}
