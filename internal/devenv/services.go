package devenv

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Flavour says whom the services are for.
type Flavour string

// The flavours: the tests (TEST_DATABASE_URL, TEST_REDIS_URL, private
// servers in a temporary directory removed at the end) and make dev
// (DATABASE_URL, REDIS_URL, the database dealctx, private servers keeping
// their data under .dev/<PORT>/ for the next run).
const (
	Test Flavour = "test"
	Dev  Flavour = "dev"
)

// The servers tried before starting private ones, unless
// DEALCTX_PRIVATE_SERVICES=1.
const (
	LocalPostgresURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	LocalRedisURL    = "redis://127.0.0.1:6379/0"
)

// DevDatabase is the database make dev uses on a server it did not start
// for itself alone.
const DevDatabase = "dealctx"

// Options say how to obtain the services.
type Options struct {
	Flavour   Flavour
	Getenv    Getenv
	Log       io.Writer
	Root      string // the repository: dev data goes under Root/.dev/
	Ports     Ports  // dev: ports of the private servers (and the .dev/<API>/ directory)
	Installer *Installer
}

// Services are the PostgreSQL and Redis of one run.
type Services struct {
	DatabaseURL string
	RedisURL    string

	pg     *Postgres
	redis  *Redis
	remove []string
}

// URLVariables are the variables the flavour's URLs go in.
func (f Flavour) URLVariables() (database, redis string) {
	if f == Test {
		return "TEST_DATABASE_URL", "TEST_REDIS_URL"
	}
	return "DATABASE_URL", "REDIS_URL"
}

// Obtain finds or starts PostgreSQL and Redis: the URL from the environment
// when it answers; else the server on the default local port (unless
// DEALCTX_PRIVATE_SERVICES=1); else a private server from the installed
// programs (installed with apt-get when missing and possible). On an error
// nothing it started is left running.
func Obtain(ctx context.Context, o Options) (s *Services, err error) {
	s = &Services{}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if s.DatabaseURL, err = s.postgres(ctx, o); err != nil {
		return nil, fmt.Errorf("PostgreSQL: %w", err)
	}
	if s.RedisURL, err = s.redisURL(ctx, o); err != nil {
		return nil, fmt.Errorf("Redis: %w", err)
	}
	return s, nil
}

func logf(w io.Writer, format string, args ...any) {
	_, _ = fmt.Fprintf(w, "devenv: "+format+"\n", args...)
}

func private(getenv Getenv) bool { return getenv("DEALCTX_PRIVATE_SERVICES") == "1" }

func (s *Services) postgres(ctx context.Context, o Options) (string, error) {
	dbVar, _ := o.Flavour.URLVariables()
	needCreate := o.Flavour == Test
	if u := o.Getenv(dbVar); u != "" {
		if err := PingPostgres(ctx, u, needCreate); err != nil {
			return "", fmt.Errorf("%s=%s does not answer: %v", dbVar, Redact(u), err)
		}
		logf(o.Log, "PostgreSQL: using %s from the environment", dbVar)
		return u, nil
	}
	if !private(o.Getenv) && PingPostgres(ctx, LocalPostgresURL, true) == nil {
		logf(o.Log, "PostgreSQL: using the server on 127.0.0.1:5432")
		if o.Flavour == Dev {
			return EnsureDatabase(ctx, LocalPostgresURL, DevDatabase, o.Log)
		}
		return LocalPostgresURL, nil
	}
	bin, err := PostgresBinDir(o.Getenv)
	if err != nil {
		if ierr := o.Installer.Install(ctx, PostgresPackage); ierr != nil {
			return "", fmt.Errorf("none running and none to start: %v (or set %s)", ierr, dbVar)
		}
		if bin, err = PostgresBinDir(o.Getenv); err != nil {
			return "", err
		}
	}
	dir, port, err := s.postgresDir(o)
	if err != nil {
		return "", err
	}
	if o.Flavour == Dev {
		// A server still running on this data (make dev, while make migrate
		// runs beside it): use it, and leave it running.
		if url, ok := runningPostgres(ctx, dir); ok {
			logf(o.Log, "PostgreSQL: using the private server already running on %s", dir)
			return EnsureDatabase(ctx, url, DevDatabase, o.Log)
		}
	}
	if o.Flavour == Dev && !PortFree(port) {
		if port, err = FreePort(); err != nil {
			return "", err
		}
	}
	pg, err := NewPostgres(bin, dir, port, o.Flavour == Test)
	if err != nil {
		return "", err
	}
	if err := pg.Start(ctx); err != nil {
		return "", err
	}
	s.pg = pg
	logf(o.Log, "PostgreSQL: private server on %s (data and log in %s)", pg.Addr(), dir)
	if o.Flavour == Dev {
		return EnsureDatabase(ctx, pg.URL(), DevDatabase, o.Log)
	}
	return pg.URL(), nil
}

