// Package postgres is the PostgreSQL layer: the pgx pool, migrations, and one
// file per aggregate (users, deals, audit, remember tokens).
//
// Nothing here keeps session state across transactions: no session-level
// advisory locks, LISTEN, SET or temporary tables, and goose runs without a
// session locker. So DATABASE_URL may point at PgBouncer in transaction mode
// when it also sets pgx's default_query_exec_mode=simple_protocol (or exec),
// which keeps pgx from preparing named statements.
package postgres

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
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
// reconnects by itself when the server restarts. When the server cannot be
// reached, the error names the host, port, database and user and says why
// (refused, timed out, host not found, no such database, authentication
// failed, TLS), never the password.
func Open(ctx context.Context, url string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, errors.New("postgres: DATABASE_URL is not a valid connection string")
	}
	// At least 10 connections unless the URL asks for a number
	// (pool_max_conns), as an operator behind a pooler may.
	if cfg.MaxConns < 10 && !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = 10
	}
	cfg.MaxConnIdleTime = 5 * time.Minute
	cfg.HealthCheckPeriod = 15 * time.Second
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		return nil, connectFailure(cfg.ConnConfig, err)
	}
	return &DB{Pool: pool}, nil
}

// Close closes the pool.
func (db *DB) Close() { db.Pool.Close() }

// Ping checks that PostgreSQL answers within ctx.
func (db *DB) Ping(ctx context.Context) error { return db.Pool.Ping(ctx) }

// Migrate runs goose's command ("up", "down" or "status") against the
// embedded migrations and returns every migration's status afterwards.
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

// connectFailure says where Open tried to connect and why it failed, from
// the parsed configuration and the error's kind, so no part of the URL that
// could carry a password (nor pgx's own message, which quotes the
// configuration) reaches the caller.
func connectFailure(cfg *pgx.ConnConfig, err error) error {
	where := net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port)))
	if strings.HasPrefix(cfg.Host, "/") {
		where = fmt.Sprintf("socket %s/.s.PGSQL.%d", cfg.Host, cfg.Port)
	}
	return fmt.Errorf("postgres: cannot reach the database %q at %s as user %q: %s",
		cfg.Database, where, cfg.User, connectReason(err, cfg.ConnectTimeout))
}

// connectReason names why a connection attempt failed.
func connectReason(err error, timeout time.Duration) string {
	var pgErr *pgconn.PgError
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	var recErr tls.RecordHeaderError
	var unknownCA x509.UnknownAuthorityError
	var badHost x509.HostnameError
	switch {
	case errors.As(err, &pgErr):
		switch pgErr.Code {
		case "3D000":
			return "no such database (the server says: " + pgErr.Message + ")"
		case "28P01":
			return "authentication failed: wrong password (the server says: " + pgErr.Message + ")"
		case "28000":
			return "authentication failed (the server says: " + pgErr.Message + ")"
		case "53300":
			return "the server has too many connections"
		case "57P03":
			return "the server is starting up or shutting down"
		}
		if strings.Contains(pgErr.Message, "authentication failed") {
			// PgBouncer reports a wrong password as a protocol error.
			return "authentication failed (the server says: " + pgErr.Message + ")"
		}
		return fmt.Sprintf("the server refused: %s (SQLSTATE %s)", pgErr.Message, pgErr.Code)
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused (is PostgreSQL running there?)"
	case errors.As(err, &dnsErr):
		return "host not found"
	case errors.As(err, &certErr), errors.As(err, &recErr), errors.As(err, &unknownCA), errors.As(err, &badHost),
		strings.Contains(err.Error(), "tls error") || strings.Contains(err.Error(), "tls: "):
		return "TLS failed (check sslmode and the server's certificate): " + tlsDetail(err)
	case pgconn.Timeout(err) || errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		return fmt.Sprintf("timed out (connect timeout %s)", timeout)
	case errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return "the server closed the connection"
	}
	return "connection failed"
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// tlsDetail is the TLS library's part of a failure, without pgx's prefix
// that quotes the configuration.
func tlsDetail(err error) string {
	msg := err.Error()
	for _, marker := range []string{"tls: ", "x509: ", "server refused TLS connection"} {
		if i := strings.Index(msg, marker); i >= 0 {
			return msg[i:]
		}
	}
	return "handshake failed"
}
