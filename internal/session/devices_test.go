package session

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/dealctx/dealctx/internal/deal"
	"github.com/dealctx/dealctx/internal/postgres"
	"github.com/dealctx/dealctx/internal/postgres/pgtest"
)

// clock is a test clock the Manager reads through Options.Now.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// deviceSetup is a Manager over one store mode, with its database and clock.
type deviceSetup struct {
	m     *Manager
	db    *postgres.DB
	clock *clock
}

func newDeviceSetup(t *testing.T, mode StoreMode, idle time.Duration) *deviceSetup {
	t.Helper()
	db := pgtest.NewDB(t)
	c := &clock{now: time.Now()}
	opts := Options{Lifetime: lifetime, DB: db, Now: c.Now, IdleTimeout: idle,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	var m *Manager
	switch mode {
	case ModePostgres:
		m = NewManager(NewPostgresStore(db, lifetime), mode, opts)
	case ModeRedis:
		m = NewManager(NewRedisStore(newRedis(t, testRedisAddr(t)), prefix(t), lifetime), mode, opts)
	case ModeTiered:
		m = NewManager(newTiered(t, db, prefix(t)).store, mode, opts)
	}
	return &deviceSetup{m: m, db: db, clock: c}
}

// signIn stores a new session of userID as a request signing in would.
func (s *deviceSetup) signIn(t *testing.T, userID int64, o Origin) string {
	t.Helper()
	ctx, err := s.m.load(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.m.SignInFrom(ctx, userID, o); err != nil {
		t.Fatal(err)
	}
	tok, _, err := s.m.sm.Commit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// request loads token's session as a request would.
func (s *deviceSetup) request(t *testing.T, token string) context.Context {
	t.Helper()
	ctx, err := s.m.load(context.Background(), token)
	if err != nil {
		t.Fatal(err)
	}
	return ctx
}

func (s *deviceSetup) userOf(t *testing.T, token string) int64 {
	t.Helper()
	return s.m.UserID(s.request(t, token))
}

var modes = []StoreMode{ModePostgres, ModeRedis, ModeTiered}

func TestRevocationsInEveryMode(t *testing.T) {
	t.Parallel()
	for _, mode := range modes {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			s := newDeviceSetup(t, mode, 0)
			ctx := context.Background()
			a := s.signIn(t, 7, Origin{IP: "192.0.2.1"})
			s.clock.Add(time.Second)
			b := s.signIn(t, 7, Origin{IP: "192.0.2.2", RememberSelector: "sel-b"})
			s.clock.Add(time.Second)
			c := s.signIn(t, 7, Origin{IP: "192.0.2.3"})
			other := s.signIn(t, 8, Origin{})

			cur := s.request(t, c)
			list, err := s.m.List(cur, 7)
			if err != nil {
				t.Fatal(err)
			}
			if len(list) != 3 {
				t.Fatalf("list: got %d sessions, want 3", len(list))
			}
			if list[0].IP != "192.0.2.3" || !list[0].Current || list[1].IP != "192.0.2.2" || !list[1].Remembered || list[2].IP != "192.0.2.1" {
				t.Errorf("list: got %+v, want newest first, the current one first and marked, the remembered one marked", list)
			}
			for _, d := range list {
				if d.Handle == a || d.Handle == b || d.Handle == c || len(d.Handle) != 22 {
					t.Errorf("handle %q: want 22 characters that are not the token", d.Handle)
				}
			}
			if got := s.m.Current(cur); got != list[0].Handle {
				t.Errorf("Current: got %q, want %q", got, list[0].Handle)
			}

			// Another user's handle is not found; nothing ends.
			if found, err := s.m.RevokeByHandle(s.request(t, other), 8, list[1].Handle); err != nil || found {
				t.Errorf("revoke another user's handle: got found=%v err=%v, want not found", found, err)
			}
			found, err := s.m.RevokeByHandle(cur, 7, list[1].Handle)
			if err != nil || !found {
				t.Fatalf("revoke by handle: got found=%v err=%v, want found", found, err)
			}
			if got := s.userOf(t, b); got != 0 {
				t.Errorf("revoked session: got user %d, want signed out", got)
			}
			if got := s.userOf(t, a); got != 7 {
				t.Errorf("untouched session: got user %d, want 7", got)
			}

			n, err := s.m.RevokeOthers(cur, 7)
			if err != nil || n != 1 {
				t.Fatalf("revoke others: got %d, %v, want 1 ended", n, err)
			}
			if s.userOf(t, a) != 0 || s.userOf(t, c) != 7 || s.userOf(t, other) != 8 {
				t.Errorf("after revoke others: got a=%d c=%d other=%d, want 0, 7 (current), 8", s.userOf(t, a), s.userOf(t, c), s.userOf(t, other))
			}

			if err := s.m.RevokeUser(ctx, 7); err != nil {
				t.Fatal(err)
			}
			if s.userOf(t, c) != 0 || s.userOf(t, other) != 8 {
				t.Errorf("after revoke user: got c=%d other=%d, want 0 and 8", s.userOf(t, c), s.userOf(t, other))
			}
			// A late commit of a revoked session never revives it.
			late := s.request(t, c)
			s.m.SetDeal(late, 1)
			if err := s.m.sm.Store.(store).CommitCtx(ctx, c, mustEncode(t, 7), time.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			if got := s.userOf(t, c); got != 0 {
				t.Errorf("late commit after revocation: got user %d, want still signed out", got)
			}
			if list, _ := s.m.List(ctx, 7); len(list) != 0 {
				t.Errorf("list after revoke user: got %d sessions, want none", len(list))
			}
		})
	}
}

func mustEncode(t *testing.T, userID int64) []byte {
	t.Helper()
	b, _ := payload(t, userID, 0)
	return b
}

func TestEndTheftEndsRememberedSessionsOnly(t *testing.T) {
	t.Parallel()
	for _, mode := range modes {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			s := newDeviceSetup(t, mode, 0)
			typed := s.signIn(t, 7, Origin{})
			r1 := s.signIn(t, 7, Origin{RememberSelector: "sel-1"})
			r2 := s.signIn(t, 7, Origin{RememberSelector: "sel-2"})
			if err := s.m.EndTheft(context.Background(), deal.Actor{IP: "192.0.2.9"}, 7); err != nil {
				t.Fatal(err)
			}
			if s.userOf(t, r1) != 0 || s.userOf(t, r2) != 0 || s.userOf(t, typed) != 7 {
				t.Errorf("after theft: got r1=%d r2=%d typed=%d, want 0, 0, 7", s.userOf(t, r1), s.userOf(t, r2), s.userOf(t, typed))
			}
			var n int
			if err := s.db.Pool.QueryRow(context.Background(),
				`SELECT count(*) FROM audit_outbox WHERE action = 'auth.token_theft' AND target_user_id = 7`).Scan(&n); err != nil || n != 1 {
				t.Errorf("audit: got %d auth.token_theft events (%v), want 1", n, err)
			}
		})
	}
}

