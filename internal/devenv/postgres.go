package devenv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// Postgres is a private PostgreSQL cluster whose data lives in Dir/data,
// run as a child process listening on 127.0.0.1:Port only.
type Postgres struct {
	BinDir    string // holds initdb and postgres
	Dir       string // holds data/ and postgres.log
	Port      int
	Throwaway bool // tests: no fsync, nothing made durable

	runAs *user.User
	proc  *process
	log   *os.File
}

// NewPostgres prepares a cluster in dir (created when missing, and given
// to the postgres user when running as root), running initdb when dir holds
// no cluster yet. A cluster made by another major version is an error.
func NewPostgres(binDir, dir string, port int, throwaway bool) (*Postgres, error) {
	u, err := serverUser()
	if err != nil {
		return nil, err
	}
	p := &Postgres{BinDir: binDir, Dir: dir, Port: port, Throwaway: throwaway, runAs: u}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if err := chownTo(dir, u); err != nil {
		return nil, err
	}
	if !reachable(dir, u) {
		return nil, fmt.Errorf("the postgres user cannot reach %s", dir)
	}
	data := filepath.Join(dir, "data")
	if v, err := os.ReadFile(filepath.Join(data, "PG_VERSION")); err == nil {
		have, err := p.majorVersion()
		if err != nil {
			return nil, err
		}
		if want := strings.TrimSpace(string(v)); want != have {
			return nil, fmt.Errorf("%s was made by PostgreSQL %s but %s is %s: remove it or set POSTGRES_BIN_DIR", data, want, binDir, have)
		}
		return p, nil
	}
	args := []string{"-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-locale"}
	if throwaway {
		args = append(args, "--no-sync")
	}
	var out strings.Builder
	proc, err := startProcess(dir, u, &out, filepath.Join(binDir, "initdb"), args...)
	if err != nil {
		return nil, err
	}
	<-proc.done
	if proc.err != nil {
		return nil, fmt.Errorf("initdb in %s: %v\n%s", data, proc.err, out.String())
	}
	return p, nil
}

func (p *Postgres) majorVersion() (string, error) {
	var out strings.Builder
	proc, err := startProcess(p.Dir, nil, &out, filepath.Join(p.BinDir, "postgres"), "--version")
	if err != nil {
		return "", err
	}
	<-proc.done
	if proc.err != nil {
		return "", fmt.Errorf("postgres --version: %v", proc.err)
	}
	// "postgres (PostgreSQL) 15.8 (Debian 15.8-0+deb12u1)"
	f := strings.Fields(out.String())
	if len(f) < 3 {
		return "", fmt.Errorf("postgres --version: unexpected %q", out.String())
	}
	major, _, _ := strings.Cut(f[2], ".")
	return major, nil
}

// URL is a URL of the cluster's postgres database as its superuser.
func (p *Postgres) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", p.Port)
}

// Addr is the server's host:port.
func (p *Postgres) Addr() string { return "127.0.0.1:" + strconv.Itoa(p.Port) }

// LogPath is the file the server's log goes to.
func (p *Postgres) LogPath() string { return filepath.Join(p.Dir, "postgres.log") }

// Start starts the server and waits up to 60 s until it answers a query.
func (p *Postgres) Start(ctx context.Context) error {
	lf, err := os.OpenFile(p.LogPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	args := []string{"-D", filepath.Join(p.Dir, "data"), "-p", strconv.Itoa(p.Port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=", "-c", "max_connections=300"}
	if p.Throwaway {
		// Durability buys nothing in a server removed at the end of the run.
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	proc, err := startProcess(p.Dir, p.runAs, lf, filepath.Join(p.BinDir, "postgres"), args...)
	if err != nil {
		_ = lf.Close()
		return err
	}
	p.proc, p.log = proc, lf
	deadline := time.Now().Add(60 * time.Second)
	for {
		err := PingPostgres(ctx, p.URL(), false)
		if err == nil {
			return nil
		}
		if proc.exited() || time.Now().After(deadline) || ctx.Err() != nil {
			p.Kill()
			return fmt.Errorf("PostgreSQL in %s did not start on port %d (log: %s): %w", p.Dir, p.Port, p.LogPath(), err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop shuts the server down cleanly (fast shutdown), killing it when that
// takes over 30 s.
func (p *Postgres) Stop() {
	p.end(syscall.SIGINT, 30*time.Second)
}

// Kill stops the server at once, as a crash would (immediate shutdown,
// then SIGKILL after 5 s).
func (p *Postgres) Kill() {
	p.end(syscall.SIGQUIT, 5*time.Second)
}

func (p *Postgres) end(sig syscall.Signal, grace time.Duration) {
	if p.proc == nil {
		return
	}
	p.proc.stop(sig, grace)
	p.proc = nil
	_ = p.log.Close()
}

// PingPostgres checks that url answers a query within 10 s and, with
// createDB, that its role may create databases (the tests need that).
func PingPostgres(ctx context.Context, url string, createDB bool) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return errors.New("not a PostgreSQL URL")
	}
	cfg.ConnectTimeout = 3 * time.Second
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() { _ = c.Close(context.Background()) }()
	var may bool
	if err := c.QueryRow(ctx, "select rolsuper or rolcreatedb from pg_roles where rolname = current_user").Scan(&may); err != nil {
		return err
	}
	if createDB && !may {
		return errors.New("its role may not create databases")
	}
	return nil
}

// EnsureDatabase creates the database name on the server of adminURL when
// missing and returns adminURL with its database replaced by name.
func EnsureDatabase(ctx context.Context, adminURL, name string, log io.Writer) (string, error) {
	cfg, err := pgx.ParseConfig(adminURL)
	if err != nil {
		return "", errors.New("not a PostgreSQL URL")
	}
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return "", err
	}
	defer func() { _ = c.Close(context.Background()) }()
	var exists bool
	if err := c.QueryRow(ctx, "select exists (select from pg_database where datname = $1)", name).Scan(&exists); err != nil {
		return "", err
	}
	if !exists {
		_, _ = fmt.Fprintf(log, "devenv: PostgreSQL: creating the database %s\n", name)
		if _, err := c.Exec(ctx, "create database "+pgx.Identifier{name}.Sanitize()); err != nil {
			return "", err
		}
	}
	return withDatabase(adminURL, name), nil
}
