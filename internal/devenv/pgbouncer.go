package devenv

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// PgBouncer is a private PgBouncer in transaction mode in front of one
// PostgreSQL server, listening on 127.0.0.1:Port only and trusting its
// clients (the upstream user and password are in its configuration).
type PgBouncer struct {
	Bin      string // pgbouncer
	Dir      string // pgbouncer.ini, userlist.txt, pgbouncer.log
	Port     int
	Upstream string // PostgreSQL URL whose host, port, user and password it connects with
	PoolSize int    // server connections per database and user

	user     string
	database string
	runAs    *user.User
	proc     *process
	log      *os.File
}

// IgnoredStartupParameters are the startup parameters PgBouncer accepts and
// drops instead of refusing the connection. pgx sends only user, database
// and what the URL names; these are what clients commonly add (lib/pq's
// extra_float_digits, a search_path in the URL).
const IgnoredStartupParameters = "extra_float_digits,search_path"

// URL is a URL through the pooler to database (the upstream URL's when
// empty), with the simple protocol that transaction pooling needs.
func (b *PgBouncer) URL(database string) string {
	if database == "" {
		database = b.database
	}
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable&default_query_exec_mode=simple_protocol",
		url.PathEscape(b.user), b.Port, url.PathEscape(database))
}

// Addr is the pooler's host:port.
func (b *PgBouncer) Addr() string { return "127.0.0.1:" + strconv.Itoa(b.Port) }

// LogPath is the file PgBouncer's log goes to.
func (b *PgBouncer) LogPath() string { return filepath.Join(b.Dir, "pgbouncer.log") }

// Start writes the configuration and starts PgBouncer, waiting up to 10 s
// until a query passes through it.
func (b *PgBouncer) Start(ctx context.Context) error {
	up, err := url.Parse(b.Upstream)
	if err != nil || up.Hostname() == "" {
		return fmt.Errorf("pgbouncer: upstream is not a PostgreSQL URL")
	}
	b.user = up.User.Username()
	if b.user == "" {
		b.user = "postgres"
	}
	password, _ := up.User.Password()
	b.database = strings.TrimPrefix(up.Path, "/")
	if b.database == "" {
		b.database = b.user
	}
	port := up.Port()
	if port == "" {
		port = "5432"
	}
	if b.PoolSize <= 0 {
		b.PoolSize = 4
	}
	if b.runAs, err = serverUser(); err != nil { // it refuses to run as root
		return err
	}
	if err := os.MkdirAll(b.Dir, 0o700); err != nil {
		return err
	}
	if err := chownTo(b.Dir, b.runAs); err != nil {
		return err
	}
	if !reachable(b.Dir, b.runAs) {
		return fmt.Errorf("the postgres user cannot reach %s", b.Dir)
	}
	db := fmt.Sprintf("host=%s port=%s user=%s", up.Hostname(), port, quoteIni(b.user))
	if password != "" {
		db += " password=" + quoteIni(password)
	}
	ini := fmt.Sprintf(`[databases]
* = %s

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = trust
auth_file = %s
pool_mode = transaction
default_pool_size = %d
min_pool_size = 0
reserve_pool_size = 0
max_client_conn = 1000
max_db_connections = 0
ignore_startup_parameters = %s
server_reset_query =
server_check_delay = 1
query_wait_timeout = 60
admin_users = %s
logfile = %s
log_connections = 0
log_disconnections = 0
`, db, b.Port, filepath.Join(b.Dir, "userlist.txt"), b.PoolSize, IgnoredStartupParameters,
		b.user, b.LogPath())
	files := map[string]string{
		"pgbouncer.ini": ini,
		"userlist.txt":  fmt.Sprintf("%q \"\"\n", b.user),
	}
	for name, content := range files {
		path := filepath.Join(b.Dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			return err
		}
		if err := chownTo(path, b.runAs); err != nil {
			return err
		}
	}
	lf, err := os.OpenFile(filepath.Join(b.Dir, "pgbouncer.out"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	proc, err := startProcess(b.Dir, b.runAs, lf, b.Bin, filepath.Join(b.Dir, "pgbouncer.ini"))
	if err != nil {
		_ = lf.Close()
		return err
	}
	b.proc, b.log = proc, lf
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := PingPostgres(ctx, b.URL(""), false)
		if err == nil {
			return nil
		}
		if proc.exited() || time.Now().After(deadline) || ctx.Err() != nil {
			out, _ := os.ReadFile(filepath.Join(b.Dir, "pgbouncer.out"))
			b.Kill()
			return fmt.Errorf("pgbouncer did not start on port %d (log: %s): %w\n%s", b.Port, b.LogPath(), err, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Kill stops PgBouncer at once, closing every client connection.
func (b *PgBouncer) Kill() {
	if b.proc == nil {
		return
	}
	b.proc.stop(syscall.SIGKILL, 0)
	b.proc = nil
	_ = b.log.Close()
}

// quoteIni quotes a value for a PgBouncer connection string.
func quoteIni(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}