// A session unused longer than the idle timeout ends at its next request;
// one in use stays, and reading it writes its last-seen time at most once
// per TouchEvery.
func TestIdleTimeout(t *testing.T) {
	t.Parallel()
	for _, mode := range modes {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			s := newDeviceSetup(t, mode, 10*time.Minute)
			used := s.signIn(t, 7, Origin{})
			idle := s.signIn(t, 7, Origin{})
			visit := func(token string) int64 {
				ctx := s.request(t, token)
				if err := s.m.endIfIdle(ctx); err != nil {
					t.Fatal(err)
				}
				id := s.m.UserID(ctx)
				if s.m.touch(ctx) {
					s.m.touchStored(ctx)
				}
				return id
			}
			for range 3 {
				s.clock.Add(6 * time.Minute)
				if got := visit(used); got != 7 {
					t.Fatalf("session in use: got user %d, want 7", got)
				}
			}
			if got := visit(idle); got != 0 {
				t.Errorf("session idle 18 minutes: got user %d, want signed out", got)
			}
			if got := s.userOf(t, idle); got != 0 {
				t.Errorf("idle session after its end: got user %d, want still signed out", got)
			}
			if list, _ := s.m.List(context.Background(), 7); len(list) != 1 {
				t.Errorf("list: got %d sessions, want the one in use", len(list))
			}
			// Within TouchEvery a read writes nothing.
			if s.m.touch(s.request(t, used)) {
				t.Errorf("read within a minute of the last touch: got a touch, want none")
			}
			// A touch keeps what another request committed since this one loaded.
			s.clock.Add(2 * time.Minute)
			ctx := s.request(t, used)
			other := s.request(t, used)
			s.m.SetDeal(other, 42)
			if _, _, err := s.m.sm.Commit(other); err != nil {
				t.Fatal(err)
			}
			if !s.m.touch(ctx) {
				t.Fatalf("read two minutes after the last touch: got no touch, want one")
			}
			s.m.touchStored(ctx)
			if got := s.m.DealID(s.request(t, used)); got != 42 {
				t.Errorf("deal after a touch raced a selection: got %d, want 42", got)
			}
		})
	}
}

