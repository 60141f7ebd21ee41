package devenv

import (
	"io"
	"os"
	"path/filepath"
	"testing"
)

// As root, PostgreSQL runs as the postgres user; a clone under a 0700 home
// is out of its reach, so the dev data moves to /tmp, linked from .dev/ so
// that the next run finds the same directory.
func TestDevPostgresDirIsReachableAndStable(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	if err := os.Chmod(home, 0o700); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(home, "dealctx")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	o := Options{Flavour: Dev, Root: root, Ports: Ports{API: 8080, Postgres: 55432}, Log: io.Discard}
	s := &Services{}
	dir, port, err := s.postgresDir(o)
	if err != nil {
		t.Fatalf("postgresDir: %v", err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if port != 55432 {
		t.Errorf("port: got %d, want 55432", port)
	}
	u, err := serverUser()
	if err != nil {
		t.Fatal(err)
	}
	if !reachable(dir, u) {
		t.Errorf("%s: the server's user cannot reach it", dir)
	}
	if u != nil && filepath.Dir(dir) == filepath.Join(root, ".dev", "8080") {
		t.Errorf("%s: got the unreachable directory under the clone, want one in /tmp", dir)
	}
	again, _, err := s.postgresDir(o)
	if err != nil || again != dir {
		t.Errorf("second run: got %q (%v), want %q", again, err, dir)
	}
}
