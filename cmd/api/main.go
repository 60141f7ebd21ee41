// Command api serves the HTTP API and pages, and administers the database:
// migrations, users and demo data.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
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
	"time"

	"github.com/dealctx/dealctx/internal/auth"
	"github.com/dealctx/dealctx/internal/cli"
	"github.com/dealctx/dealctx/internal/config"
	"github.com/dealctx/dealctx/internal/deal"
	"github.com/dealctx/dealctx/internal/httpapi"
	"github.com/dealctx/dealctx/internal/logging"
	"github.com/dealctx/dealctx/internal/postgres"
	"github.com/dealctx/dealctx/internal/redisclient"
	"github.com/dealctx/dealctx/internal/redisepoch"
	"github.com/dealctx/dealctx/internal/session"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Process-wide, so here and not in run, which tests call many times in
	// one process.
	tuneGC(os.Args[1:], os.Getenv)
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "api:", err)
		os.Exit(1)
	}
}

const usage = `Usage: api [command]

Commands:
  serve                       HTTP server on :$PORT (the default command)
  migrate up|down|status      schema migrations (embedded)
  user create --email E [--name N] [--admin] [--password P]
                              create a user; without --password, one line is read from stdin
  user set-password --email E [--password P]
                              replace a password; ends all the user's sessions
  user disable --email E      disable a user; ends all the user's sessions
  user enable --email E       enable a disabled user
  user promote --email E / user demote --email E
                              set / clear is_admin; takes effect on the user's next request
  access reset --email E | --deal ID | --all
                              after editing users, deals or deal_members by hand: the next
                              request of that user, on that deal, or of everyone re-checks access
  seed-demo                   idempotent demo users and deals; prints the logins

Environment:
`

// run is the whole program; tests call it directly.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "-h", "--help", "help":
		// The api's help is the full reference: every variable, the
		// worker's included.
		return cli.PrintUsage(stdout, usage, config.ProcAPI|config.ProcWorker)
	case "serve", "migrate", "user", "access", "seed-demo":
	default:
		return fmt.Errorf("unknown command %q (see api --help)", cmd)
	}
	// A malformed command line is answered before the environment is read,
	// so `api migrate` alone says what it wants, not "DATABASE_URL: required".
	if err := checkSubcommand(cmd, args); err != nil {
		return err
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	// Access lines are batched (logging.Output); every other line is
	// written before the call that logs it returns.
	out := logging.NewOutput(stderr)
	defer func() { _ = out.Close() }()
	logger := logging.New(out, cfg.LogFormat, cfg.LogLevel)
	defer cli.RouteRedisLogs(logger)()
	dbURL := cfg.DatabaseURL
	if cmd == "migrate" {
		dbURL = cfg.MigrateDatabaseURL // MIGRATE_DATABASE_URL, else DATABASE_URL
	}
	db, err := postgres.Open(ctx, dbURL)
	if err != nil {
		return err
	}
	defer db.Close()

	switch cmd {
	case "migrate":
		return runMigrate(ctx, db, args, stdout)
	case "user":
		return runUser(ctx, db, cfg, logger, args, stdin, stdout)
	case "access":
		return runAccess(ctx, db, cfg, logger, args, stdout)
	case "seed-demo":
		return runSeedDemo(ctx, db, cfg, stdout)
	}
	return serve(ctx, cfg, db, logger)
}

