package postgres

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dealctx/dealctx/internal/testserver"
)

// pgBouncer is a PgBouncer in transaction mode in front of the test
// PostgreSQL, for this test only. Its one client login is bouncerUser with
// bouncerPassword (SCRAM); it reaches PostgreSQL as the admin URL's user.
type pgBouncer struct {
	port int
}

const (
	bouncerUser     = "app"
	bouncerPassword = "bouncer-secret"
)

// startPgBouncer starts PgBouncer 1.18 (PGBOUNCER_BIN, else
// /usr/sbin/pgbouncer) with poolSize server connections per database, and
// stops it when the test ends.
func startPgBouncer(t testing.TB, poolSize int) *pgBouncer {
	t.Helper()
	bin := os.Getenv("PGBOUNCER_BIN")
	if bin == "" {
		bin = "/usr/sbin/pgbouncer"
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("pgbouncer: %v (install pgbouncer or set PGBOUNCER_BIN)", err)
	}
	admin, err := url.Parse(TestAdminURL())
	if err != nil {
		t.Fatalf("pgbouncer: TEST_DATABASE_URL: %v", err)
	}
	host, port := admin.Hostname(), admin.Port()
	if port == "" {
		port = "5432"
	}
	backend := fmt.Sprintf("host=%s port=%s user=%s", host, port, admin.User.Username())
	if pw, ok := admin.User.Password(); ok {
		backend += " password=" + pw
	}
	// PgBouncer refuses to run as root; it then runs as nobody, who must
	// read its files.
	dir, err := os.MkdirTemp("", "pgbouncer-")
	if err != nil {
		t.Fatalf("pgbouncer: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	b := &pgBouncer{port: testserver.FreePort(t)}
	ini := fmt.Sprintf(`[databases]
* = %s
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = scram-sha-256
auth_file = %s
pool_mode = transaction
default_pool_size = %d
max_client_conn = 200
`, backend, b.port, filepath.Join(dir, "users.txt"), poolSize)
	for name, body := range map[string]string{
		"pgbouncer.ini": ini,
		"users.txt":     fmt.Sprintf("%q %q\n", bouncerUser, bouncerPassword),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatalf("pgbouncer: %v", err)
		}
	}
	args := []string{filepath.Join(dir, "pgbouncer.ini")}
	if os.Geteuid() == 0 {
		args = append([]string{"-u", "nobody"}, args...)
	}
	log := &testserver.LogBuffer{}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatalf("pgbouncer: start: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	addr := fmt.Sprintf("127.0.0.1:%d", b.port)
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return b
		}
		if time.Now().After(deadline) {
			t.Fatalf("pgbouncer did not listen on %s: %v\n%s", addr, err, log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// url is the URL of database through PgBouncer, as DATABASE_URL would be
// set for it (simple protocol: no prepared statements).
func (b *pgBouncer) url(database string) string {
	return b.urlAs(bouncerUser, bouncerPassword, database)
}

func (b *pgBouncer) urlAs(user, password, database string) string {
	u := url.URL{Scheme: "postgres", User: url.UserPassword(user, password),
		Host: fmt.Sprintf("127.0.0.1:%d", b.port), Path: "/" + database,
		RawQuery: "sslmode=disable&default_query_exec_mode=simple_protocol"}
	return u.String()
}

// databaseName is the database a test URL names.
func databaseName(t testing.TB, rawURL string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatalf("parse %s: %v", rawURL, err)
	}
	return strings.TrimPrefix(u.Path, "/")
}
