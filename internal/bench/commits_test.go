package bench

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dealctx/dealctx/internal/auth"
	"github.com/dealctx/dealctx/internal/config"
	"github.com/dealctx/dealctx/internal/httpapi"
	"github.com/dealctx/dealctx/internal/logging"
	"github.com/dealctx/dealctx/internal/postgres/pgtest"
	"github.com/dealctx/dealctx/internal/redisclient"
	"github.com/dealctx/dealctx/internal/redisclient/redistest"
	"github.com/dealctx/dealctx/internal/redisepoch"
	"github.com/dealctx/dealctx/internal/session"
	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

// requestTxs counts the PostgreSQL transactions begun on behalf of requests
// marked with countedKey (an autocommit statement or a BEGIN), so that the
// tiered store's background loop, which runs on its own context, is not
// counted.
type requestTxs struct {
	n  atomic.Int64
	mu sync.Mutex
	// began are the first statements of the counted transactions, for a
	// failure to show.
	began []string
}

type countedKey struct{}

func (c *requestTxs) TraceQueryStart(ctx context.Context, conn *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	if ctx.Value(countedKey{}) != nil && conn.PgConn().TxStatus() == 'I' {
		c.n.Add(1)
		sql := strings.Join(strings.Fields(d.SQL), " ")
		c.mu.Lock()
		c.began = append(c.began, sql[:min(len(sql), 100)])
		c.mu.Unlock()
	}
	return ctx
}

// since returns the statements that began the transactions counted after
// the first n.
func (c *requestTxs) since(n int64) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.began[min(int(n), len(c.began)):])
}

