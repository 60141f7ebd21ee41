package main

import (
	"context"
	"fmt"
	"maps"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dealctx/dealctx/internal/config"
	"github.com/dealctx/dealctx/internal/postgres"
	"github.com/dealctx/dealctx/internal/postgres/pgtest"
	"github.com/dealctx/dealctx/internal/testserver"
)

func TestRunOnceSessionCleanupPrintsTheContractSummary(t *testing.T) {
	t.Parallel()
	env := map[string]string{"DATABASE_URL": pgtest.NewDatabase(t), "LOG_LEVEL": "error"}
	db := openDB(t, env)
	// More than one batch of expired rows, and live ones that must stay.
	exec(t, db, `INSERT INTO sessions (token, data, expiry) SELECT 'old'||g, '\x01', now() - interval '1 hour' FROM generate_series(1, 2500) g`)
	exec(t, db, `INSERT INTO sessions (token, data, expiry) SELECT 'live'||g, '\x01', now() + interval '1 hour' FROM generate_series(1, 7) g`)

	out, err := command(env, "run-once", "session-cleanup")
	if err != nil {
		t.Fatalf("run-once: %v", err)
	}
	if want := `{"task":"session-cleanup","deleted":2500}` + "\n"; out != want {
		t.Errorf("stdout: got %q, want %q", out, want)
	}
	if n := count(t, db, `SELECT count(*) FROM sessions`); n != 7 {
		t.Errorf("sessions left: got %d, want the 7 live ones", n)
	}
}

func TestRunOncePruneStaleDealsPrintsTheContractSummary(t *testing.T) {
	t.Parallel()
	env := map[string]string{"DATABASE_URL": pgtest.NewDatabase(t), "LOG_LEVEL": "error"}
	db := openDB(t, env)
	exec(t, db, `INSERT INTO users (email) VALUES ('owner@x')`)
	exec(t, db, `INSERT INTO deals (name, owner_id) SELECT n, (SELECT id FROM users) FROM unnest(ARRAY['live', 'gone']) n`)
	exec(t, db, `UPDATE users SET last_deal_id = (SELECT id FROM deals WHERE name = 'live')`)
	exec(t, db, `INSERT INTO users (email, last_deal_id) SELECT 'u'||g||'@x', (SELECT id FROM deals WHERE name = 'gone') FROM generate_series(1, 1500) g`)
	exec(t, db, `UPDATE deals SET deleted_at = now() WHERE name = 'gone'`)

	out, err := command(env, "run-once", "prune-stale-deals")
	if err != nil {
		t.Fatalf("run-once: %v", err)
	}
	if want := `{"task":"prune-stale-deals","cleared":1500}` + "\n"; out != want {
		t.Errorf("stdout: got %q, want %q", out, want)
	}
	if n := count(t, db, `SELECT count(*) FROM users WHERE last_deal_id IS NOT NULL`); n != 1 {
		t.Errorf("users with a last deal: got %d, want 1 (the owner of the live deal)", n)
	}
}

func TestRunOnceAuditFlushPrintsItsSummary(t *testing.T) {
	t.Parallel()
	env := map[string]string{"DATABASE_URL": pgtest.NewDatabase(t), "LOG_LEVEL": "error"}
	db := openDB(t, env)
	exec(t, db, `INSERT INTO audit_outbox (action, request_id) SELECT 'deal.selected', 'req-'||g FROM generate_series(1, 1200) g`)

	out, err := command(env, "run-once", "audit-flush")
	if err != nil {
		t.Fatalf("run-once: %v", err)
	}
	if want := `{"task":"audit-flush","moved":1200}` + "\n"; out != want {
		t.Errorf("stdout: got %q, want %q", out, want)
	}
	if n := count(t, db, `SELECT count(*) FROM audit_log`); n != 1200 {
		t.Errorf("audit_log: got %d events, want 1200", n)
	}
}

