// Package postgres is the PostgreSQL layer: the pgx pool, migrations, and one
// file per aggregate (users, deals, audit, remember tokens).
package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/dealctx/dealctx/internal/deal"
	"github.com/dealctx/dealctx/migrations"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
)

// DB is the application's handle on PostgreSQL.
type DB struct {
	Pool *pgxpool.Pool
}

// querier is what a pool and a transaction have in common.
type querier interface {
	Begin(ctx context.Context) (pgx.Tx, error)
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Open connects a pool to url and checks that the server answers. The pool
// reconnects by itself when the server restarts.
func Open(ctx context.Context, url string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, errors.New("postgres: DATABASE_URL is not a valid connection string")
	}
	if cfg.MaxConns < 10 {
		cfg.MaxConns = 10
	}
	cfg.MaxConnIdleTime = 5 * time.Minute
	cfg.HealthCheckPeriod = 15 * time.Second
	cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: cannot reach the database: %w", redact(err))
	}
	return &DB{Pool: pool}, nil
}

// Close closes the pool.
func (db *DB) Close() { db.Pool.Close() }

// Ping checks that PostgreSQL answers within ctx.
func (db *DB) Ping(ctx context.Context) error { return db.Pool.Ping(ctx) }

// Migrate runs goose's command ("up", "down" or "status") against the
// embedded migrations, writing status output to out.
func (db *DB) Migrate(ctx context.Context, command string) ([]*goose.MigrationStatus, error) {
	sqlDB := stdlib.OpenDBFromPool(db.Pool)
	defer sqlDB.Close()
	p, err := newProvider(sqlDB)
	if err != nil {
		return nil, err
	}
	switch command {
	case "up":
		_, err = p.Up(ctx)
	case "down":
		_, err = p.Down(ctx)
	case "status":
		return p.Status(ctx)
	default:
		return nil, fmt.Errorf("migrate: unknown command %q (want up, down or status)", command)
	}
	if err != nil {
		return nil, fmt.Errorf("migrate %s: %w", command, err)
	}
	return p.Status(ctx)
}

func newProvider(sqlDB *sql.DB) (*goose.Provider, error) {
	return goose.NewProvider(goose.DialectPostgres, sqlDB, migrations.FS)
}

// unavailable turns connection-level failures into the domain's 503 error,
// leaving every other error as it is.
func unavailable(err error) error {
	if err == nil {
		return nil
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// Class 08 (connection), 53 (resources), 57P (shutdown) are transient.
		c := pgErr.Code
		if len(c) >= 2 && (c[:2] == "08" || c[:2] == "53" || c[:3] == "57P") {
			return &unavailableError{err}
		}
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || pgconn.SafeToRetry(err) || isConnErr(err) {
		return &unavailableError{err}
	}
	return err
}

// isConnErr reports failures of the connection itself: connecting, a
// timeout, or a connection that broke mid-query (the server crashed or
// restarted). The last are not safe to retry blindly, but they are still the
// database being unavailable, never the request's fault.
func isConnErr(err error) bool {
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || pgconn.Timeout(err) || errors.As(err, &ne) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, pgconn.ErrConnClosed) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPIPE)
}

// unavailableError is a transient database failure: the caller gets 503.
type unavailableError struct{ err error }

func (e *unavailableError) Error() string { return "postgres unavailable: " + e.err.Error() }
func (e *unavailableError) Unwrap() []error {
	return []error{e.err, &deal.Error{Code: deal.EUNAVAILABLE, Message: "The service is briefly unavailable; try again."}}
}

// redact drops connection details that could carry a password.
func redact(err error) error {
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return errors.New("connection failed")
	}
	return err
}