// serve runs the HTTP server until ctx ends, then shuts down gracefully
// within cfg.ShutdownTimeout.
func serve(ctx context.Context, cfg config.Config, db *postgres.DB, logger *slog.Logger) error {
	// Every new Redis connection checks the server's identity against the
	// epoch PostgreSQL holds before it is used (internal/redisepoch).
	epoch := redisepoch.New(db, session.RedisTarget(cfg), logger)
	rdb, err := redisclient.OpenChecked(cfg, redisclient.RequestTimeouts, epoch.OnConnect)
	if err != nil {
		return err
	}
	if rdb != nil {
		defer func() { _ = rdb.Close() }()
		logger.Info("redis", "topology", cfg.RedisTopology)
	}
	app, err := httpapi.Build(ctx, cfg, db, rdb, epoch, logger)
	if err != nil {
		return err
	}
	defer app.Close()
	srv := &http.Server{
		Addr:              net.JoinHostPort("", strconv.Itoa(cfg.Port)),
		Handler:           app.Handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", srv.Addr)
	if err != nil {
		return fmt.Errorf("listen on PORT %d: %w", cfg.Port, err)
	}
	logger.Info("listening", "addr", ln.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// Drain first: /readyz answers 503 while everything else is served for
	// SHUTDOWN_DRAIN, so a balancer's health check takes this process out
	// of rotation before it stops listening (Shutdown closes the listener
	// at once). Responses meanwhile close their connections
	// (Connection: close), so keep-alive clients reconnect elsewhere.
	app.Drain()
	logger.Info("draining", "drain", cfg.ShutdownDrain.String())
	time.Sleep(cfg.ShutdownDrain)
	budget := shutdownBudget(cfg)
	logger.Info("shutting down", "timeout", budget.String())
	sctx, cancel := context.WithTimeout(context.Background(), budget)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		// Requests still running (or client connections that never sent
		// one) past the budget are cut: exiting inside the platform's
		// window matters more than they do.
		logger.Warn("shutdown budget spent; closing remaining connections", "err", err)
		_ = srv.Close()
	}
	return nil
}

// killAfter is the platforms' window from SIGTERM to SIGKILL (Heroku: 30 s),
// less a margin for closing the pools.
const killAfter = 28 * time.Second

// shutdownBudget is how long requests in flight get to finish after the
// drain: SHUTDOWN_TIMEOUT, bounded so that drain and shutdown fit killAfter.
func shutdownBudget(cfg config.Config) time.Duration {
	return max(min(cfg.ShutdownTimeout, killAfter-cfg.ShutdownDrain), time.Second)
}

// checkSubcommand refuses a migrate or user command line that names no known
// subcommand.
func checkSubcommand(cmd string, args []string) error {
	switch cmd {
	case "migrate":
		if len(args) != 1 || (args[0] != "up" && args[0] != "down" && args[0] != "status") {
			return errors.New("migrate: want one of up, down, status (usage: api migrate up|down|status)")
		}
	case "user":
		if len(args) == 0 {
			return errors.New("user: want create, set-password, disable, enable, promote or demote (see api --help)")
		}
		switch args[0] {
		case "create", "set-password", "disable", "enable", "promote", "demote":
		default:
			return fmt.Errorf("user: unknown subcommand %q (want create, set-password, disable, enable, promote or demote)", args[0])
		}
	case "access":
		if len(args) == 0 || args[0] != "reset" {
			return errors.New("access: want reset --email E | --deal ID | --all (see api --help)")
		}
	}
	return nil
}

func runMigrate(ctx context.Context, db *postgres.DB, args []string, stdout io.Writer) error {
	statuses, err := db.Migrate(ctx, args[0])
	if err != nil {
		return err
	}
	for _, s := range statuses {
		applied := "pending"
		if !s.AppliedAt.IsZero() {
			applied = "applied " + s.AppliedAt.UTC().Format(time.RFC3339)
		}
		if _, err := fmt.Fprintf(stdout, "%05d %-32s %s\n", s.Source.Version, strings.TrimSuffix(baseName(s.Source.Path), ".sql"), applied); err != nil {
			return err
		}
	}
	return nil
}

func baseName(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[i+1:]
	}
	return p
}

func runUser(ctx context.Context, db *postgres.DB, cfg config.Config, logger *slog.Logger, args []string, stdin io.Reader, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New("user: want create, set-password, disable, enable, promote or demote")
	}
	sub := args[0]
	fs := flag.NewFlagSet("user "+sub, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	email := fs.String("email", "", "email address")
	name := fs.String("name", "", "display name")
	admin := fs.Bool("admin", false, "administrator")
	password := fs.String("password", "", "password (else read from stdin)")
	if err := fs.Parse(args[1:]); err != nil {
		return fmt.Errorf("user %s: %w", sub, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("user %s: unexpected argument %q", sub, fs.Arg(0))
	}
	addr, err := deal.ValidateEmail(*email)
	if err != nil {
		return fmt.Errorf("user %s: --email: %s", sub, deal.ErrorMessage(err))
	}
	userName, err := deal.ValidateUserName(*name)
	if err != nil {
		return fmt.Errorf("user %s: --name: %s", sub, deal.ErrorMessage(err))
	}
	passwordSet := false
	fs.Visit(func(f *flag.Flag) { passwordSet = passwordSet || f.Name == "password" })
	readPassword := func() (string, error) {
		pw := *password
		if !passwordSet {
			line, err := bufio.NewReader(stdin).ReadString('\n')
			if err != nil && line == "" {
				return "", fmt.Errorf("user %s: no password given (use --password or one line on stdin)", sub)
			}
			pw = strings.TrimRight(line, "\r\n")
		}
		if err := auth.CheckPassword(pw); err != nil {
			return "", fmt.Errorf("user %s: %w", sub, err)
		}
		return auth.NewHasher(cfg.Argon2MemoryKiB, cfg.Argon2Time).Hash(pw)
	}
	var id int64
	switch sub {
	case "create":
		hash, err := readPassword()
		if err != nil {
			return err
		}
		u, err := db.CreateUser(ctx, addr, userName, hash, *admin)
		if err != nil {
			return fmt.Errorf("user create: %s", deal.ErrorMessage(err))
		}
		id = u.ID
	case "set-password":
		hash, err := readPassword()
		if err != nil {
			return err
		}
		if id, err = db.SetPassword(ctx, addr, hash); err != nil {
			return fmt.Errorf("user set-password: %s", deal.ErrorMessage(err))
		}
	case "disable", "enable":
		if id, err = db.SetDisabled(ctx, addr, sub == "disable"); err != nil {
			return fmt.Errorf("user %s: %s", sub, deal.ErrorMessage(err))
		}
	case "promote", "demote":
		if id, err = db.SetAdmin(ctx, addr, sub == "promote"); err != nil {
			return fmt.Errorf("user %s: %s", sub, deal.ErrorMessage(err))
		}
	default:
		return fmt.Errorf("user: unknown subcommand %q", sub)
	}
	if sub == "set-password" || sub == "disable" {
		if err := revokeSessions(ctx, cfg, db, logger, id); err != nil {
			return fmt.Errorf("user %s: done in PostgreSQL, but run it again: %w", sub, err)
		}
	}
	if sub != "create" {
		// The change bumped the user's access generation (migration 00007).
		relayAccess(ctx, cfg, db, logger)
	}
	return json.NewEncoder(stdout).Encode(map[string]int64{"id": id})
}
