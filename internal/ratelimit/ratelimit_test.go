package ratelimit

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dealctx/dealctx/internal/redisclient"
	"github.com/dealctx/dealctx/internal/redisclient/redistest"
	"github.com/dealctx/dealctx/internal/testserver"
	"github.com/redis/go-redis/v9"
)

// sharedRedis returns a client for the test Redis and a key prefix no other
// test uses.
func sharedRedis(t *testing.T) (*redis.Client, string) {
	t.Helper()
	rdb := redistest.New(t)
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
					if wait := l.Reserve(ctx, "a@example.com", "10.0.0.1"); wait != 0 {
						t.Fatalf("attempt %d: got wait %d, want 0", i+1, wait)
					}
				}
				// 3 per 90 s: one attempt comes back every 30 s.
				if wait := l.Reserve(ctx, "a@example.com", "10.0.0.2"); wait < 29 || wait > 30 {
					t.Fatalf("after 3 failures: got wait %d, want 30 (from any IP)", wait)
				}
				if wait := l.Reserve(ctx, "b@example.com", "10.0.0.1"); wait != 0 {
					t.Fatalf("another account from the same IP: got wait %d, want 0", wait)
				}
			})
			t.Run("a success resets the account", func(t *testing.T) {
				t.Parallel()
				l, ctx := newLimiter(t), context.Background()
				_ = l.Reserve(ctx, "c@example.com", "10.0.1.1")
				_ = l.Reserve(ctx, "c@example.com", "10.0.1.1")
				l.Succeeded(ctx, "c@example.com", "10.0.1.1")
				for i := range 3 {
					if wait := l.Reserve(ctx, "c@example.com", "10.0.1.1"); wait != 0 {
						t.Fatalf("attempt %d after success: got wait %d, want 0", i+1, wait)
					}
				}
				if wait := l.Reserve(ctx, "c@example.com", "10.0.1.1"); wait == 0 {
					t.Fatalf("3 failures after the reset: got wait 0, want > 0")
				}
			})
			t.Run("failures throttle the IP across accounts", func(t *testing.T) {
				t.Parallel()
				l, ctx := newLimiter(t), context.Background()
				for i := range 4 {
					email := "spray" + strconv.Itoa(i) + "@example.com"
					if wait := l.Reserve(ctx, email, "10.0.2.1"); wait != 0 {
						t.Fatalf("attempt %d: got wait %d, want 0", i+1, wait)
					}
				}
				// A success neither counts nor clears the IP's failures.
				if wait := l.Reserve(ctx, "right@example.com", "10.0.2.1"); wait != 0 {
					t.Fatalf("5th attempt: got wait %d, want 0", wait)
				}
				l.Succeeded(ctx, "right@example.com", "10.0.2.1")
				if wait := l.Reserve(ctx, "spray4@example.com", "10.0.2.1"); wait != 0 {
					t.Fatalf("attempt after the success: got wait %d, want 0 (a success is not a failure)", wait)
				}
				if wait := l.Reserve(ctx, "fresh@example.com", "10.0.2.1"); wait == 0 {
					t.Fatalf("6th account from the IP: got wait 0, want > 0 (a success does not reset the IP)")
				}
				if wait := l.Reserve(ctx, "fresh@example.com", "10.0.2.2"); wait != 0 {
					t.Fatalf("same account from another IP: got wait %d, want 0", wait)
				}
			})
			t.Run("unknown-email lookups throttle the user alone", func(t *testing.T) {
				t.Parallel()
				l, ctx := newLimiter(t), context.Background()
				for i := range 4 {
					if wait := l.ReserveMemberLookup(ctx, 7); wait != 0 {
						t.Fatalf("lookup %d: got wait %d, want 0", i+1, wait)
					}
				}
				// 4 per 120 s: one lookup comes back every 30 s.
				if wait := l.ReserveMemberLookup(ctx, 7); wait < 29 || wait > 30 {
					t.Fatalf("after 4 unknown emails: got wait %d, want 30", wait)
				}
				if wait := l.ReserveMemberLookup(ctx, 8); wait != 0 {
					t.Fatalf("another user: got wait %d, want 0", wait)
				}
				if wait := l.Reserve(ctx, "lookup@example.com", "10.0.3.1"); wait != 0 {
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
	_ = a.Reserve(ctx, "shared@example.com", "10.1.0.1")
	_ = b.Reserve(ctx, "shared@example.com", "10.1.0.2")
	_ = a.Reserve(ctx, "shared@example.com", "10.1.0.3")
	if wait := b.Reserve(ctx, "shared@example.com", "10.1.0.4"); wait == 0 {
		t.Fatalf("instance b after 3 failures spread over a and b: got wait 0, want > 0")
	}
	a.Succeeded(ctx, "shared@example.com", "10.1.0.4")
	if wait := b.Reserve(ctx, "shared@example.com", "10.1.0.4"); wait != 0 {
		t.Fatalf("instance b after a success on a: got wait %d, want 0", wait)
	}
}

func TestKeysStayUnderThePrefixAndHideEmails(t *testing.T) {
	t.Parallel()
	rdb, prefix := sharedRedis(t)
	l, ctx := New(rdb, opts(prefix), nil), context.Background()
	_ = l.Reserve(ctx, "secret.person@example.com", "10.2.0.1")
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
	_ = l.Reserve(ctx, "down@example.com", "10.3.0.1")
	_ = l.Reserve(ctx, "down@example.com", "10.3.0.1")
	srv.Kill()
	// ...so the third, while it is down, reaches the limit.
	start := time.Now()
	if wait := l.Reserve(ctx, "down@example.com", "10.3.0.1"); wait != 0 {
		t.Fatalf("3rd attempt with Redis down: got wait %d, want 0", wait)
	}
	if wait := l.Reserve(ctx, "down@example.com", "10.3.0.1"); wait == 0 {
		t.Fatalf("4th attempt with Redis down: got wait 0, want > 0")
	}
	l.Succeeded(ctx, "down@example.com", "10.3.0.1")
	if wait := l.Reserve(ctx, "down@example.com", "10.3.0.1"); wait != 0 {
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
		_ = l.Reserve(ctx, "back@example.com", "10.3.0.2")
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
		l.take("k"+strconv.Itoa(i), lim, now)
	}
	if got := len(l.tat); got > 10 {
		t.Fatalf("keys held: got %d, want at most 10", got)
	}
	// Drained keys make room again.
	l.take("late", lim, now.Add(2*time.Minute))
	if _, ok := l.tat["late"]; !ok {
		t.Fatalf("a new key after the others drained: not recorded, want recorded")
	}
}

// N attempts at once against a limit of L: exactly L get a slot, in Redis
// and in process alike, since each slot is taken in one atomic step.
func TestParallelAttemptsCannotOutrunALimit(t *testing.T) {
	t.Parallel()
	rdb, prefix := sharedRedis(t)
	kinds := map[string]*Limiter{
		"redis":      New(rdb, opts(prefix), nil),
		"in-process": New(nil, opts(""), nil),
	}
	for kind, l := range kinds {
		t.Run(kind, func(t *testing.T) {
			cases := []struct {
				name    string
				limit   int
				attempt func(i int) int
			}{
				{"one account", 3, func(i int) int {
					return l.Reserve(context.Background(), "burst@example.com", "10.9.0."+strconv.Itoa(i))
				}},
				{"one IP", 5, func(i int) int {
					return l.Reserve(context.Background(), "burst"+strconv.Itoa(i)+"@example.com", "10.9.1.1")
				}},
				{"one user's unknown-email lookups", 4, func(int) int {
					return l.ReserveMemberLookup(context.Background(), 99)
				}},
			}
			for _, c := range cases {
				const n = 30
				var wg sync.WaitGroup
				start := make(chan struct{})
				var granted atomic.Int32
				for i := range n {
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-start
						if c.attempt(i) == 0 {
							granted.Add(1)
						}
					}()
				}
				close(start)
				wg.Wait()
				if got := int(granted.Load()); got != c.limit {
					t.Errorf("%s: %d attempts at once: got %d granted, want exactly %d", c.name, n, got, c.limit)
				}
			}
		})
	}
}

// A member addition whose email was known gives its slot back: only unknown
// emails count.
func TestKnownEmailsGiveTheirLookupSlotBack(t *testing.T) {
	t.Parallel()
	rdb, prefix := sharedRedis(t)
	for _, l := range []*Limiter{New(rdb, opts(prefix), nil), New(nil, opts(""), nil)} {
		ctx := context.Background()
		for i := range 10 {
			if wait := l.ReserveMemberLookup(ctx, 5); wait != 0 {
				t.Fatalf("known email %d: got wait %d, want 0", i+1, wait)
			}
			l.MemberLookupFound(ctx, 5)
		}
		for i := range 4 {
			if wait := l.ReserveMemberLookup(ctx, 5); wait != 0 {
				t.Fatalf("unknown email %d after ten known: got wait %d, want 0", i+1, wait)
			}
		}
		if wait := l.ReserveMemberLookup(ctx, 5); wait == 0 {
			t.Fatalf("5th unknown email: got wait 0, want > 0")
		}
	}
}

// An IPv6 client is counted per /64: its other addresses share its count.
func TestIPv6ClientsAreCountedPerSlash64(t *testing.T) {
	t.Parallel()
	if a, b := ipKey("2001:db8:1:2::1"), ipKey("2001:db8:1:2:ffff:1:2:3"); a != b {
		t.Errorf("two addresses of one /64: got keys %q and %q, want one", a, b)
	}
	if a, b := ipKey("2001:db8:1:2::1"), ipKey("2001:db8:1:3::1"); a == b {
		t.Errorf("two /64s: got one key %q, want two", a)
	}
	if a, b := ipKey("192.0.2.1"), ipKey("::ffff:192.0.2.1"); a != b {
		t.Errorf("IPv4 and its mapped form: got %q and %q, want one", a, b)
	}
	l, ctx := New(nil, opts(""), nil), context.Background()
	for i := range 5 {
		_ = l.Reserve(ctx, "v6-"+strconv.Itoa(i)+"@example.com", "2001:db8:9:9::"+strconv.Itoa(i+1))
	}
	if wait := l.Reserve(ctx, "v6-next@example.com", "2001:db8:9:9:abcd::1"); wait == 0 {
		t.Errorf("6th attempt from the same /64: got wait 0, want > 0")
	}
}

// An attempt whose password was never checked gives both slots back.
func TestReleaseGivesBothSlotsBack(t *testing.T) {
	t.Parallel()
	rdb, prefix := sharedRedis(t)
	for _, l := range []*Limiter{New(rdb, opts(prefix), nil), New(nil, opts(""), nil)} {
		ctx := context.Background()
		for i := range 10 {
			if wait := l.Reserve(ctx, "busy@example.com", "10.7.0.1"); wait != 0 {
				t.Fatalf("attempt %d, each released: got wait %d, want 0", i+1, wait)
			}
			l.Release(ctx, "busy@example.com", "10.7.0.1")
		}
	}
}
