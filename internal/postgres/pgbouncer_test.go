package postgres

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/dealctx/dealctx/internal/deal"
	"github.com/dealctx/dealctx/internal/postgres/pgtemplate"
	"github.com/dealctx/dealctx/internal/testserver"
	"github.com/jackc/pgx/v5"
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
	admin, err := url.Parse(pgtemplate.AdminURL())
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
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatalf("pgbouncer: %v", err)
	}
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
		_ = cmd.Process.Kill()
		_ = cmd.Wait() // killed: its exit status says nothing
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
// set for it: mode is pgx's default_query_exec_mode (simple_protocol or
// exec: no prepared statements outlive a transaction).
func (b *pgBouncer) url(database, mode string) string {
	return b.urlAs(bouncerUser, bouncerPassword, database, mode)
}

func (b *pgBouncer) urlAs(user, password, database, mode string) string {
	u := url.URL{Scheme: "postgres", User: url.UserPassword(user, password),
		Host: fmt.Sprintf("127.0.0.1:%d", b.port), Path: "/" + database,
		RawQuery: "sslmode=disable&default_query_exec_mode=" + mode}
	return u.String()
}

// newEmptyDatabase creates a database with no tables, dropped when the test
// ends, and returns its name.
func newEmptyDatabase(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pgtemplate.AdminURL())
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	name := pgtemplate.NewName()
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), pgtemplate.AdminURL())
		if err != nil {
			t.Logf("drop %s: %v", name, err)
			return
		}
		defer c.Close(context.Background())
		if _, err := c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("drop %s: %v", name, err)
		}
	})
	return name
}

// Everything the api and the worker run works through PgBouncer in
// transaction mode with a pool of 4 server connections: migrations from an
// empty database, the live statements, transactions, and 24 clients
// selecting at once, each selection audited once.
func TestLiveStatementsThroughPgBouncer(t *testing.T) {
	t.Parallel()
	bouncer := startPgBouncer(t, 4)
	for _, mode := range []string{"simple_protocol", "exec"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db, err := Open(ctx, bouncer.url(newEmptyDatabase(t), mode))
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			defer db.Close()
			for i := 0; i < 2; i++ {
				statuses, err := db.Migrate(ctx, "up")
				if err != nil {
					t.Fatalf("migrate up #%d: %v", i+1, err)
				}
				for _, s := range statuses {
					if s.AppliedAt.IsZero() {
						t.Fatalf("migrate up #%d: %s pending, want applied", i+1, s.Source.Path)
					}
				}
			}

			owner, err := db.CreateUser(ctx, "owner@example.com", "Owner", "x", false)
			if err != nil {
				t.Fatalf("create user: %v", err)
			}
			member, err := db.CreateUser(ctx, "member@example.com", "Member", "x", false)
			if err != nil {
				t.Fatalf("create user: %v", err)
			}
			d, err := db.CreateDeal(ctx, deal.Actor{UserID: owner.ID}, "Atlas")
			if err != nil {
				t.Fatalf("create deal: %v", err)
			}
			if _, err := db.AddMember(ctx, deal.Actor{UserID: owner.ID}, d.ID, member.Email, deal.RoleMember); err != nil {
				t.Fatalf("add member (a transaction): %v", err)
			}

			const clients, rounds = 24, 5
			var wg sync.WaitGroup
			errs := make(chan error, clients*rounds)
			for c := range clients {
				uid := owner.ID
				if c%2 == 1 {
					uid = member.ID
				}
				wg.Go(func() {
					for range rounds {
						if _, err := db.SelectDeal(ctx, deal.Actor{UserID: uid}, d.ID, deal.ActionDealSelected); err != nil {
							errs <- fmt.Errorf("select: %w", err)
						}
						if _, err := db.FindDealsForUser(ctx, uid); err != nil {
							errs <- fmt.Errorf("list: %w", err)
						}
						if _, _, _, err := db.RestoreLastDeal(ctx, deal.Actor{UserID: uid}); err != nil {
							errs <- fmt.Errorf("restore: %w", err)
						}
						if err := db.CountUsage(ctx, map[string]int64{deal.UsagePageLoad: 1}); err != nil {
							errs <- fmt.Errorf("count usage: %w", err)
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}

			if _, err := db.MoveAuditEvents(ctx, 1000); err != nil {
				t.Fatalf("move audit events: %v", err)
			}
			selected, err := db.FindAuditEventsFor(ctx, owner.ID, deal.AuditFilter{Action: deal.ActionDealSelected, Limit: 500})
			if err != nil {
				t.Fatalf("audit: %v", err)
			}
			if got, want := len(selected), clients*rounds; got != want {
				t.Errorf("deal.selected events: got %d, want %d (one per selection)", got, want)
			}
			st, err := db.FindUsageStats(ctx, time.Now().Add(-time.Hour))
			if err != nil {
				t.Fatalf("stats: %v", err)
			}
			if st.Restored != clients*rounds || st.PageLoads != clients*rounds {
				t.Errorf("stats: got %d restored, %d page loads, want %d each", st.Restored, st.PageLoads, clients*rounds)
			}
			if err := db.RemoveMember(ctx, deal.Actor{UserID: owner.ID}, d.ID, member.ID); err != nil {
				t.Fatalf("remove member (a transaction): %v", err)
			}
			if err := db.DeleteDeal(ctx, deal.Actor{UserID: owner.ID}, d.ID); err != nil {
				t.Fatalf("delete deal: %v", err)
			}
			if _, _, err := db.PruneStaleLastDeals(ctx, 0, 100); err != nil {
				t.Fatalf("prune: %v", err)
			}
			if _, err := db.Migrate(ctx, "down"); err != nil {
				t.Fatalf("migrate down: %v", err)
			}
			if _, err := db.Migrate(ctx, "up"); err != nil {
				t.Fatalf("migrate up after down: %v", err)
			}
		})
	}
}
