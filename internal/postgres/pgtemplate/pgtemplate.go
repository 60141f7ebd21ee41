// Package pgtemplate creates the tests' PostgreSQL databases: each a clone
// of a template migrated once per set of migrations, so a fresh database
// costs milliseconds. Only tests use it (through internal/postgres/pgtest,
// or directly from internal/postgres's own tests, which cannot import
// pgtest); it imports testing and nothing of the module but the
// migrations, and the binaries never link it.
package pgtemplate

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/dealctx/dealctx/migrations"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
)

// AdminURL is the server tests create their databases on:
// TEST_DATABASE_URL, or the local default.
func AdminURL() string {
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

// NewDatabase creates a fresh, migrated database for one test on the
// server at TEST_DATABASE_URL, drops it when the test ends, and returns its
// URL. A server that cannot be reached fails the test loudly.
func NewDatabase(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	url, drop, err := CreateDatabase(ctx, AdminURL())
	if err != nil {
		t.Fatalf("test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := drop(ctx); err != nil {
			t.Logf("test database: %v", err)
		}
	})
	return url
}

// CreateDatabase creates a fresh, migrated database on the server at admin
// and returns its URL and the function that drops it. Databases are cloned
// from a migrated template (built once per migration set), so each costs
// milliseconds.
func CreateDatabase(ctx context.Context, admin string) (string, func(context.Context) error, error) {
	template.once.Do(func() { template.name, template.err = ensureTemplate(ctx, admin) })
	if template.err != nil {
		return "", nil, fmt.Errorf("PostgreSQL at TEST_DATABASE_URL is required: %w", template.err)
	}
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "", nil, fmt.Errorf("cannot connect to TEST_DATABASE_URL: %w", err)
	}
	defer conn.Close(ctx)
	name := NewName()
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
		return "", nil, fmt.Errorf("create: %w", err)
	}
	drop := func(ctx context.Context) error {
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			return fmt.Errorf("drop %s: %w", name, err)
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, fmt.Sprintf(`DROP DATABASE IF EXISTS %s WITH (FORCE)`, name)); err != nil {
			return fmt.Errorf("drop %s: %w", name, err)
		}
		return nil
	}
	return WithDatabase(admin, name), drop, nil
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
	if err := migrateUp(ctx, WithDatabase(admin, building)); err != nil {
		return "", err
	}
	if _, err := conn.Exec(ctx, fmt.Sprintf(`ALTER DATABASE %s RENAME TO %s`, building, name)); err != nil {
		return "", err
	}
	return name, nil
}

// WithDatabase is rawURL naming database name instead.
func WithDatabase(rawURL, name string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		panic(err)
	}
	u.Path = "/" + name
	return u.String()
}

// NewName is a fresh, unique name for a test database.
func NewName() string { return "dealctx_test_" + randomHex(6) }

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// migrateUp applies every migration to the database at rawURL, as
// `api migrate up` does (goose over migrations.FS).
func migrateUp(ctx context.Context, rawURL string) error {
	cfg, err := pgx.ParseConfig(rawURL)
	if err != nil {
		return err
	}
	sqlDB := stdlib.OpenDB(*cfg)
	defer func(db *sql.DB) { _ = db.Close() }(sqlDB)
	p, err := goose.NewProvider(goose.DialectPostgres, sqlDB, migrations.FS)
	if err != nil {
		return err
	}
	_, err = p.Up(ctx)
	return err
}