// postgresDir is where a private PostgreSQL lives: a temporary directory
// for the tests; .dev/<PORT>/postgres for make dev, or, when that is out of
// the postgres user's reach (a clone under /root, as root), a directory in
// /tmp linked from there so that the next run finds it.
func (s *Services) postgresDir(o Options) (string, int, error) {
	u, err := serverUser()
	if err != nil {
		return "", 0, err
	}
	if o.Flavour == Test {
		dir, err := os.MkdirTemp("", "dealctx-pg-")
		if err != nil {
			return "", 0, err
		}
		s.remove = append(s.remove, dir)
		port, err := FreePort()
		return dir, port, err
	}
	link := filepath.Join(o.Root, ".dev", strconv.Itoa(o.Ports.API), "postgres")
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		return "", 0, err
	}
	if target, err := os.Readlink(link); err == nil {
		return target, o.Ports.Postgres, nil
	}
	if err := os.MkdirAll(link, 0o700); err != nil {
		return "", 0, err
	}
	if err := chownTo(link, u); err != nil {
		return "", 0, err
	}
	if reachable(link, u) {
		return link, o.Ports.Postgres, nil
	}
	if _, err := os.Stat(filepath.Join(link, "data")); err == nil {
		return "", 0, fmt.Errorf("%s holds data the postgres user cannot reach: move it away or set DATABASE_URL", link)
	}
	if err := os.Remove(link); err != nil {
		return "", 0, err
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(link))
	target := fmt.Sprintf("/tmp/dealctx-dev-postgres-%08x", h.Sum32())
	// A predictable name in /tmp: take it over only when it is the postgres user's.
	if fi, err := os.Lstat(target); err == nil {
		uid, _, _ := ids(u)
		if st, ok := fi.Sys().(*syscall.Stat_t); fi.Mode()&os.ModeSymlink != 0 || !fi.IsDir() || !ok || st.Uid != uid {
			return "", 0, fmt.Errorf("%s exists and is not the postgres user's directory: remove it", target)
		}
	}
	if err := os.MkdirAll(target, 0o700); err != nil {
		return "", 0, err
	}
	if err := chownTo(target, u); err != nil {
		return "", 0, err
	}
	if err := os.Symlink(target, link); err != nil {
		return "", 0, err
	}
	logf(o.Log, "%s links to %s (the postgres user cannot reach %s)", link, target, o.Root)
	return target, o.Ports.Postgres, nil
}

// runningPostgres is the URL of a server running on dir's data, from its
// postmaster.pid (whose fourth line is the port), when it answers.
func runningPostgres(ctx context.Context, dir string) (string, bool) {
	b, err := os.ReadFile(filepath.Join(dir, "data", "postmaster.pid"))
	if err != nil {
		return "", false
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) < 4 {
		return "", false
	}
	port, err := strconv.Atoi(strings.TrimSpace(lines[3]))
	if err != nil {
		return "", false
	}
	url := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
	return url, PingPostgres(ctx, url, false) == nil
}

func (s *Services) redisURL(ctx context.Context, o Options) (string, error) {
	_, redisVar := o.Flavour.URLVariables()
	if u := o.Getenv(redisVar); u != "" {
		if strings.HasPrefix(u, "rediss://") {
			logf(o.Log, "Redis: using %s from the environment (TLS: not checked)", redisVar)
			return u, nil
		}
		if err := PingRedis(ctx, u); err != nil {
			return "", fmt.Errorf("%s=%s does not answer PING: %v", redisVar, Redact(u), err)
		}
		logf(o.Log, "Redis: using %s from the environment", redisVar)
		return u, nil
	}
	if !private(o.Getenv) && PingRedis(ctx, LocalRedisURL) == nil {
		logf(o.Log, "Redis: using the server on 127.0.0.1:6379")
		return LocalRedisURL, nil
	}
	bin, err := RedisServerProgram().Find(o.Getenv)
	if err != nil {
		if ierr := o.Installer.Install(ctx, RedisServerProgram().Package); ierr != nil {
			return "", fmt.Errorf("none running and none to start: %v (or set %s)", ierr, redisVar)
		}
		if bin, err = RedisServerProgram().Find(o.Getenv); err != nil {
			return "", err
		}
	}
	var dir string
	port := o.Ports.Redis
	if o.Flavour == Test {
		if dir, err = os.MkdirTemp("", "dealctx-redis-"); err != nil {
			return "", err
		}
		s.remove = append(s.remove, dir)
		port = 0
	} else {
		// Nothing is persisted: the directory only holds the log.
		dir = filepath.Join(o.Root, ".dev", strconv.Itoa(o.Ports.API), "redis")
	}
	var last error
	for range 5 { // someone may take a free port before the server binds it
		if port == 0 || !PortFree(port) {
			if port, err = FreePort(); err != nil {
				return "", err
			}
		}
		r := &Redis{Bin: bin, Dir: dir, Port: port}
		if last = r.Start(ctx); last == nil {
			s.redis = r
			logf(o.Log, "Redis: private server on %s (log: %s)", r.Addr(), r.LogPath())
			return r.URL(), nil
		}
		port = 0
	}
	return "", last
}