// Ending a session while Redis is down holds once Redis is back: the
// revocation is queued for this Redis and replayed before Redis is trusted
// again, so the stale copy Redis held never signs the device back in.
func TestRevokeByHandleSurvivesRedisOutage(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	ts := newTiered(t, db, prefix(t))
	m := NewManager(ts.store, ModeTiered, Options{Lifetime: lifetime, DB: db,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	s := &deviceSetup{m: m, db: db, clock: &clock{now: time.Now()}}
	keep := s.signIn(t, 7, Origin{})
	gone := s.signIn(t, 7, Origin{RememberSelector: "sel-gone"})
	if v, ok := ts.redisValue(t, gone); !ok || v == tombstone {
		t.Fatalf("Redis before the outage: got %q, want the session cached", v)
	}
	list, err := m.List(s.request(t, keep), 7)
	if err != nil || len(list) != 2 {
		t.Fatalf("list: got %d (%v), want 2", len(list), err)
	}
	target := list[0].Handle
	if list[0].Current {
		target = list[1].Handle
	}

	ts.proxy.Cut()
	tripBreaker(t, ts)
	if found, err := m.RevokeByHandle(s.request(t, keep), 7, target); err != nil || !found {
		t.Fatalf("revoke during the outage: got found=%v err=%v, want found", found, err)
	}
	if got := s.userOf(t, gone); got != 0 {
		t.Errorf("ended session during the outage: got user %d, want signed out", got)
	}
	ts.proxy.Restore()
	waitFor(t, 5*time.Second, "Redis trusted again", ts.store.Trusted)
	if v, _ := ts.redisValue(t, gone); v != tombstone {
		t.Errorf("Redis after the outage: got %q, want a tombstone", v)
	}
	if s.userOf(t, gone) != 0 || s.userOf(t, keep) != 7 {
		t.Errorf("after the outage: got ended=%d kept=%d, want 0 and 7", s.userOf(t, gone), s.userOf(t, keep))
	}
}

// A session read without change writes its last-seen time every five
// minutes, more often only when the idle timeout needs it.
func TestDefaultTouchEvery(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ idle, want time.Duration }{
		{0, 5 * time.Minute},
		{8 * time.Hour, 5 * time.Minute},
		{80 * time.Minute, 5 * time.Minute},
		{10 * time.Minute, 10 * time.Minute / 16},
		{2 * time.Second, 125 * time.Millisecond},
	} {
		if got := DefaultTouchEvery(c.idle); got != c.want {
			t.Errorf("idle %s: got %s, want %s", c.idle, got, c.want)
		}
	}
}
