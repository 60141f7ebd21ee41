package usage

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/dealctx/dealctx/internal/deal"
	"github.com/dealctx/dealctx/internal/postgres"
	"github.com/dealctx/dealctx/internal/postgres/pgtest"
)

// TestRecorderLandsEveryCount adds counts from many goroutines, as
// concurrent requests do, and checks that PostgreSQL ends up with all of
// them.
func TestRecorderLandsEveryCount(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	u := New(db, slog.New(slog.DiscardHandler))
	const goroutines, each = 8, 250
	var wg sync.WaitGroup
	for range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				u.Add(deal.UsageSelectorPrompt)
				u.Add(deal.UsagePageLoad)
			}
		}()
	}
	wg.Wait()
	ctx := context.Background()
	var st deal.UsageStats
	deadline := time.Now().Add(5 * time.Second)
	for {
		var err error
		if st, err = db.FindUsageStats(ctx, time.Now().Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
		if st.PageLoads == goroutines*each && st.SelectorPrompts == goroutines*each || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if st.SelectorPrompts != goroutines*each || st.PageLoads != goroutines*each {
		t.Errorf("got %d prompts and %d page loads, want %d of each", st.SelectorPrompts, st.PageLoads, goroutines*each)
	}
}

// countingStats counts the writes that reach PostgreSQL.
type countingStats struct {
	*postgres.DB
	mu     sync.Mutex
	writes int
}

func (c *countingStats) CountUsage(ctx context.Context, counts map[string]int64) error {
	c.mu.Lock()
	c.writes++
	c.mu.Unlock()
	return c.DB.CountUsage(ctx, counts)
}

// Counts arriving all the time, as under load, are written one batch a
// second, not one write per count; the first count after a quiet spell is
// written at once; close writes what is still pending.
func TestRecorderWritesABatchASecond(t *testing.T) {
	t.Parallel()
	db := &countingStats{DB: pgtest.NewDB(t)}
	u := New(db, slog.New(slog.DiscardHandler))
	ctx := context.Background()
	counted := func() deal.UsageCounts {
		st, err := db.FindUsageStats(ctx, time.Now().Add(-time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		return st.UsageCounts
	}

	u.Add(deal.UsageSignIn)
	deadline := time.Now().Add(500 * time.Millisecond)
	for counted().SignIns != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the first count was not written within 500 ms")
		}
		time.Sleep(10 * time.Millisecond)
	}

	// 1.5 s of counts, one every millisecond or so, then close.
	const n = 1500
	start := time.Now()
	for i := range n {
		u.Add(deal.UsageSelectorPrompt)
		u.Add(deal.UsageSignInRestored)
		time.Sleep(time.Until(start.Add(time.Duration(i) * time.Millisecond)))
	}
	u.Close()
	u.Add(deal.UsagePageLoad) // after close: dropped, and no flusher starts
	took := time.Since(start)

	if got, want := counted(), (deal.UsageCounts{SignIns: 1, SignInsRestored: n, SelectorPrompts: n}); got != want {
		t.Errorf("counts: got %+v, want %+v", got, want)
	}
	db.mu.Lock()
	writes := db.writes
	db.mu.Unlock()
	// One for the first count, then at most one per second of the run and
	// the one close makes.
	if limit := 2 + int(took/time.Second) + 1; writes > limit {
		t.Errorf("%d counts over %s took %d writes, want at most %d", 2*n+1, took.Round(time.Millisecond), writes, limit)
	}
}

// TestNilRecorderDoesNothing: a server without a Counter still
// counts in Prometheus and must not panic on the shared path.
func TestNilRecorderDoesNothing(t *testing.T) {
	t.Parallel()
	var u *Recorder
	u.Add(deal.UsageSignIn)
	u.Close()
	if New(nil, slog.New(slog.DiscardHandler)) != nil {
		t.Error("New(nil): got a recorder, want nil")
	}
}

// BenchmarkRecorderAdd is what a request pays to record one event:
// the PostgreSQL write happens on the flusher goroutine.
func BenchmarkRecorderAdd(b *testing.B) {
	u := New(pgtest.NewDB(b), slog.New(slog.DiscardHandler))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			u.Add(deal.UsagePageLoad)
		}
	})
}