func TestBadInputStopsWithOneLineNamingTheProblem(t *testing.T) {
	t.Parallel()
	good := map[string]string{"DATABASE_URL": "postgres://postgres@127.0.0.1:1/x", "REDIS_URL": "redis://127.0.0.1:1/0"}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for a, b := range good {
			m[a] = b
		}
		m[k] = v
		return m
	}
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"unknown command", good, []string{"serve-me"}, `unknown command "serve-me"`},
		{"unknown flag", good, []string{"--verbose"}, `unknown flag "--verbose"`},
		{"run-once without a job", good, []string{"run-once"}, "run-once: want one job"},
		{"run-once unknown job", good, []string{"run-once", "vacuum"}, "run-once: want one job"},
		{"bad cron", with("SESSION_CLEANUP_CRON", "every minute"), nil, "SESSION_CLEANUP_CRON"},
		{"bad sweep cron", with("AUDIT_SWEEP_CRON", "@every"), nil, "AUDIT_SWEEP_CRON"},
		{"bad metrics port", with("WORKER_METRICS_PORT", "http"), nil, "WORKER_METRICS_PORT"},
		{"no database", with("DATABASE_URL", ""), []string{"run-once", "session-cleanup"}, "DATABASE_URL"},
		{"no redis", with("REDIS_URL", ""), nil, "REDIS_URL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, err := command(tc.env, tc.args...)
			if err == nil {
				t.Fatalf("got success, want an error naming %s", tc.want)
			}
			if msg := err.Error(); !strings.Contains(msg, tc.want) || strings.Contains(msg, "\n") {
				t.Errorf("error: got %q, want one line containing %q", msg, tc.want)
			}
			if out != "" {
				t.Errorf("stdout: got %q, want nothing", out)
			}
		})
	}
}

func TestHelpListsCommandsAndTheWorkersVariablesOnly(t *testing.T) {
	t.Parallel()
	out, err := command(map[string]string{}, "--help")
	if err != nil {
		t.Fatalf("--help: %v", err)
	}
	for _, want := range []string{"run-once session-cleanup", "run-once prune-stale-deals", "run-once audit-flush", "schedule"} {
		if !strings.Contains(out, want) {
			t.Errorf("help: missing %q", want)
		}
	}
	env := out[strings.Index(out, "Environment:"):]
	for _, v := range config.Variables {
		listed := strings.Contains(env, "  "+v.Name+" ")
		if want := v.ReadBy&config.ProcWorker != 0; listed != want {
			t.Errorf("help lists %s: got %v, want %v (read by the worker: %v)", v.Name, listed, want, want)
		}
	}
	for _, apiOnly := range []string{"SESSION_STORE", "COOKIE_SECURE", "ARGON2_MEMORY_KIB", "TRUSTED_PROXY_HOPS"} {
		if strings.Contains(env, apiOnly) {
			t.Errorf("help: lists the api-only %s", apiOnly)
		}
	}
}

func TestScheduleCommandPrintsEachJobsSpecAndNextThreeRuns(t *testing.T) {
	t.Parallel()
	// No database, no Redis: the schedule needs only the cron variables.
	out, err := command(map[string]string{"SESSION_CLEANUP_CRON": "0 0 1 1 *", "AUDIT_SWEEP_CRON": "@every 2s"}, "schedule")
	if err != nil {
		t.Fatalf("schedule: %v", err)
	}
	stamp := regexp.MustCompile(`\d{4}-\d\d-\d\dT[0-9:]+(Z|[+-]\d\d:\d\d)`)
	lines := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			lines[f[0]] = l
		}
	}
	tests := []struct {
		job, spec, from string
		gap             time.Duration // between consecutive runs; 0: check start of year
	}{
		{"session-cleanup", "0 0 1 1 *", "SESSION_CLEANUP_CRON", 0},
		{"prune-stale-deals", "0 * * * *", "PRUNE_STALE_DEALS_CRON (default)", time.Hour},
		{"audit-flush", "@every 2s", "AUDIT_SWEEP_CRON", 2 * time.Second},
	}
	for _, tc := range tests {
		line, ok := lines[tc.job]
		if !ok {
			t.Errorf("schedule: no line for %s in\n%s", tc.job, out)
			continue
		}
		if !strings.Contains(line, tc.spec) || !strings.Contains(line, tc.from) {
			t.Errorf("%s: got %q, want its spec %q from %s", tc.job, line, tc.spec, tc.from)
		}
		var runs []time.Time
		for _, s := range stamp.FindAllString(line, -1) {
			at, err := time.Parse(time.RFC3339, s)
			if err != nil {
				t.Fatalf("%s: run %q: %v", tc.job, s, err)
			}
			runs = append(runs, at)
		}
		if len(runs) != 3 {
			t.Errorf("%s: got %d next runs in %q, want 3", tc.job, len(runs), line)
			continue
		}
		if !runs[0].After(time.Now().Add(-time.Second)) {
			t.Errorf("%s: first run %v, want one in the future", tc.job, runs[0])
		}
		for i := 1; i < 3; i++ {
			switch gap := runs[i].Sub(runs[i-1]); {
			case tc.gap == 0:
				if l := runs[i].Local(); l.Month() != time.January || l.Day() != 1 || l.Hour() != 0 || l.Year() != runs[i-1].Local().Year()+1 {
					t.Errorf("%s: runs %v, want 1 January of consecutive years", tc.job, runs)
				}
			case gap != tc.gap:
				t.Errorf("%s: runs %v, want %v apart", tc.job, runs, tc.gap)
			}
		}
		if tc.gap == 2*time.Second && runs[0].Unix()%2 != 0 {
			t.Errorf("%s: first run %v, want a multiple of 2 s since the epoch, as every worker computes it", tc.job, runs[0])
		}
	}
}

