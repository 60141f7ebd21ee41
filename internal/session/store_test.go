package session

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/dealctx/dealctx/internal/config"
	"github.com/dealctx/dealctx/internal/postgres"
	"github.com/dealctx/dealctx/internal/postgres/pgtest"
	"github.com/dealctx/dealctx/internal/redisclient"
	"github.com/dealctx/dealctx/internal/redisclient/redistest"
	"github.com/dealctx/dealctx/internal/testserver"
	"github.com/redis/go-redis/v9"
)

const lifetime = time.Hour

// testRedisAddr is the shared test Redis's address (redistest.URL).
func testRedisAddr(t *testing.T) string {
	opts, err := redis.ParseURL(redistest.URL())
	if err != nil {
		t.Fatalf("test redis URL: %v", err)
	}
	return opts.Addr
}

func newRedis(t *testing.T, addr string) *redis.Client {
	t.Helper()
	rdb, err := redisclient.New("redis://"+addr+"/0", false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

func newToken(t *testing.T) string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// payload is an scs session payload holding userID, as scs would commit it.
func payload(t *testing.T, userID, dealID int64) ([]byte, time.Time) {
	t.Helper()
	expiry := time.Now().Add(lifetime).Truncate(time.Millisecond)
	b, err := scs.GobCodec{}.Encode(expiry, map[string]any{keyUserID: userID, keyDealID: dealID})
	if err != nil {
		t.Fatal(err)
	}
	return b, expiry
}

func dealOf(t *testing.T, b []byte) int64 {
	t.Helper()
	_, v, err := scs.GobCodec{}.Decode(b)
	if err != nil {
		t.Fatalf("decode session: %v", err)
	}
	id, _ := v[keyDealID].(int64)
	return id
}

func prefix(t *testing.T) string {
	return "dealctx-test-" + strconv.FormatInt(time.Now().UnixNano(), 36) + ":"
}

// fastOpts make the breaker and the loop quick enough for tests.
var fastOpts = TieredOptions{OpBudget: 100 * time.Millisecond, MaintainBudget: 300 * time.Millisecond,
	Tick: 50 * time.Millisecond, OpenFor: 200 * time.Millisecond, TripAfter: 3}

// tieredSetup is one api process's tiered store whose Redis link goes
// through a proxy the test can cut or black-hole.
type tieredSetup struct {
	store *TieredStore
	proxy *testserver.Proxy
	db    *postgres.DB
	// direct reaches the same Redis without the proxy.
	direct *redis.Client
	prefix string
	// cfg is the deployment's configuration, naming this Redis and prefix.
	cfg config.Config
}

func newTiered(t *testing.T, db *postgres.DB, prefix string) *tieredSetup {
	t.Helper()
	proxy := testserver.StartProxy(t, testRedisAddr(t))
	rdb := newRedis(t, proxy.Addr())
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	// The deployment's configuration names the Redis behind the proxy (the
	// proxy only simulates the network), so every process of it, and its
	// command line, queue invalidations for one target.
	cfg := config.Config{RedisURL: "redis://" + testRedisAddr(t) + "/0", RedisKeyPrefix: prefix,
		RedisTopology: config.TopologySingle, SessionLifetime: lifetime, SessionStore: config.StoreAuto}
	opts := fastOpts
	opts.Target = RedisTarget(cfg)
	ts := NewTieredStore(NewPostgresStore(db, lifetime), NewRedisStore(rdb, prefix, lifetime), logger, opts)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	ts.Start(ctx)
	t.Cleanup(ts.Close)
	if !ts.Trusted() {
		t.Fatalf("tiered store: got untrusted Redis after start, want trusted")
	}
	return &tieredSetup{store: ts, proxy: proxy, db: db, direct: newRedis(t, testRedisAddr(t)), prefix: prefix, cfg: cfg}
}

// redisValue reads the payload of token's key directly.
func (s *tieredSetup) redisValue(t *testing.T, token string) (string, bool) {
	t.Helper()
	v, err := s.direct.Get(context.Background(), s.prefix+"session:"+token).Result()
	if err == redis.Nil {
		return "", false
	}
	if err != nil {
		t.Fatalf("redis get: %v", err)
	}
	// A copy's payload, without its epoch stamp (redisvalue.go).
	_, payload, _ := unstamp([]byte(v))
	return string(payload), true
}

// waitFor polls cond until it holds or fails the test after limit.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// tripBreaker makes Redis requests fail until the breaker opens.
func tripBreaker(t *testing.T, s *tieredSetup) {
	t.Helper()
	waitFor(t, 3*time.Second, "breaker open", func() bool {
		// Each find fails on Redis (and may fall back): only the breaker's
		// state is the test's business here.
		_, _, _ = s.store.FindCtx(context.Background(), newToken(t))
		return s.store.BreakerState() == "open"
	})
}

func TestRedisStoreTombstone(t *testing.T) {
	t.Parallel()
	rdb := newRedis(t, testRedisAddr(t))
	rs := NewRedisStore(rdb, prefix(t), lifetime)
	ctx := context.Background()
	token := newToken(t)
	b, expiry := payload(t, 7, 1)

	if err := rs.CommitCtx(ctx, token, b, expiry); err != nil {
		t.Fatalf("commit: %v", err)
	}
	got, found, err := rs.FindCtx(ctx, token)
	if err != nil || !found || !bytes.Equal(got, b) {
		t.Fatalf("find after commit: got found=%v err=%v, want the committed session", found, err)
	}
	ttl := rdb.PTTL(ctx, rs.Key(token)).Val()
	if ttl <= lifetime-time.Minute || ttl > lifetime {
		t.Errorf("key TTL: got %s, want about %s (the session's expiry)", ttl, lifetime)
	}
	if err := rs.DeleteCtx(ctx, token); err != nil {
		t.Fatalf("delete: %v", err)
	}
	// A request of the same session that commits after the logout.
	if err := rs.CommitCtx(ctx, token, b, expiry); err != nil {
		t.Fatalf("late commit: %v", err)
	}
	if _, found, _ := rs.FindCtx(ctx, token); found {
		t.Errorf("find after delete and a late commit: got found, want the session to stay destroyed")
	}
}

func TestTieredReadThroughAndRefill(t *testing.T) {
	t.Parallel()
	s := newTiered(t, pgtest.NewDB(t), prefix(t))
	ctx := context.Background()
	token := newToken(t)
	b, expiry := payload(t, 7, 11)
	if err := s.store.CommitCtx(ctx, token, b, expiry); err != nil {
		t.Fatalf("commit: %v", err)
	}
	if v, ok := s.redisValue(t, token); !ok || v != string(b) {
		t.Fatalf("redis after commit: got present=%v, want the session", ok)
	}
	if data, found, err := s.db.FindSession(ctx, token); err != nil || !found || !bytes.Equal(data, b) {
		t.Fatalf("postgres after commit: got found=%v err=%v, want the session", found, err)
	}
	// Redis loses the key (eviction, a restart): the read falls back and refills.
	s.direct.Del(ctx, s.prefix+"session:"+token)
	got, found, err := s.store.FindCtx(ctx, token)
	if err != nil || !found || dealOf(t, got) != 11 {
		t.Fatalf("find after Redis lost the key: got found=%v err=%v, want deal 11", found, err)
	}
	if _, ok := s.redisValue(t, token); !ok {
		t.Errorf("redis after fallback read: got no key, want it refilled")
	}
}

func TestTieredLogoutDuringOutageHolds(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	p := prefix(t)
	a := newTiered(t, db, p)
	b := newTiered(t, db, p) // a second api process sharing Redis and PostgreSQL
	ctx := context.Background()
	token := newToken(t)
	data, expiry := payload(t, 7, 11)
	if err := a.store.CommitCtx(ctx, token, data, expiry); err != nil {
		t.Fatalf("commit: %v", err)
	}

	// Both processes lose Redis; it keeps its data.
	a.proxy.Cut()
	b.proxy.Cut()
	tripBreaker(t, a)
	tripBreaker(t, b)
	if err := a.store.DeleteCtx(ctx, token); err != nil {
		t.Fatalf("logout during the outage: got %v, want success from PostgreSQL", err)
	}
	if _, found, err := b.store.FindCtx(ctx, token); err != nil || found {
		t.Fatalf("find on the other process during the outage: got found=%v err=%v, want not found", found, err)
	}
	if v, _ := a.redisValue(t, token); v != string(data) {
		t.Fatalf("redis during the outage: want it still holding the live session, so the replay matters")
	}

	b.proxy.Restore()
	waitFor(t, 3*time.Second, "process b trusts Redis again", b.store.Trusted)
	if _, found, err := b.store.FindCtx(ctx, token); err != nil || found {
		t.Errorf("find on b after Redis returned: got found=%v err=%v, want the logout to hold", found, err)
	}
	if v, _ := b.redisValue(t, token); v != tombstone {
		t.Errorf("redis key after recovery: got %q, want the tombstone", v)
	}
	// A request of the session in flight during the logout commits late.
	if err := a.store.CommitCtx(ctx, token, data, expiry); err != nil {
		t.Fatalf("late commit: %v", err)
	}
	a.proxy.Restore()
	waitFor(t, 3*time.Second, "process a trusts Redis again", a.store.Trusted)
	for name, s := range map[string]*tieredSetup{"a": a, "b": b} {
		if _, found, err := s.store.FindCtx(ctx, token); err != nil || found {
			t.Errorf("find on %s after recovery: got found=%v err=%v, want the logout to hold", name, found, err)
		}
	}
	var pending int
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM session_invalidations`).Scan(&pending); err != nil {
		t.Fatalf("count queued invalidations: %v", err)
	}
	if pending != 0 {
		t.Errorf("queued invalidations after recovery: got %d, want 0", pending)
	}
}

func TestTieredWriteDuringOutageNotLostAfter(t *testing.T) {
	t.Parallel()
	s := newTiered(t, pgtest.NewDB(t), prefix(t))
	ctx := context.Background()
	token := newToken(t)
	old, expiry := payload(t, 7, 11)
	if err := s.store.CommitCtx(ctx, token, old, expiry); err != nil {
		t.Fatalf("commit: %v", err)
	}
	s.proxy.Cut()
	tripBreaker(t, s)
	updated, _ := payload(t, 7, 22)
	if err := s.store.CommitCtx(ctx, token, updated, expiry); err != nil {
		t.Fatalf("commit during the outage: got %v, want success from PostgreSQL", err)
	}
	if got, found, err := s.store.FindCtx(ctx, token); err != nil || !found || dealOf(t, got) != 22 {
		t.Fatalf("find during the outage: got found=%v err=%v, want deal 22", found, err)
	}
	s.proxy.Restore()
	waitFor(t, 3*time.Second, "Redis trusted again", s.store.Trusted)
	if got, found, err := s.store.FindCtx(ctx, token); err != nil || !found || dealOf(t, got) != 22 {
		t.Errorf("find after recovery: got found=%v err=%v deal=%d, want deal 22, not Redis's stale copy", found, err, dealOf(t, got))
	}
}

func TestTieredBlackHoleOpensBreaker(t *testing.T) {
	t.Parallel()
	s := newTiered(t, pgtest.NewDB(t), prefix(t))
	ctx := context.Background()
	token := newToken(t)
	data, expiry := payload(t, 7, 11)
	if err := s.store.CommitCtx(ctx, token, data, expiry); err != nil {
		t.Fatalf("commit: %v", err)
	}
	s.proxy.BlackHole()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var worst time.Duration
	for range 8 {
		wg.Go(func() {
			for range 20 {
				start := time.Now()
				_, found, err := s.store.FindCtx(ctx, token)
				d := time.Since(start)
				if err != nil || !found {
					t.Errorf("find with Redis black-holed: got found=%v err=%v, want the session from PostgreSQL", found, err)
					return
				}
				mu.Lock()
				worst = max(worst, d)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if st := s.store.BreakerState(); st == "closed" {
		t.Errorf("breaker with Redis black-holed: got %q, want open or half-open", st)
	}
	// One Redis budget (100ms) plus PostgreSQL, with a generous margin.
	if worst > time.Second {
		t.Errorf("slowest read with Redis black-holed: got %s, want under 1s", worst)
	}
	s.proxy.Heal()
	waitFor(t, 3*time.Second, "breaker closes after the black hole heals", func() bool { return s.store.BreakerState() == "closed" })
}

func TestTieredCommandLineRevocationReachesRedis(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	s := newTiered(t, db, prefix(t))
	ctx := context.Background()
	u, err := db.CreateUser(ctx, "revoked@example.com", "r", "x", false)
	if err != nil {
		t.Fatal(err)
	}
	token := newToken(t)
	data, expiry := payload(t, u.ID, 0)
	if err := s.store.CommitCtx(ctx, token, data, expiry); err != nil {
		t.Fatalf("commit: %v", err)
	}
	// `api user set-password` runs where Redis is unreachable and ends
	// every session: PostgreSQL tombstones them, and the Redis copies'
	// revocations are queued for the servers to replay.
	if _, err := db.SetPassword(ctx, "revoked@example.com", "y"); err != nil {
		t.Fatalf("set password: %v", err)
	}
	cli, err := OpenRevoker(s.cfg, db, newRedis(t, "127.0.0.1:"+strconv.Itoa(testserver.FreePort(t))),
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	if err := cli.RevokeUser(ctx, u.ID); err != nil {
		t.Fatalf("revoke user with Redis unreachable: %v", err)
	}
	waitFor(t, 2*time.Second, "revocation replayed into Redis", func() bool {
		v, _ := s.redisValue(t, token)
		return v == tombstone
	})
	if _, found, err := s.store.FindCtx(ctx, token); err != nil || found {
		t.Errorf("find after set-password: got found=%v err=%v, want the session ended", found, err)
	}
}

func TestOpenAutoChoosesByRedisHealth(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	closed := newRedis(t, "127.0.0.1:"+strconv.Itoa(testserver.FreePort(t)))
	healthy := newRedis(t, testRedisAddr(t))
	cases := []struct {
		name     string
		store    string
		rdb      *redis.Client
		wantMode string
		wantLog  string
	}{
		{"auto healthy", "auto", healthy, "tiered", "session store: tiered (redis healthy)"},
		{"auto unreachable", "auto", closed, "postgres", "session store: postgres (redis unavailable: connection refused)"},
		{"auto unconfigured", "auto", nil, "postgres", "session store: postgres (redis not configured)"},
		{"redis", "redis", healthy, "redis", "session store: redis (SESSION_STORE=redis)"},
		{"postgres", "postgres", healthy, "postgres", "session store: postgres (SESSION_STORE=postgres)"},
		{"tiered while down", "tiered", closed, "tiered", "session store: tiered (SESSION_STORE=tiered)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			cfg := testConfig(tc.store)
			start := time.Now()
			m, err := Open(context.Background(), cfg, db, tc.rdb, nil, slog.New(slog.NewTextHandler(&logs, nil)))
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			defer m.Close()
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("open took %s, want under 3s", d)
			}
			if string(m.Mode) != tc.wantMode {
				t.Errorf("mode: got %q, want %q", m.Mode, tc.wantMode)
			}
			if n := strings.Count(logs.String(), "session store:"); n != 1 || !strings.Contains(logs.String(), tc.wantLog) {
				t.Errorf("log: got %q, want one line with %q", logs.String(), tc.wantLog)
			}
		})
	}
	if _, err := Open(context.Background(), testConfig("tiered"), db, nil, nil, slog.New(slog.NewTextHandler(io.Discard, nil))); err == nil {
		t.Errorf("open tiered without Redis: got no error, want one naming REDIS_URL")
	}
}
