// Package testserver starts private redis-server, PostgreSQL and PgBouncer
// processes (single servers, a Sentinel group, a Cluster) for tests that need
// to kill, restart or isolate them, on loopback ports only. It is used only
// by tests; the servers themselves are internal/devenv's, shared with make
// dev and make test. Each is stopped and its files removed when the test
// ends, and a missing program fails the test loudly.
package testserver

import (
	"context"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/dealctx/dealctx/internal/devenv"
)

// startTimeout bounds each server's start in tests.
const startTimeout = 60 * time.Second

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	p, err := devenv.FreePort()
	if err != nil {
		t.Fatalf("testserver: %v", err)
	}
	return p
}

func find(t testing.TB, p devenv.Program) string {
	t.Helper()
	path, err := p.Find(os.Getenv)
	if err != nil {
		t.Fatalf("testserver: %v", err)
	}
	return path
}

func startCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), startTimeout)
}

// Redis is a private redis-server process.
type Redis struct {
	t    testing.TB
	Port int
	srv  *devenv.Redis
}

// URL is the server's redis:// URL.
func (r *Redis) URL() string { return r.srv.URL() }

// Addr is the server's host:port.
func (r *Redis) Addr() string { return r.srv.Addr() }

// StartRedis starts a private redis-server (REDIS_SERVER_BIN, else
// redis-server on PATH) on a free port; it is killed when the test ends.
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	return startRedis(t, t.TempDir(), FreePort(t), "")
}

func startRedis(t testing.TB, dir string, port int, config string, args ...string) *Redis {
	t.Helper()
	r := &Redis{t: t, Port: port, srv: &devenv.Redis{
		Bin: find(t, devenv.RedisServerProgram()), Dir: dir, Port: port, Config: config, Args: args,
	}}
	r.Start()
	t.Cleanup(r.Kill)
	return r
}

// Start (re)starts the server on its port and waits until it answers PING.
func (r *Redis) Start() {
	r.t.Helper()
	ctx, cancel := startCtx()
	defer cancel()
	if err := r.srv.Start(ctx); err != nil {
		r.t.Fatalf("testserver: %v", err)
	}
}

// Kill stops the server at once (SIGKILL), as a crash would.
func (r *Redis) Kill() { r.srv.Kill() }

// Freeze stops the server in its tracks (SIGSTOP): connections stay open
// and nothing answers, as a server stalled by the kernel or a long fork
// would; Thaw lets it go on.
func (r *Redis) Freeze() { r.srv.Signal(syscall.SIGSTOP) }

// Thaw resumes a frozen server (SIGCONT).
func (r *Redis) Thaw() { r.srv.Signal(syscall.SIGCONT) }

// Postgres is a private PostgreSQL cluster.
type Postgres struct {
	t    testing.TB
	Port int
	srv  *devenv.Postgres
}

// URL is an admin URL for the cluster's postgres database.
func (p *Postgres) URL() string { return p.srv.URL() }

// Addr is the server's host:port.
func (p *Postgres) Addr() string { return p.srv.Addr() }

// StartPostgres initialises and starts a private PostgreSQL cluster (binaries
// from POSTGRES_BIN_DIR, else Debian's or initdb's on PATH) on a free port;
// it is removed when the test ends. As root, the server runs as the postgres
// system user.
func StartPostgres(t testing.TB) *Postgres {
	t.Helper()
	bin, err := devenv.PostgresBinDir(os.Getenv)
	if err != nil {
		t.Fatalf("testserver: %v", err)
	}
	// Not t.TempDir: the postgres user must reach it when running as root.
	dir, err := os.MkdirTemp("", "dealctx-pg-")
	if err != nil {
		t.Fatal(err)
	}
	port := FreePort(t)
	srv, err := devenv.NewPostgres(bin, dir, port, true)
	if err != nil {
		_ = os.RemoveAll(dir)
		t.Fatalf("testserver: %v", err)
	}
	p := &Postgres{t: t, Port: port, srv: srv}
	t.Cleanup(func() { p.Kill(); _ = os.RemoveAll(dir) })
	p.Start()
	return p
}

// Start (re)starts the server and waits until it answers a query.
func (p *Postgres) Start() {
	p.t.Helper()
	ctx, cancel := startCtx()
	defer cancel()
	if err := p.srv.Start(ctx); err != nil {
		p.t.Fatalf("testserver: %v", err)
	}
}

// Kill stops the server at once (immediate shutdown, as a crash would).
func (p *Postgres) Kill() { p.srv.Kill() }