// Close stops the servers Obtain started and removes their temporary
// directories.
func (s *Services) Close() {
	if s.pg != nil {
		s.pg.Stop()
		s.pg = nil
	}
	if s.redis != nil {
		s.redis.Stop()
		s.redis = nil
	}
	for _, d := range s.remove {
		_ = os.RemoveAll(d)
	}
	s.remove = nil
}

// Tools finds the programs the tests start themselves and returns them as
// variables for the tests' environment (POSTGRES_BIN_DIR, REDIS_SERVER_BIN,
// REDIS_CLI_BIN, PGBOUNCER_BIN, CHROMIUM_BIN, PROMTOOL_BIN, HAPROXY_BIN,
// AXE_CORE_JS),
// installing the missing programs in one apt-get run and axe-core with npm.
// Missing PostgreSQL, Redis, PgBouncer or C compiler is an error; a missing
// Chromium, promtool, HAProxy or axe-core only a warning, since only the tests that
// need them fail.
func Tools(ctx context.Context, getenv Getenv, in *Installer, log io.Writer) ([]string, error) {
	type tool struct {
		name, env string
		find      func() (string, error)
		pkgs      []string
		optional  bool
		install   func() error // after apt-get, for what apt does not provide
	}
	program := func(p Program, optional bool) tool {
		return tool{p.Names[0], p.Env, func() (string, error) { return p.Find(getenv) }, []string{p.Package}, optional, nil}
	}
	// axe-core comes from the npm registry; npm itself from apt when missing.
	axe := tool{"axe-core", "AXE_CORE_JS", func() (string, error) { return AxeCoreJS(getenv) }, nil, true, func() error {
		if getenv("AXE_CORE_JS") != "" { // an explicit path is used as given, never overwritten
			return nil
		}
		_, err := InstallAxeCore(ctx, getenv, log)
		return err
	}}
	if _, err := exec.LookPath("npm"); err != nil {
		axe.pkgs = []string{"npm"}
	}
	tools := []tool{
		{"PostgreSQL", "POSTGRES_BIN_DIR", func() (string, error) { return PostgresBinDir(getenv) }, []string{PostgresPackage}, false, nil},
		program(RedisServerProgram(), false),
		program(RedisCLIProgram(), false),
		program(PgBouncerProgram(), false),
		program(ChromiumProgram(), true),
		program(PromtoolProgram(), true),
		program(HAProxyProgram(), true),
		axe,
		{"a C compiler (the race detector needs cgo)", "", cCompiler(getenv), []string{"gcc", "libc6-dev"}, false, nil},
	}
	var missing []string
	var later []func() error
	for _, t := range tools {
		if _, err := t.find(); err != nil {
			missing = append(missing, t.pkgs...)
			if t.install != nil {
				later = append(later, t.install)
			}
		}
	}
	var installErr error
	if len(missing) > 0 {
		installErr = in.Install(ctx, missing...)
	}
	for _, install := range later {
		if err := install(); err != nil {
			logf(log, "WARNING: %v", err)
		}
	}
	var env []string
	var errs []error
	for _, t := range tools {
		path, err := t.find()
		switch {
		case err == nil && t.env != "":
			env = append(env, t.env+"="+path)
		case err == nil:
		case t.optional:
			logf(log, "WARNING: %v; the tests that need it will fail", err)
		default:
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		if installErr != nil {
			errs = append(errs, installErr)
		}
		return nil, errors.Join(errs...)
	}
	return env, nil
}

// cCompiler finds the compiler cgo uses (CC, else gcc).
func cCompiler(getenv Getenv) func() (string, error) {
	return func() (string, error) {
		cc := getenv("CC")
		if cc == "" {
			cc = "gcc"
		}
		path, err := exec.LookPath(strings.Fields(cc)[0])
		if err != nil {
			return "", fmt.Errorf("no C compiler %s (Debian: apt-get install gcc libc6-dev)", cc)
		}
		return path, nil
	}
}
