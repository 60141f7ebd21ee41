//go:build bench

package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/dealctx/dealctx/internal/config"
	"github.com/dealctx/dealctx/internal/postgres/pgtest"
	"github.com/dealctx/dealctx/internal/session"
)

// BenchmarkAutoRestoreMiddleware measures the auto-restore middleware alone
// on the hot path, a signed-in session that holds a deal, with the flag on
// and off. internal/bench runs it for BENCHMARKS.md: on must allocate no
// more than off. The session is loaded once, before the timer, from the
// PostgreSQL store; the middleware itself does no I/O here.
func BenchmarkAutoRestoreMiddleware(b *testing.B) {
	m := session.NewManager(session.NewPostgresStore(pgtest.NewDB(b), time.Hour), config.StorePostgres, session.Options{Lifetime: time.Hour})
	// A request's context with the session signed in and holding a deal,
	// as LoadAndSave leaves it.
	var ctx context.Context
	m.LoadAndSave(func(_ http.ResponseWriter, _ *http.Request, err error) { b.Fatal(err) })(
		http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
			ctx = r.Context()
			if err := m.SignIn(ctx, 1); err != nil {
				b.Fatal(err)
			}
			m.SetDeal(ctx, 2)
		})).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	reached := 0
	next := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached++ })
	for _, on := range []bool{true, false} {
		s := &Server{Deps: Deps{Sessions: m, Config: config.Config{AutoRestoreDeal: on}}}
		h := s.AutoRestore(next)
		r := httptest.NewRequest(http.MethodGet, "/api/deals/current", nil).WithContext(ctx)
		w := httptest.NewRecorder()
		b.Run("auto-restore="+strconv.FormatBool(on), func(b *testing.B) {
			b.ReportAllocs()
			reached = 0
			for range b.N {
				h.ServeHTTP(w, r)
			}
			if reached != b.N {
				b.Fatalf("next handler reached %d times, want %d", reached, b.N)
			}
		})
	}
}
