package postgres

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/dealctx/dealctx/internal/deal"
	"github.com/dealctx/dealctx/migrations"
	"github.com/jackc/pgx/v5"
)

// TestAdminURL is the server tests create their databases on:
// TEST_DATABASE_URL, or the local default.
func TestAdminURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

var template struct {
	once sync.Once
	name string
	err  error
}

// NewTestDatabase creates a fresh, migrated database for one test, drops it
// when the test ends, and returns its URL. Databases are cloned from a
// migrated template, so each costs milliseconds. A server that cannot be
// reached fails the test loudly.
func NewTestDatabase(t testing.TB) string {
	t.Helper()
	admin := TestAdminURL()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	template.once.Do(func() { template.name, template.err = ensureTemplate(ctx, admin) })
	if template.err != nil {
		t.Fatalf("test database: PostgreSQL at TEST_DATABASE_URL is required: %v", template.err)
	}
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("test database: cannot connect to TEST_DATABASE_URL: %v", err)
	}
	defer conn.Close(ctx)
	name := "dealctx_test_" + randomHex(6)
	// CREATE DATABASE ... TEMPLATE fails while anything else copies the
	// same template; retry briefly.
	for attempt := 0; ; attempt++ {
		_, err = conn.Exec(ctx, fmt.Sprintf(`CREATE DATABASE %s TEMPLATE %s`, name, template.name))
		if err == nil || attempt == 50 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("test database: create: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Logf("test database: drop %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, fmt.Sprintf(`DROP DATABASE IF EXISTS %s WITH (FORCE)`, name)); err != nil {
			t.Logf("test database: drop %s: %v", name, err)
		}
	})
	return withDatabase(admin, name)
}

// NewTestDB is NewTestDatabase opened as a *DB, closed when the test ends.
func NewTestDB(t testing.TB) *DB {
	t.Helper()
	url := NewTestDatabase(t)
	db, err := Open(context.Background(), url)
	if err != nil {
		t.Fatalf("test database: open: %v", err)
	}
	t.Cleanup(db.Close)
	return db
}

// ensureTemplate creates, once per migration set, a migrated template
// database that test databases are cloned from. An advisory lock keeps
// concurrent test packages from racing to build it.
func ensureTemplate(ctx context.Context, admin string) (string, error) {
	h := sha256.New()
	err := fs.WalkDir(migrations.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := migrations.FS.ReadFile(p)
		h.Write([]byte(p))
		h.Write(b)
		return err
	})
	if err != nil {
		return "", err
	}
	name := "dealctx_tmpl_" + hex.EncodeToString(h.Sum(nil))[:12]
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(7262001)`); err != nil {
		return "", err
	}
	// Closing the connection releases the lock too; unlocking first lets
	// the next package in at once.
	defer func() { _, _ = conn.Exec(context.Background(), `SELECT pg_advisory_unlock(7262001)`) }()
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return "", err
	}
	if exists {
		return name, nil
	}
	building := name + "_build"
	if _, err := conn.Exec(ctx, fmt.Sprintf(`DROP DATABASE IF EXISTS %s WITH (FORCE)`, building)); err != nil {
		return "", err
	}
	if _, err := conn.Exec(ctx, fmt.Sprintf(`CREATE DATABASE %s`, building)); err != nil {
		return "", err
	}
	db, err := Open(ctx, withDatabase(admin, building))
	if err != nil {
		return "", err
	}
	_, err = db.Migrate(ctx, "up")
	db.Close()
	if err != nil {
		return "", err
	}
	if _, err := conn.Exec(ctx, fmt.Sprintf(`ALTER DATABASE %s RENAME TO %s`, building, name)); err != nil {
		return "", err
	}
	return name, nil
}

func withDatabase(rawURL, name string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		panic(err)
	}
	u.Path = "/" + name
	return u.String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// RequireSelectedOnce fails t unless audit_log holds exactly one
// deal.selected event for each request id: what an operator checks after a
// load that selected deals through several processes.
func RequireSelectedOnce(t testing.TB, db *DB, requestIDs []string) {
	t.Helper()
	rows, err := db.Pool.Query(context.Background(), `
SELECT r, (SELECT count(*) FROM audit_log WHERE request_id = r AND action = $2)
FROM unnest($1::text[]) r`, requestIDs, deal.ActionDealSelected)
	if err != nil {
		t.Fatal(err)
	}
	counts, err := pgx.CollectRows(rows, pgx.RowToStructByPos[struct {
		ID string
		N  int64
	}])
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range counts {
		if c.N != 1 {
			t.Errorf("request %s: got %d deal.selected events in audit_log, want 1", c.ID, c.N)
		}
	}
}