func TestTwoStacksOnTwoPortsGetTwoMetricsPorts(t *testing.T) {
	t.Parallel()
	env, _ := testEnv(t)
	// Two `make dev` stacks: PORT set, WORKER_METRICS_PORT not. The test
	// picks free api ports so the derived ones are free too (a port and its
	// +1010 are both checked).
	first, second := map[string]string{}, map[string]string{}
	for k, v := range env {
		if k != "WORKER_METRICS_PORT" {
			first[k], second[k] = v, v
		}
	}
	portWithFreeMetrics := func() int {
		for range 50 {
			p := testserver.FreePort(t)
			if p+1010 > 65535 {
				continue
			}
			if ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p+1010)); err == nil {
				if err := ln.Close(); err != nil {
					t.Fatal(err)
				}
				return p
			}
		}
		t.Fatal("no free port pair")
		return 0
	}
	a, b := portWithFreeMetrics(), portWithFreeMetrics()
	first["PORT"], second["PORT"] = strconv.Itoa(a), strconv.Itoa(b)
	wa, wb := startWorker(t, first), startWorker(t, second)
	for _, c := range []struct {
		w    *worker
		port int
	}{{wa, a + 1010}, {wb, b + 1010}} {
		eventually(t, 10*time.Second, "metrics listening", func() bool { return len(c.w.logLines("metrics listening")) > 0 })
		addr := fmt.Sprint(c.w.logLines("metrics listening")[0]["addr"])
		if !strings.HasSuffix(addr, ":"+strconv.Itoa(c.port)) {
			t.Errorf("metrics address: got %s, want port %d (PORT+1010)", addr, c.port)
		}
		if m := scrape(t, c.port); !strings.Contains(m, "dealctx_worker_job_runs_total") {
			t.Errorf("metrics on port %d: missing the job series", c.port)
		}
	}
	wa.Stop()
	wb.Stop()
}

func TestMetricsPortChoice(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  map[string]string
		port int
		on   bool
	}{
		{"defaults", map[string]string{}, 9090, true},
		{"second stack", map[string]string{"PORT": "8081"}, 9091, true},
		{"explicit wins", map[string]string{"PORT": "8081", "WORKER_METRICS_PORT": "9999"}, 9999, true},
		{"explicit zero disables", map[string]string{"WORKER_METRICS_PORT": "0"}, 0, false},
		{"free api port, free metrics port", map[string]string{"PORT": "0"}, 0, true},
		{"no room above PORT", map[string]string{"PORT": "65000"}, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.env["DATABASE_URL"] = "postgres://x/y"
			getenv := func(k string) string { return tc.env[k] }
			cfg, err := config.Load(getenv)
			if err != nil {
				t.Fatal(err)
			}
			if port, on, _ := metricsPort(cfg, getenv); port != tc.port || on != tc.on {
				t.Errorf("got port %d on %v, want %d on %v", port, on, tc.port, tc.on)
			}
		})
	}
}

func TestTwoWorkersRunEachScheduledPeriodOnce(t *testing.T) {
	t.Parallel()
	env, _ := testEnv(t)
	env["LOG_LEVEL"] = "debug"
	env["SESSION_CLEANUP_CRON"] = "@every 2s"
	env["PRUNE_STALE_DEALS_CRON"] = "@every 2s"
	env["AUDIT_SWEEP_CRON"] = "@every 2s"
	env2 := map[string]string{}
	for k, v := range env {
		env2[k] = v
	}
	metricsPort := testserver.FreePort(t)
	env2["WORKER_METRICS_PORT"] = strconv.Itoa(metricsPort)
	// Workers start at different moments; a second apart puts them in
	// different seconds, so `@every` counted from each start would differ.
	a := startWorker(t, env)
	time.Sleep(1200 * time.Millisecond)
	b := startWorker(t, env2)

	// Three whole periods of every job.
	eventually(t, 15*time.Second, "three periods of each job", func() bool {
		return len(periods("session-cleanup", a, b)) >= 3 && len(periods("prune-stale-deals", a, b)) >= 3 && len(periods("audit-flush", a, b)) >= 3
	})
	metrics := scrape(t, metricsPort)
	a.Stop()
	b.Stop()
	requireEachPeriodOnce(t, 2, a, b)
	// Both workers fired; Redis turned the second enqueue of a period away.
	if len(a.logLines("job already enqueued for this period"))+len(b.logLines("job already enqueued for this period")) == 0 {
		t.Errorf("no worker saw its enqueue refused as a duplicate: the test did not race two schedulers")
	}
	for _, want := range []string{
		`dealctx_worker_job_runs_total{job="session-cleanup"}`,
		`dealctx_worker_job_failures_total{job="audit-flush"} 0`,
		`dealctx_worker_queue_tasks{queue="maintenance",state="completed"}`,
		`dealctx_worker_audit_outbox_pending 0`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics: missing %q", want)
		}
	}
}

