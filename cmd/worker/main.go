// Command worker runs the background jobs: the asynq task server and the cron
// scheduler that enqueues session cleanup, stale-deal pruning and the audit
// sweep. `worker run-once JOB` runs one job now; `worker schedule` prints
// when each job runs next.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/dealctx/dealctx/internal/cli"
	"github.com/dealctx/dealctx/internal/config"
	"github.com/dealctx/dealctx/internal/jobs"
	"github.com/dealctx/dealctx/internal/logging"
	"github.com/dealctx/dealctx/internal/postgres"
	"github.com/dealctx/dealctx/internal/redisclient"
	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(1)
	}
}

const usageHead = `Usage: worker [command]

Commands:
  (none)                          run the asynq task server and the cron scheduler
  schedule                        print each job, its cron spec and its next three runs
`

const usageTail = `
The worker needs Redis (REDIS_URL, REDIS_TLS_URL, REDIS_SENTINEL_ADDRS or
REDIS_CLUSTER_ADDRS); run-once needs only DATABASE_URL;
schedule needs neither, only the cron variables.
Its /metrics and /healthz listen on WORKER_METRICS_PORT, or on PORT+1010 when
that is unset (9090 beside the default PORT 8080), so a second stack on another
PORT gets its own; the port chosen is logged at start.
On SIGTERM it stops taking tasks, lets running ones finish their batch or hands
them back to the queue, and exits within SHUTDOWN_TIMEOUT (at most 20 s).

Environment:
`

// usage is the --help text before the variables: the commands, one
// run-once line per job of the table.
func usage() string {
	var b strings.Builder
	b.WriteString(usageHead)
	for _, j := range jobs.Jobs() {
		fmt.Fprintf(&b, "  %-30s  %s; prints {\"task\":%q,%q:N}\n", "run-once "+j.Name, j.Does, j.Name, j.Count)
	}
	b.WriteString(usageTail)
	return b.String()
}

// maxShutdown keeps the exit inside Heroku's 30 s SIGTERM window.
const maxShutdown = 20 * time.Second

// run is the whole program; tests call it directly.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var job jobs.Job
	cmd := "serve"
	switch {
	case len(args) == 0:
	case args[0] == "-h" || args[0] == "--help" || args[0] == "-help" || args[0] == "help":
		return cli.PrintUsage(stdout, usage(), config.ProcWorker)
	case args[0] == "run-once":
		var ok bool
		if len(args) == 2 {
			job, ok = jobs.Lookup(args[1])
		}
		if !ok {
			return fmt.Errorf("run-once: want one job: %s (see worker --help)", jobNames())
		}
		cmd = "run-once"
	case args[0] == "schedule" && len(args) == 1:
		cmd = "schedule"
	case args[0] == "schedule":
		return errors.New("schedule: takes no arguments (see worker --help)")
	case strings.HasPrefix(args[0], "-"):
		return fmt.Errorf("unknown flag %q (see worker --help)", args[0])
	default:
		return fmt.Errorf("unknown command %q (see worker --help)", args[0])
	}
	if cmd == "schedule" {
		// The schedule is computed from the cron variables alone.
		getenv = withPlaceholderDatabase(getenv)
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	// Parsed once, for the scheduler or for `worker schedule`.
	entries, err := jobs.Schedule(cfg)
	if err != nil {
		return err
	}
	if cmd == "schedule" {
		return printSchedule(stdout, entries, time.Now())
	}
	if cmd == "serve" && !cfg.RedisConfigured() {
		return errors.New("config: REDIS_URL: required by the worker (or REDIS_TLS_URL, REDIS_SENTINEL_ADDRS, REDIS_CLUSTER_ADDRS)")
	}
	logger := logging.New(stderr, cfg.LogFormat, cfg.LogLevel)
	defer cli.RouteRedisLogs(logger)()
	db, err := postgres.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	if cmd == "run-once" {
		return runOnce(ctx, jobs.Deps{DB: db, Logger: logger}, job, stdout)
	}
	return serve(ctx, cfg, getenv, entries, db, logger)
}

// jobNames lists the table's job names for an error message.
func jobNames() string {
	var names []string
	for _, j := range jobs.Jobs() {
		names = append(names, j.Name)
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// withPlaceholderDatabase lets `worker schedule` run where DATABASE_URL is
// unset (a laptop, a CI step): it connects to nothing.
func withPlaceholderDatabase(getenv func(string) string) func(string) string {
	return func(k string) string {
		if v := getenv(k); v != "" || k != "DATABASE_URL" {
			return v
		}
		return "postgres://unused/schedule"
	}
}

// runOnce runs one job now and prints its JSON summary,
// {"task": name, count: N}.
func runOnce(ctx context.Context, d jobs.Deps, job jobs.Job, stdout io.Writer) error {
	n, err := job.Run(ctx, d)
	if err != nil {
		return fmt.Errorf("run-once %s: %w", job.Name, err)
	}
	name, err := json.Marshal(job.Name)
	if err != nil {
		return err
	}
	count, err := json.Marshal(job.Count)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "{\"task\":%s,%s:%d}\n", name, count, n)
	return err
}

// printSchedule writes each entry with its spec, the variable it comes from
// and its next three runs after now, in the process's time zone: what asynq's
// own tools cannot show, as the schedule is this worker's, not asynq's.
func printSchedule(w io.Writer, entries []jobs.Entry, now time.Time) error {
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	if _, err := fmt.Fprintln(tw, "JOB\tSPEC\tFROM\tNEXT RUNS"); err != nil {
		return err
	}
	for _, e := range entries {
		from := e.Env
		if e.Spec == e.DefaultSpec() {
			from += " (default)"
		}
		var next []string
		for _, t := range e.Next(now, 3) {
			next = append(next, t.Format(time.RFC3339))
		}
		if _, err := fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.Name, e.Spec, from, strings.Join(next, "  ")); err != nil {
			return err
		}
	}
	return tw.Flush()
}

