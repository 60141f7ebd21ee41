package ratelimit

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dealctx/dealctx/internal/redisclient"
	"github.com/dealctx/dealctx/internal/testserver"
	"github.com/redis/go-redis/v9"
)

// sharedRedis returns a client for the test Redis and a key prefix no other
// test uses.
func sharedRedis(t *testing.T) (*redis.Client, string) {
	t.Helper()
	url := os.Getenv("TEST_REDIS_URL")
	if url == "" {
		url = "redis://127.0.0.1:6379/0"
	}
	rdb, err := redisclient.New(url, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	prefix := "dealctx-test-rl-" + strconv.FormatInt(time.Now().UnixNano(), 36) + ":"
	t.Cleanup(func() {
		keys, _ := rdb.Keys(context.Background(), prefix+"*").Result()
		if len(keys) > 0 {
			rdb.Del(context.Background(), keys...)
		}
	})
	return rdb, prefix
}

func opts(prefix string) Options {
	return Options{
		AccountLimit: 3, IPLimit: 5, Window: 90 * time.Second,
		MemberLookupLimit: 4, MemberLookupWindow: 120 * time.Second, KeyPrefix: prefix,
	}
}

func TestLimiter(t *testing.T) {
	t.Parallel()
	rdb, prefix := sharedRedis(t)
	kinds := map[string]func(t *testing.T) *Limiter{
		"redis":      func(t *testing.T) *Limiter { return New(rdb, opts(prefix+t.Name()+":"), nil) },
		"in-process": func(t *testing.T) *Limiter { return New(nil, opts(""), nil) },
	}
	for kind, newLimiter := range kinds {
		t.Run(kind, func(t *testing.T) {
			t.Run("failures throttle the account", func(t *testing.T) {
				t.Parallel()
				l, ctx := newLimiter(t), context.Background()
				for i := range 3 {
					if wait := l.Allow(ctx, "a@example.com", "10.0.0.1"); wait != 0 {
						t.Fatalf("attempt %d: got wait %d, want 0", i+1, wait)
					}
					l.Failed(ctx, "a@example.com", "10.0.0.1")
				}
				// 3 per 90 s: one attempt comes back every 30 s.
				if wait := l.Allow(ctx, "a@example.com", "10.0.0.2"); wait < 29 || wait > 30 {
					t.Fatalf("after 3 failures: got wait %d, want 30 (from any IP)", wait)
				}
				if wait := l.Allow(ctx, "b@example.com", "10.0.0.1"); wait != 0 {
					t.Fatalf("another account from the same IP: got wait %d, want 0", wait)
				}
			})
			t.Run("a success resets the account", func(t *testing.T) {
				t.Parallel()
				l, ctx := newLimiter(t), context.Background()
				l.Failed(ctx, "c@example.com", "10.0.1.1")
				l.Failed(ctx, "c@example.com", "10.0.1.1")
				l.Succeeded(ctx, "c@example.com")
				for i := range 3 {
					if wait := l.Allow(ctx, "c@example.com", "10.0.1.1"); wait != 0 {
						t.Fatalf("attempt %d after success: got wait %d, want 0", i+1, wait)
					}
					l.Failed(ctx, "c@example.com", "10.0.1.1")
				}
				if wait := l.Allow(ctx, "c@example.com", "10.0.1.1"); wait == 0 {
					t.Fatalf("3 failures after the reset: got wait 0, want > 0")
				}
			})
			t.Run("failures throttle the IP across accounts", func(t *testing.T) {
				t.Parallel()
				l, ctx := newLimiter(t), context.Background()
				for i := range 5 {
					email := "spray" + strconv.Itoa(i) + "@example.com"
					if wait := l.Allow(ctx, email, "10.0.2.1"); wait != 0 {
						t.Fatalf("attempt %d: got wait %d, want 0", i+1, wait)
					}
					l.Failed(ctx, email, "10.0.2.1")
				}
				l.Succeeded(ctx, "spray0@example.com")
				if wait := l.Allow(ctx, "fresh@example.com", "10.0.2.1"); wait == 0 {
					t.Fatalf("6th account from the IP: got wait 0, want > 0 (a success does not reset the IP)")
				}
				if wait := l.Allow(ctx, "fresh@example.com", "10.0.2.2"); wait != 0 {
					t.Fatalf("same account from another IP: got wait %d, want 0", wait)
				}
			})
			t.Run("unknown-email lookups throttle the user alone", func(t *testing.T) {
				t.Parallel()
				l, ctx := newLimiter(t), context.Background()
				for i := range 4 {
					if wait := l.AllowMemberLookup(ctx, 7); wait != 0 {
						t.Fatalf("lookup %d: got wait %d, want 0", i+1, wait)
					}
					l.MemberLookupMissed(ctx, 7)
				}
				// 4 per 120 s: one lookup comes back every 30 s.
				if wait := l.AllowMemberLookup(ctx, 7); wait < 29 || wait > 30 {
					t.Fatalf("after 4 unknown emails: got wait %d, want 30", wait)
				}
				if wait := l.AllowMemberLookup(ctx, 8); wait != 0 {
					t.Fatalf("another user: got wait %d, want 0", wait)
				}
				if wait := l.Allow(ctx, "lookup@example.com", "10.0.3.1"); wait != 0 {
					t.Fatalf("sign-in of the throttled user's kind: got wait %d, want 0 (separate counts)", wait)
				}
			})
		})
	}
}

func TestLimitsAreSharedAcrossInstances(t *testing.T) {
	t.Parallel()
	rdb, prefix := sharedRedis(t)
	a, b, ctx := New(rdb, opts(prefix), nil), New(rdb, opts(prefix), nil), context.Background()
	a.Failed(ctx, "shared@example.com", "10.1.0.1")
	b.Failed(ctx, "shared@example.com", "10.1.0.2")
	a.Failed(ctx, "shared@example.com", "10.1.0.3")
	if wait := b.Allow(ctx, "shared@example.com", "10.1.0.4"); wait == 0 {
		t.Fatalf("instance b after 3 failures spread over a and b: got wait 0, want > 0")
	}
	a.Succeeded(ctx, "shared@example.com")
	if wait := b.Allow(ctx, "shared@example.com", "10.1.0.4"); wait != 0 {
		t.Fatalf("instance b after a success on a: got wait %d, want 0", wait)
	}
}

func TestKeysStayUnderThePrefixAndHideEmails(t *testing.T) {
	t.Parallel()
	rdb, prefix := sharedRedis(t)
	l, ctx := New(rdb, opts(prefix), nil), context.Background()
	l.Failed(ctx, "secret.person@example.com", "10.2.0.1")
	keys, err := rdb.Keys(ctx, prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 {
		t.Fatalf("keys under the prefix: got %q, want an account key and an IP key", keys)
	}
	for _, k := range keys {
		if strings.Contains(k, "secret.person") {
			t.Errorf("key %q contains the email, want it hashed", k)
		}
	}
}

func TestRedisFailureFallsBackInProcess(t *testing.T) {
	t.Parallel()
	srv := testserver.StartRedis(t)
	rdb, err := redisclient.New(srv.URL(), false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	o := opts("dealctx-test:")
	o.Backoff = 50 * time.Millisecond
	l, ctx := New(rdb, o, nil), context.Background()

	// Two failures while Redis is up are also counted in process...
	l.Failed(ctx, "down@example.com", "10.3.0.1")
	l.Failed(ctx, "down@example.com", "10.3.0.1")
	srv.Kill()
	// ...so the third, while it is down, reaches the limit.
	start := time.Now()
	if wait := l.Allow(ctx, "down@example.com", "10.3.0.1"); wait != 0 {
		t.Fatalf("3rd attempt with Redis down: got wait %d, want 0", wait)
	}
	l.Failed(ctx, "down@example.com", "10.3.0.1")
	if wait := l.Allow(ctx, "down@example.com", "10.3.0.1"); wait == 0 {
		t.Fatalf("4th attempt with Redis down: got wait 0, want > 0")
	}
	l.Succeeded(ctx, "down@example.com")
	if wait := l.Allow(ctx, "down@example.com", "10.3.0.1"); wait != 0 {
		t.Fatalf("after a success with Redis down: got wait %d, want 0", wait)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("five calls with Redis down took %s, want well under 3s", d)
	}

	// Redis back: the limiter uses it again (a fresh Redis has no counts,
	// so a new account is throttled only by what Redis now records).
	srv.Start()
	time.Sleep(2 * o.Backoff)
	deadline := time.Now().Add(5 * time.Second)
	for rdb.Ping(ctx).Err() != nil && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(2 * o.Backoff)
	for range 3 {
		l.Failed(ctx, "back@example.com", "10.3.0.2")
	}
	n, err := rdb.Exists(ctx, "dealctx-test:rate:"+accountKey("back@example.com")).Result()
	if err != nil || n != 1 {
		t.Fatalf("account key in Redis after restart: got %d (%v), want 1", n, err)
	}
}

func TestLocalLimiterIsBounded(t *testing.T) {
	t.Parallel()
	l := newLocalLimiter(10)
	lim := limit(3, time.Minute)
	now := time.Now()
	for i := range 100 {
		l.consume("k"+strconv.Itoa(i), lim, now)
	}
	if got := len(l.tat); got > 10 {
		t.Fatalf("keys held: got %d, want at most 10", got)
	}
	// Drained keys make room again.
	l.consume("late", lim, now.Add(2*time.Minute))
	if _, ok := l.tat["late"]; !ok {
		t.Fatalf("a new key after the others drained: not recorded, want recorded")
	}
}
