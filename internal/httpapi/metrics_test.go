package httpapi

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/dealctx/dealctx/internal/deal"
	"github.com/dealctx/dealctx/internal/postgres"
)

// TestUsageRecorderLandsEveryCount adds counts from many goroutines, as
// concurrent requests do, and checks that PostgreSQL ends up with all of
// them.
func TestUsageRecorderLandsEveryCount(t *testing.T) {
	t.Parallel()
	db := postgres.NewTestDB(t)
	u := newUsageRecorder(db, slog.New(slog.DiscardHandler))
	const goroutines, each = 8, 250
	var wg sync.WaitGroup
	for range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				u.add(deal.UsageSelectorPrompt)
				u.add(deal.UsagePageLoad)
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
		if st.PageLoads == goroutines*each || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if st.SelectorPrompts != goroutines*each || st.PageLoads != goroutines*each {
		t.Errorf("got %d prompts and %d page loads, want %d of each", st.SelectorPrompts, st.PageLoads, goroutines*each)
	}
}

// TestNilUsageRecorderDoesNothing: a server without a StatsSource still
// counts in Prometheus and must not panic on the shared path.
func TestNilUsageRecorderDoesNothing(t *testing.T) {
	t.Parallel()
	var u *usageRecorder
	u.add(deal.UsageSignIn)
	if newUsageRecorder(nil, slog.New(slog.DiscardHandler)) != nil {
		t.Error("newUsageRecorder(nil): got a recorder, want nil")
	}
}

// BenchmarkUsageRecorderAdd is what a request pays to record one event:
// the PostgreSQL write happens on the flusher goroutine.
func BenchmarkUsageRecorderAdd(b *testing.B) {
	u := newUsageRecorder(postgres.NewTestDB(b), slog.New(slog.DiscardHandler))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			u.add(deal.UsagePageLoad)
		}
	})
}