// serve runs the task server, the scheduler and the metrics endpoint until
// ctx ends, then shuts down: no new tasks are taken, running ones finish
// their current batch (or are handed back to the queue when the shutdown
// budget runs out), and run returns.
func serve(ctx context.Context, cfg config.Config, getenv func(string) string, entries []jobs.Entry, db *postgres.DB, logger *slog.Logger) error {
	rdb, err := redisclient.Open(cfg, redisclient.WorkerTimeouts)
	if err != nil {
		return err
	}
	defer func() {
		if err := rdb.Close(); err != nil {
			logger.Warn("closing the Redis client", "error", err.Error())
		}
	}()
	logger.Info("redis", "topology", cfg.RedisTopology)

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		postgres.NewPoolCollector(db.Pool))
	stopping := make(chan struct{})
	deps := jobs.Deps{
		DB:       db,
		Logger:   logger,
		Metrics:  jobs.NewMetrics(reg, asynq.NewInspectorFromRedisClient(rdb), db),
		Stopping: stopping,
	}

	stopMetrics, err := serveMetrics(cfg, getenv, reg, logger)
	if err != nil {
		return err
	}
	defer stopMetrics()

	shutdownTimeout := min(cfg.ShutdownTimeout, maxShutdown)
	srv := asynq.NewServerFromRedisClient(rdb, asynq.Config{
		Concurrency:       4,
		Queues:            jobs.Queues(),
		ShutdownTimeout:   shutdownTimeout,
		TaskCheckInterval: 500 * time.Millisecond,
		Logger:            jobs.AsynqLogger{L: logger},
		LogLevel:          asynqLevel(cfg.LogLevel),
	})
	if err := srv.Start(jobs.NewServeMux(deps)); err != nil {
		return fmt.Errorf("asynq: %w", err)
	}
	sched := &jobs.Scheduler{Client: asynq.NewClientFromRedisClient(rdb), Entries: entries, Deps: deps}
	schedDone := make(chan struct{})
	go func() { sched.Run(ctx); close(schedDone) }()
	for _, e := range entries {
		logger.Info("scheduled", "job", e.Name, "spec", e.Spec)
	}

	<-ctx.Done()
	logger.Info("shutting down", "timeout", shutdownTimeout.String())
	close(stopping)
	srv.Shutdown()
	<-schedDone
	logger.Info("stopped")
	return nil
}

// metricsPortOffset puts the worker's metrics beside the api's PORT: 9090 for
// the default 8080, 9091 for a second stack on 8081.
const metricsPortOffset = 1010

// metricsPort is the port of the worker's /metrics and where it came from:
// WORKER_METRICS_PORT when set (0 disables it), else PORT+1010; 0 with on
// means a free port.
func metricsPort(cfg config.Config, getenv func(string) string) (port int, on bool, from string) {
	if strings.TrimSpace(getenv("WORKER_METRICS_PORT")) != "" {
		return cfg.WorkerMetricsPort, cfg.WorkerMetricsPort != 0, "WORKER_METRICS_PORT"
	}
	if p := cfg.Port + metricsPortOffset; cfg.Port != 0 && p <= 65535 {
		return p, true, "PORT+1010"
	}
	return 0, true, "a free port (PORT is 0 or above 64525)"
}

// serveMetrics serves /metrics and /healthz on the metrics port, logs the
// address chosen, and returns the function that stops it. A failure to serve
// after the listener opened is logged.
func serveMetrics(cfg config.Config, getenv func(string) string, reg *prometheus.Registry, logger *slog.Logger) (stop func(), err error) {
	port, on, from := metricsPort(cfg, getenv)
	if !on {
		logger.Info("metrics disabled", "reason", "WORKER_METRICS_PORT=0")
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("", strconv.Itoa(port)))
	if err != nil {
		return nil, fmt.Errorf("listen on the metrics port %d (WORKER_METRICS_PORT, else PORT+%d): %w", port, metricsPortOffset, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 15 * time.Second,
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			logger.Error("metrics server stopped", "addr", ln.Addr().String(), "error", err.Error())
		}
	}()
	logger.Info("metrics listening", "addr", ln.Addr().String(), "port_from", from)
	return func() {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			logger.Warn("metrics server shutdown", "error", err.Error())
		}
		<-done
	}, nil
}

func asynqLevel(l slog.Level) asynq.LogLevel {
	switch {
	case l <= slog.LevelDebug:
		return asynq.DebugLevel
	case l <= slog.LevelInfo:
		return asynq.InfoLevel
	case l <= slog.LevelWarn:
		return asynq.WarnLevel
	}
	return asynq.ErrorLevel
}
