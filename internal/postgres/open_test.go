package postgres

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strings"
	"testing"

	"github.com/dealctx/dealctx/internal/postgres/pgtemplate"
	"github.com/dealctx/dealctx/internal/testserver"
)

// withPassword puts password into rawURL (a trust-auth server ignores it),
// so every case can check that the error never shows it.
func withPassword(t *testing.T, rawURL, password string, query string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	u.User = url.UserPassword(u.User.Username(), password)
	q := u.Query()
	for _, kv := range strings.Split(query, "&") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			q.Set(k, v)
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}

func TestOpenSaysWhereAndWhy(t *testing.T) {
	t.Parallel()
	const password = "pw-never-shown-7d1c"
	admin := pgtemplate.AdminURL()
	host := func(port int) string { return fmt.Sprintf("127.0.0.1:%d", port) }

	// A port nothing listens on.
	closed := testserver.FreePort(t)
	// A port that accepts and never answers.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	t.Cleanup(func() { silent.Close() })
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	silentPort := silent.Addr().(*net.TCPAddr).Port
	bouncer := startPgBouncer(t, 2)
	adminURL, _ := url.Parse(admin)

	cases := map[string]struct {
		url  string
		want []string // substrings of the error
	}{
		"closed port": {
			url:  fmt.Sprintf("postgres://postgres:%s@%s/postgres?sslmode=disable", password, host(closed)),
			want: []string{host(closed), "connection refused"},
		},
		"no such database": {
			url:  pgtemplate.WithDatabase(withPassword(t, admin, password, ""), "dealctx_no_such_db"),
			want: []string{adminURL.Host, `"dealctx_no_such_db"`, "no such database"},
		},
		"timed out": {
			url:  fmt.Sprintf("postgres://postgres:%s@%s/postgres?sslmode=disable&connect_timeout=1", password, host(silentPort)),
			want: []string{host(silentPort), "timed out"},
		},
		"TLS not trusted": {
			// The test server's certificate (when it has TLS at all) is
			// not signed by a root this machine trusts.
			url:  withPassword(t, admin, password, "sslmode=verify-full"),
			want: []string{adminURL.Host, "TLS failed"},
		},
		"wrong password": {
			url:  bouncer.urlAs(bouncerUser, password, "postgres", "simple_protocol"),
			want: []string{host(bouncer.port), `user "app"`, "authentication failed"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			db, err := Open(context.Background(), tc.url)
			if err == nil {
				db.Close()
				t.Fatalf("open: got nil error, want one saying %q", tc.want)
			}
			msg := err.Error()
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error: got %q, want it to contain %q", msg, w)
				}
			}
			if strings.Contains(msg, password) {
				t.Errorf("error: got %q, which shows the password", msg)
			}
		})
	}
}

func TestOpenHonoursPoolMaxConns(t *testing.T) {
	t.Parallel()
	base := NewTestDatabase(t)
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	for name, tc := range map[string]struct {
		url  string
		want int32
	}{
		"default":        {base, 10},
		"pool_max_conns": {base + sep + "pool_max_conns=3", 3},
	} {
		db, err := Open(context.Background(), tc.url)
		if err != nil {
			t.Fatalf("%s: open: %v", name, err)
		}
		got := db.Pool.Stat().MaxConns()
		if name == "default" && got >= tc.want {
			got = tc.want // at least 10: more on a machine with many cores
		}
		if got != tc.want {
			t.Errorf("%s: max conns: got %d, want %d", name, db.Pool.Stat().MaxConns(), tc.want)
		}
		db.Close()
	}
}
