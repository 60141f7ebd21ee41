// Package testserver starts private redis-server and PostgreSQL processes for
// tests that need to kill, restart or isolate them. It is used only by tests.
package testserver

import (
	"context"

	"fmt"
	"github.com/jackc/pgx/v5"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Redis is a private redis-server process.
type Redis struct {
	t    testing.TB
	Port int
	cmd  *exec.Cmd
	dir  string
}

// URL is the server's redis:// URL.
func (r *Redis) URL() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.Port) }

// Addr is the server's host:port.
func (r *Redis) Addr() string { return fmt.Sprintf("127.0.0.1:%d", r.Port) }

// StartRedis starts a private redis-server (REDIS_SERVER_BIN, else
// redis-server on PATH) on a free port; it is killed when the test ends.
// A missing binary fails the test loudly.
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	r := &Redis{t: t, Port: FreePort(t), dir: t.TempDir()}
	r.Start()
	t.Cleanup(r.Kill)
	return r
}

func redisBin(t testing.TB) string {
	if b := os.Getenv("REDIS_SERVER_BIN"); b != "" {
		return b
	}
	b, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("testserver: redis-server is required (install Debian's redis-server or set REDIS_SERVER_BIN): %v", err)
	}
	return b
}

// Start (re)starts the server on its port and waits until it accepts
// connections.
func (r *Redis) Start() {
	r.t.Helper()
	r.cmd = exec.Command(redisBin(r.t), "--port", strconv.Itoa(r.Port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", r.dir, "--daemonize", "no", "--loglevel", "warning")
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := r.cmd.Start(); err != nil {
		r.t.Fatalf("testserver: start redis-server: %v", err)
	}
	waitTCP(r.t, r.Addr(), 10*time.Second)
}

// Kill stops the server at once (SIGKILL), as a crash would.
func (r *Redis) Kill() {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	r.cmd.Process.Kill()
	r.cmd.Wait()
	r.cmd = nil
}

// Postgres is a private PostgreSQL cluster.
type Postgres struct {
	t      testing.TB
	Port   int
	dir    string
	binDir string
	runAs  *user.User
	cmd    *exec.Cmd
}

// URL is an admin URL for the cluster's postgres database.
func (p *Postgres) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", p.Port)
}

// Addr is the server's host:port.
func (p *Postgres) Addr() string { return fmt.Sprintf("127.0.0.1:%d", p.Port) }

// StartPostgres initialises and starts a private PostgreSQL cluster (binaries
// from POSTGRES_BIN_DIR, else found next to initdb on PATH or under
// /usr/lib/postgresql) on a free port; it is removed when the test ends. As
// root, the server runs as the postgres system user.
func StartPostgres(t testing.TB) *Postgres {
	t.Helper()
	p := &Postgres{t: t, Port: FreePort(t), binDir: pgBinDir(t)}
	dir, err := os.MkdirTemp("", "dealctx-pg-")
	if err != nil {
		t.Fatal(err)
	}
	p.dir = dir
	t.Cleanup(func() { p.Kill(); os.RemoveAll(dir) })
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("testserver: running as root needs a postgres system user: %v", err)
		}
		p.runAs = u
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		os.Chown(dir, uid, gid)
	}
	initdb := p.command(filepath.Join(p.binDir, "initdb"), "-D", filepath.Join(dir, "data"), "-U", "postgres",
		"--auth=trust", "--no-sync", "-E", "UTF8")
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("testserver: initdb: %v\n%s", err, out)
	}
	p.Start()
	return p
}

func pgBinDir(t testing.TB) string {
	if d := os.Getenv("POSTGRES_BIN_DIR"); d != "" {
		return d
	}
	if b, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(b); err == nil {
			return filepath.Dir(real)
		}
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(matches) > 0 {
		return filepath.Dir(matches[len(matches)-1])
	}
	t.Fatalf("testserver: PostgreSQL server binaries are required (install Debian's postgresql or set POSTGRES_BIN_DIR)")
	return ""
}

func (p *Postgres) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if p.runAs != nil {
		uid, _ := strconv.Atoi(p.runAs.Uid)
		gid, _ := strconv.Atoi(p.runAs.Gid)
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	cmd.Dir = p.dir
	return cmd
}

// Start (re)starts the server and waits until it accepts connections.
func (p *Postgres) Start() {
	p.t.Helper()
	p.cmd = p.command(filepath.Join(p.binDir, "postgres"), "-D", filepath.Join(p.dir, "data"),
		"-p", strconv.Itoa(p.Port), "-h", "127.0.0.1", "-k", p.dir,
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	if err := p.cmd.Start(); err != nil {
		p.t.Fatalf("testserver: start postgres: %v", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		c, err := pgx.Connect(ctx, p.URL())
		if err == nil {
			err = c.Ping(ctx)
			c.Close(ctx)
		}
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("testserver: postgres did not accept connections: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Kill stops the server at once (SIGKILL to the postmaster; its backends
// exit when they notice), as a crash would.
func (p *Postgres) Kill() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGQUIT)
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		p.cmd.Process.Kill()
		<-done
	}
	p.cmd = nil
}

func waitTCP(t testing.TB, addr string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("testserver: %s did not accept connections within %s", addr, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