// scheduledJobs are the jobs whose periods the schedule tests count.
var scheduledJobs = []string{"session-cleanup", "prune-stale-deals", "audit-flush"}

// periods counts the runs of each of job's periods (task ids) logged by ws.
func periods(job string, ws ...*worker) map[string]int {
	seen := map[string]int{}
	for _, w := range ws {
		for _, rec := range w.logLines("job run") {
			if rec["job"] == job {
				seen[fmt.Sprint(rec["task_id"])]++
			}
		}
	}
	return seen
}

// requireEachPeriodOnce fails unless every job ran each of its every-second
// periods exactly once across ws, none skipped between the first and last.
func requireEachPeriodOnce(t *testing.T, every int64, ws ...*worker) {
	t.Helper()
	for _, job := range scheduledJobs {
		var ids []int64
		for id, runs := range periods(job, ws...) {
			if runs != 1 {
				t.Errorf("%s period %s: got %d runs, want 1", job, id, runs)
			}
			n, err := strconv.ParseInt(id[strings.LastIndexByte(id, ':')+1:], 10, 64)
			if err != nil {
				t.Fatalf("task id %q: want type:unix-seconds", id)
			}
			ids = append(ids, n)
		}
		slices.Sort(ids)
		for i := 1; i < len(ids); i++ {
			if ids[i]-ids[i-1] != every {
				t.Errorf("%s periods %v: want consecutive %d s periods, none skipped", job, ids, every)
				break
			}
		}
	}
}

// A rolling restart of two workers (each stopped with SIGTERM and started
// again in turn, as a deploy does) neither skips a scheduled period nor runs
// one twice: the other worker covers the moment one is down, and the
// per-period task id turns a second enqueue away.
func TestRollingWorkerRestartKeepsEachScheduledPeriodOnce(t *testing.T) {
	t.Parallel()
	env, _ := testEnv(t)
	env["LOG_LEVEL"] = "debug"
	for _, v := range []string{"SESSION_CLEANUP_CRON", "PRUNE_STALE_DEALS_CRON", "AUDIT_SWEEP_CRON"} {
		env[v] = "@every 2s"
	}
	withPort := func() map[string]string {
		e := maps.Clone(env)
		e["WORKER_METRICS_PORT"] = strconv.Itoa(testserver.FreePort(t))
		return e
	}
	all := []*worker{startWorker(t, withPort()), startWorker(t, withPort())}
	time.Sleep(3 * time.Second)
	for i := range 2 {
		all[i].Stop() // what SIGTERM does to run's context
		all = append(all, startWorker(t, withPort()))
		time.Sleep(3 * time.Second)
	}
	for _, w := range all {
		w.Stop()
	}
	if n := len(periods("audit-flush", all...)); n < 4 {
		t.Fatalf("audit-flush periods across the restarts: got %d, want at least 4", n)
	}
	requireEachPeriodOnce(t, 2, all...)
}

// scrape returns the worker's /metrics text.
func scrape(t *testing.T, port int) string {
	t.Helper()
	resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/metrics")
	if err != nil {
		t.Fatalf("metrics: %v", err)
	}
	return string(readBody(t, resp))
}

