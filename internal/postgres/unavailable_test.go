package postgres

import (
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/dealctx/dealctx/internal/deal"
	"github.com/jackc/pgx/v5/pgconn"
)

// Found by the PostgreSQL restart drill: a connection that breaks mid-query
// gave 500 instead of 503.
func TestBrokenConnectionsAreUnavailable(t *testing.T) {
	t.Parallel()
	cases := map[string]error{
		"unexpected EOF":   fmt.Errorf("read: %w", io.ErrUnexpectedEOF),
		"EOF":              io.EOF,
		"reset by peer":    &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET},
		"refused":          &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED},
		"conn closed":      fmt.Errorf("query: %w", pgconn.ErrConnClosed),
		"shutdown (57P01)": &pgconn.PgError{Code: "57P01"},
	}
	for name, err := range cases {
		if got := deal.ErrorCode(unavailable(err)); got != deal.EUNAVAILABLE {
			t.Errorf("%s: got code %q, want %q", name, got, deal.EUNAVAILABLE)
		}
	}
	for name, err := range map[string]error{
		"unique violation": &pgconn.PgError{Code: "23505"},
		"plain error":      errors.New("something else"),
	} {
		if got := deal.ErrorCode(unavailable(err)); got == deal.EUNAVAILABLE {
			t.Errorf("%s: got code %q, want anything but unavailable", name, got)
		}
	}
}