func (c *requestTxs) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// A selection (POST /api/deals/{id}/select) commits the access decision,
// users.last_deal_id, its audit event and the session's record in one
// PostgreSQL transaction, in the server `api serve` builds; so do a restore
// and a remember-me sign-in that restores.
func TestWritesAreOneTransaction(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := pgtest.NewDatabase(t)
	redisURL := redistest.URL()
	vars := map[string]string{
		"DATABASE_URL": url, "REDIS_URL": redisURL, "SESSION_STORE": config.StoreTiered, "COOKIE_SECURE": "false",
		"REDIS_KEY_PREFIX": "dealctx-commits-test-" + strconv.FormatInt(time.Now().UnixNano(), 36) + ":",
	}
	cfg, err := config.Load(func(k string) string { return vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	counter := &requestTxs{}
	db := tracedDB(t, url, counter, 0)
	epoch := redisepoch.New(db, session.RedisTarget(cfg), logging.New(io.Discard, "json", 0))
	rdb, err := redisclient.OpenChecked(cfg, redisclient.RequestTimeouts, epoch.OnConnect)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	defer deleteKeys(rdb, cfg.RedisKeyPrefix)
	app, err := httpapi.Build(ctx, cfg, db, rdb, epoch, logging.New(io.Discard, "json", 0))
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	owners, err := CreateOwners(ctx, db, 2)
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := CreateSessions(ctx, app.Sessions, owners, true)
	if err != nil {
		t.Fatal(err)
	}
	// Until the tiered store trusts Redis (its first probe) and the Redis
	// epoch is known, reads fall back to PostgreSQL (a copy stamped before
	// the epoch was known is read again from the record): wait until each
	// session's GET /api/deals/current costs nothing, its copy stamped and
	// its access decision checked, as a steady state has them.
	for _, tok := range tokens {
		for deadline := time.Now().Add(10 * time.Second); ; {
			before := counter.n.Load()
			r := httptest.NewRequest(http.MethodGet, "/api/deals/current", nil)
			r.Header.Set("Cookie", "session="+tok)
			app.Handler.ServeHTTP(httptest.NewRecorder(), r.WithContext(context.WithValue(r.Context(), countedKey{}, true)))
			if counter.n.Load() == before {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("GET /api/deals/current never came to cost no PostgreSQL transaction")
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	const n = 10
	for i := range n {
		o := i % len(owners)
		// A selection is one transaction. When Redis stalls under a loaded
		// machine, the session layer adds its own, on the request's path: a
		// session read from the record, a write queued for Redis, or a new
		// Redis connection's identity check. Such a run is measured again.
		for attempt := 1; ; attempt++ {
			r := httptest.NewRequest(http.MethodPost, "/api/deals/"+strconv.FormatInt(owners[o].DealID, 10)+"/select", nil)
			r.Header.Set("Cookie", "session="+tokens[o])
			r = r.WithContext(context.WithValue(r.Context(), countedKey{}, true))
			before := counter.n.Load()
			w := httptest.NewRecorder()
			app.Handler.ServeHTTP(w, r)
			if w.Code != http.StatusOK {
				t.Fatalf("select %d: got status %d, want 200: %s", i, w.Code, w.Body)
			}
			got := counter.n.Load() - before
			if got == 1 {
				break
			}
			began := counter.since(before)
			if attempt == 3 || got < 1 || !sessionLayerAside(began) {
				t.Errorf("select %d: got %d PostgreSQL transactions, want 1: %q", i, got, began)
				break
			}
		}
	}
	// A signed-in session without a deal: auto-restore's statement and the
	// session's record, one transaction.
	dealless, err := CreateSessions(ctx, app.Sessions, owners[:1], false)
	if err != nil {
		t.Fatal(err)
	}
	if got := countedRequest(t, app.Handler, counter, "session="+dealless[0]); got != 1 {
		t.Errorf("restore: got %d PostgreSQL transactions, want 1", got)
	}
	// A remember-me sign-in that restores the deal: the token check and
	// rotation, the new session's record, the restore and its audit event.
	tok, err := auth.NewRememberToken()
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateRememberToken(ctx, owners[1].UserID, tok, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got := countedRequest(t, app.Handler, counter, httpapi.RememberCookieName+"="+tok.String()); got != 1 {
		t.Errorf("remember-me sign-in with restore: got %d PostgreSQL transactions, want 1", got)
	}

	// The selection reached the session as stored and the database.
	var last int64
	if err := db.Pool.QueryRow(ctx, `SELECT last_deal_id FROM users WHERE id = $1`, owners[0].UserID).Scan(&last); err != nil || last != owners[0].DealID {
		t.Errorf("users.last_deal_id: got %d (%v), want %d", last, err, owners[0].DealID)
	}
	r := httptest.NewRequest(http.MethodGet, "/api/deals/current", nil)
	r.Header.Set("Cookie", "session="+tokens[0])
	w := httptest.NewRecorder()
	app.Handler.ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		t.Errorf("current deal after the selection: got status %d, want 200: %s", w.Code, w.Body)
	}
}

// sessionLayerAside reports whether, of the transactions a request began,
// all but one are the session layer's answers to a stalled Redis (a
// session read from the record, a write queued for Redis, a new
// connection's identity check), which the request's own work does not
// count.
func sessionLayerAside(began []string) bool {
	aside := 0
	for _, sql := range began {
		if strings.Contains(sql, "FROM sessions WHERE token") || strings.Contains(sql, "session_invalidations") || strings.Contains(sql, "redis_identities") {
			aside++
		}
	}
	return aside == len(began)-1
}

// deleteKeys removes every key under prefix.
func deleteKeys(rdb redis.UniversalClient, prefix string) {
	ctx := context.Background()
	iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		if keys = append(keys, iter.Val()); len(keys) == 1000 {
			rdb.Unlink(ctx, keys...)
			keys = keys[:0]
		}
	}
	if len(keys) > 0 {
		rdb.Unlink(ctx, keys...)
	}
}

// countedRequest sends GET /api/deals/current with cookie, wants it answered
// 200 (the deal restored), and returns the transactions it began.
func countedRequest(t *testing.T, h http.Handler, counter *requestTxs, cookie string) int64 {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, "/api/deals/current", nil)
	r.Header.Set("Cookie", cookie)
	r = r.WithContext(context.WithValue(r.Context(), countedKey{}, true))
	before := counter.n.Load()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		t.Fatalf("GET /api/deals/current with %s: got status %d, want 200: %s", cookie[:strings.IndexByte(cookie, '=')], w.Code, w.Body)
	}
	return counter.n.Load() - before
}