func TestWorkerKilledMidBatchLosesAndDoublesNothing(t *testing.T) {
	t.Parallel()
	env, _ := testEnv(t)
	env["SHUTDOWN_TIMEOUT"] = "1"
	db := openDB(t, env)
	ctx := context.Background()
	// Three batches' worth of events. A transaction of the test's holds
	// event 1500 (in the second batch) as if another mover had it half
	// written, so the worker's second batch blocks mid-statement.
	exec(t, db, `INSERT INTO audit_outbox (action, request_id) SELECT 'deal.selected', 'req-'||g FROM generate_series(1, 3000) g`)
	blocker, err := db.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = blocker.Rollback(ctx) }() // a no-op once committed
	if _, err := blocker.Exec(ctx, `INSERT INTO audit_log (id, occurred_at, action, request_id)
		SELECT id, occurred_at, action, request_id FROM audit_outbox ORDER BY id OFFSET 1499 LIMIT 1`); err != nil {
		t.Fatal(err)
	}

	first := startWorker(t, env)
	eventually(t, 15*time.Second, "a batch blocked mid-statement", func() bool {
		return count(t, db, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%audit_outbox%'`) > 0
	})
	first.Stop() // SIGTERM; after SHUTDOWN_TIMEOUT the task is handed back and its statement cancelled
	if n := count(t, db, `SELECT count(*) FROM audit_outbox`); n == 0 {
		t.Fatalf("outbox after the kill: got 0 events, want the interrupted batch still waiting")
	}
	// The half-written event commits: the next run must not write it again.
	if err := blocker.Commit(ctx); err != nil {
		t.Fatal(err)
	}

	startWorker(t, env)
	eventually(t, 15*time.Second, "the outbox drained by the next worker", func() bool {
		return count(t, db, `SELECT count(*) FROM audit_outbox`) == 0
	})
	if n := count(t, db, `SELECT count(*) FROM audit_log`); n != 3000 {
		t.Errorf("audit_log: got %d events, want 3000", n)
	}
	if n := count(t, db, `SELECT count(DISTINCT request_id) FROM audit_log`); n != 3000 {
		t.Errorf("distinct events in audit_log: got %d, want 3000", n)
	}
}

// requireEachOnce checks that every request id has exactly one deal.selected
// event in audit_log and that the outbox is empty.
func requireEachOnce(t *testing.T, db *postgres.DB, requestIDs []string) {
	t.Helper()
	pgtest.RequireSelectedOnce(t, db, requestIDs)
	if n := count(t, db, `SELECT count(*) FROM audit_outbox`); n != 0 {
		t.Errorf("outbox: got %d events waiting, want 0", n)
	}
}

func TestEveryEventLandsOnceThroughARedisOutage(t *testing.T) {
	t.Parallel()
	env, redis := testEnv(t)
	env["AUDIT_SWEEP_CRON"] = "@every 2s"
	srv, db := startAPI(t, env)
	startWorker(t, env)
	var users []*user
	var deals []int64
	for i := range 3 {
		u := signIn(t, srv, db, fmt.Sprintf("user%d@example.com", i))
		users = append(users, u)
		deals = append(deals, u.createDeal(fmt.Sprintf("deal %d", i)))
	}
	var selected []string
	selectAll := func(rounds int) {
		for range rounds {
			for i, u := range users {
				selected = append(selected, u.selectDeal(deals[i]))
			}
		}
	}

	selectAll(3)
	// Woken by the api, the worker writes the log before its 2 s sweep.
	eventually(t, 10*time.Second, "events written while Redis is up", func() bool {
		return count(t, db, `SELECT count(*) FROM audit_log WHERE action = 'deal.selected'`) == int64(len(selected))
	})
	redis.Kill()
	selectAll(5)
	redis.Start()
	selectAll(3)
	eventually(t, 20*time.Second, "every event in audit_log", func() bool {
		return count(t, db, `SELECT count(*) FROM audit_log WHERE action = 'deal.selected'`) >= int64(len(selected)) &&
			count(t, db, `SELECT count(*) FROM audit_outbox`) == 0
	})
	requireEachOnce(t, db, selected)
}

func TestEventsCommittedWithoutAWakeStillLand(t *testing.T) {
	t.Parallel()
	env, _ := testEnv(t)
	// The api's Redis is gone, so no wake ever leaves it: as if it died
	// between committing each change and enqueueing the wake.
	apiEnv := map[string]string{}
	for k, v := range env {
		apiEnv[k] = v
	}
	dead := testserver.StartRedis(t)
	dead.Kill()
	apiEnv["REDIS_URL"] = dead.URL()
	srv, db := startAPI(t, apiEnv)
	u := signIn(t, srv, db, "solo@example.com")
	id := u.createDeal("solo deal")
	var selected []string
	for range 10 {
		selected = append(selected, u.selectDeal(id))
	}
	if n := count(t, db, `SELECT count(*) FROM audit_outbox WHERE action = 'deal.selected'`); n != 10 {
		t.Fatalf("outbox before any worker: got %d, want 10", n)
	}
	startWorker(t, env)
	eventually(t, 10*time.Second, "the sweep moving the events", func() bool {
		return count(t, db, `SELECT count(*) FROM audit_outbox`) == 0
	})
	requireEachOnce(t, db, selected)
}
