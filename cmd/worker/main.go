// Command worker runs the background jobs: the asynq task server and the cron
// scheduler that enqueues session cleanup, stale-deal pruning and the audit
// sweep. `worker run-once JOB` runs one job now.
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

	"github.com/dealctx/dealctx/internal/config"
	"github.com/dealctx/dealctx/internal/jobs"
	"github.com/dealctx/dealctx/internal/logging"
	"github.com/dealctx/dealctx/internal/postgres"
	"github.com/dealctx/dealctx/internal/redisclient"
	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// go-redis logs through a process-wide logger; send it to stderr as
	// structured lines rather than raw text (it never logs credentials).
	redis.SetLogger(redisclient.Logger(slog.New(slog.NewJSONHandler(os.Stderr, nil))))
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(1)
	}
}

const usage = `Usage: worker [command]

Commands:
  (none)                          run the asynq task server and the cron scheduler
  run-once session-cleanup        delete expired sessions now; prints {"task":"session-cleanup","deleted":N}
  run-once prune-stale-deals      clear stale users.last_deal_id now; prints {"task":"prune-stale-deals","cleared":N}
  run-once audit-flush            move waiting audit events into audit_log now; prints {"task":"audit-flush","moved":N}

The worker needs REDIS_URL (or REDIS_TLS_URL); run-once needs only DATABASE_URL.
On SIGTERM it stops taking tasks, lets running ones finish their batch or hands
them back to the queue, and exits within SHUTDOWN_TIMEOUT (at most 20 s).

Environment:
`

func printUsage(w io.Writer) {
	fmt.Fprint(w, usage)
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	for _, v := range config.Variables {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", v.Name, v.Default, v.Meaning)
	}
	tw.Flush()
}

// maxShutdown keeps the exit inside Heroku's 30 s SIGTERM window.
const maxShutdown = 20 * time.Second

// run is the whole program; tests call it directly.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var job string
	switch {
	case len(args) == 0:
	case args[0] == "-h" || args[0] == "--help" || args[0] == "-help" || args[0] == "help":
		printUsage(stdout)
		return nil
	case args[0] == "run-once":
		if len(args) != 2 || !validJob(args[1]) {
			return errors.New("run-once: want one job: session-cleanup, prune-stale-deals or audit-flush (see worker --help)")
		}
		job = args[1]
	case strings.HasPrefix(args[0], "-"):
		return fmt.Errorf("unknown flag %q (see worker --help)", args[0])
	default:
		return fmt.Errorf("unknown command %q (see worker --help)", args[0])
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	if job == "" && cfg.RedisURL == "" {
		return errors.New("config: REDIS_URL: required by the worker (or REDIS_TLS_URL)")
	}
	logger := logging.New(stderr, cfg.LogFormat, cfg.LogLevel)
	db, err := postgres.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	if job != "" {
		return runOnce(ctx, jobs.Deps{DB: db, Logger: logger}, job, stdout)
	}
	return serve(ctx, cfg, db, logger)
}

func validJob(name string) bool {
	switch name {
	case jobs.JobSessionCleanup, jobs.JobPruneStaleDeals, jobs.JobAuditFlush:
		return true
	}
	return false
}

// runOnce runs one job now and prints its JSON summary.
func runOnce(ctx context.Context, d jobs.Deps, job string, stdout io.Writer) error {
	var summary any
	switch job {
	case jobs.JobSessionCleanup:
		n, err := jobs.SessionCleanup(ctx, d)
		if err != nil {
			return fmt.Errorf("run-once %s: %w", job, err)
		}
		summary = struct {
			Task    string `json:"task"`
			Deleted int64  `json:"deleted"`
		}{job, n}
	case jobs.JobPruneStaleDeals:
		n, err := jobs.PruneStaleDeals(ctx, d)
		if err != nil {
			return fmt.Errorf("run-once %s: %w", job, err)
		}
		summary = struct {
			Task    string `json:"task"`
			Cleared int64  `json:"cleared"`
		}{job, n}
	case jobs.JobAuditFlush:
		n, err := jobs.FlushAudit(ctx, d)
		if err != nil {
			return fmt.Errorf("run-once %s: %w", job, err)
		}
		summary = struct {
			Task  string `json:"task"`
			Moved int64  `json:"moved"`
		}{job, n}
	}
	b, err := json.Marshal(summary)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "%s\n", b)
	return err
}

// serve runs the task server, the scheduler and the metrics endpoint until
// ctx ends, then shuts down: no new tasks are taken, running ones finish
// their current batch (or are handed back to the queue when the shutdown
// budget runs out), and run returns.
func serve(ctx context.Context, cfg config.Config, db *postgres.DB, logger *slog.Logger) error {
	rdb, err := redisclient.NewWithTimeouts(cfg.RedisURL, cfg.RedisInsecureTLS, redisclient.WorkerTimeouts)
	if err != nil {
		return err
	}
	defer rdb.Close()
	entries, err := jobs.Schedule(cfg)
	if err != nil {
		return err
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	stopping := make(chan struct{})
	deps := jobs.Deps{
		DB:       db,
		Logger:   logger,
		Metrics:  jobs.NewMetrics(reg, asynq.NewInspectorFromRedisClient(rdb), db),
		Stopping: stopping,
	}

	var metricsSrv *http.Server
	if cfg.WorkerMetricsPort != 0 {
		ln, err := net.Listen("tcp", net.JoinHostPort("", strconv.Itoa(cfg.WorkerMetricsPort)))
		if err != nil {
			return fmt.Errorf("listen on WORKER_METRICS_PORT %d: %w", cfg.WorkerMetricsPort, err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
		metricsSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 15 * time.Second}
		go metricsSrv.Serve(ln)
		logger.Info("metrics listening", "addr", ln.Addr().String())
	}

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
		logger.Info("scheduled", "job", e.Job, "spec", e.Spec)
	}

	<-ctx.Done()
	logger.Info("shutting down", "timeout", shutdownTimeout.String())
	close(stopping)
	srv.Shutdown()
	<-schedDone
	if metricsSrv != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		metricsSrv.Shutdown(sctx)
	}
	logger.Info("stopped")
	return nil
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
