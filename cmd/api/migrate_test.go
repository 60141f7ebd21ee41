package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/dealctx/dealctx/internal/postgres/pgtest"
	"github.com/dealctx/dealctx/internal/testserver"
)

// `api migrate` connects to MIGRATE_DATABASE_URL when it is set (a direct
// connection beside a pooler's DATABASE_URL), and never to DATABASE_URL then.
func TestMigrateUsesMigrateDatabaseURL(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"DATABASE_URL":         fmt.Sprintf("postgres://app:pw@127.0.0.1:%d/nothing?sslmode=disable", testserver.FreePort(t)),
		"MIGRATE_DATABASE_URL": pgtest.NewDatabase(t),
	}
	out := command(t, env, "", "migrate", "status")
	if !strings.Contains(out, "00001") || strings.Contains(out, "pending") {
		t.Errorf("migrate status: got %q, want every migration applied", out)
	}
}
