package testserver

import (
	"os"
	"testing"

	"github.com/dealctx/dealctx/internal/devenv"
)

// PgBouncer is a private PgBouncer (PGBOUNCER_BIN, else Debian's) in
// transaction mode in front of one PostgreSQL.
type PgBouncer struct {
	t   testing.TB
	srv *devenv.PgBouncer
}

// StartPgBouncer starts a PgBouncer in transaction mode on a free loopback
// port in front of the server of pgURL, with poolSize server connections per
// database; it is killed when the test ends. Clients are trusted; it logs in
// upstream with pgURL's user and password.
func StartPgBouncer(t testing.TB, pgURL string, poolSize int) *PgBouncer {
	t.Helper()
	dir, err := os.MkdirTemp("", "dealctx-pgbouncer-") // the postgres user must reach it as root
	if err != nil {
		t.Fatal(err)
	}
	b := &PgBouncer{t: t, srv: &devenv.PgBouncer{
		Bin: find(t, devenv.PgBouncerProgram()), Dir: dir, Port: FreePort(t), Upstream: pgURL, PoolSize: poolSize,
	}}
	t.Cleanup(func() { b.Kill(); _ = os.RemoveAll(dir) })
	ctx, cancel := startCtx()
	defer cancel()
	if err := b.srv.Start(ctx); err != nil {
		t.Fatalf("testserver: %v", err)
	}
	return b
}

// URL is pgURL's database through the pooler, with
// default_query_exec_mode=simple_protocol as transaction pooling needs.
func (b *PgBouncer) URL() string { return b.srv.URL("") }

// URLFor is the database name through the pooler, likewise.
func (b *PgBouncer) URLFor(database string) string { return b.srv.URL(database) }

// Addr is the pooler's host:port.
func (b *PgBouncer) Addr() string { return b.srv.Addr() }

// Kill stops the pooler at once, cutting every client connection.
func (b *PgBouncer) Kill() { b.srv.Kill() }
