// Package usage records the success figures (sign-ins, restores, selector
// prompts, page loads) across processes without a write per event: counts
// gather in memory and one flusher writes them in batches, at most one a
// second. It knows nothing of HTTP; the api's handlers count through it.
package usage

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Counter adds counts to the shared figures (PostgreSQL implements it).
type Counter interface {
	// CountUsage adds each count to its counter (names from
	// deal.UsageNames) for the current moment, all in one write.
	CountUsage(ctx context.Context, counts map[string]int64) error
}

// Recorder records usage counts through CountUsage off the request's
// path: Add only bumps an in-memory count; one flusher goroutine at a time
// writes what has gathered, in one statement, then waits FlushEvery
// before it writes again, and exits when nothing is left. So the first count
// after a quiet spell goes out at once, and under load a process writes one
// batch a second, not one per counted request (a count per request cost a
// PostgreSQL commit per sign-in under load). A write that fails is logged
// and its counts dropped: the figures are best effort and never fail or
// slow a request. Close writes what is pending, for a shutdown.
type Recorder struct {
	src    Counter
	logger *slog.Logger

	mu       sync.Mutex
	pending  map[string]int64
	flushing bool
	closing  chan struct{} // closed by close: the flusher stops waiting
	done     chan struct{} // closed when a running flusher has exited
	closed   bool
}

// FlushEvery is the least time between two writes of usage counts.
const FlushEvery = time.Second

func New(src Counter, logger *slog.Logger) *Recorder {
	if src == nil {
		return nil
	}
	return &Recorder{src: src, logger: logger, pending: map[string]int64{}, closing: make(chan struct{})}
}

// Add counts one event named name; a nil recorder does nothing.
func (u *Recorder) Add(name string) {
	if u == nil {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	u.pending[name]++
	if !u.flushing && !u.closed {
		u.flushing = true
		u.done = make(chan struct{})
		go u.flush(u.done)
	}
}

func (u *Recorder) flush(done chan struct{}) {
	defer close(done)
	for {
		u.mu.Lock()
		batch := u.pending
		if len(batch) == 0 {
			u.flushing = false
			u.mu.Unlock()
			return
		}
		u.pending = map[string]int64{}
		u.mu.Unlock()
		u.write(batch)
		select {
		case <-time.After(FlushEvery):
		case <-u.closing:
		}
	}
}

func (u *Recorder) write(batch map[string]int64) {
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	if err := u.src.CountUsage(ctx, batch); err != nil {
		u.logger.Warn("usage counts not recorded", "counts", batch, "err", err)
	}
}

// Close writes the counts still pending and stops the flusher; counts added
// after it are dropped. A nil recorder does nothing.
func (u *Recorder) Close() {
	if u == nil {
		return
	}
	u.mu.Lock()
	if u.closed {
		u.mu.Unlock()
		return
	}
	u.closed = true
	close(u.closing)
	done := u.done
	u.mu.Unlock()
	if done != nil {
		<-done // a running flusher writes what is pending, then exits
	}
	u.mu.Lock()
	batch := u.pending
	u.pending = map[string]int64{}
	u.mu.Unlock()
	if len(batch) > 0 {
		u.write(batch)
	}
}

// writeTimeout bounds one batch of usage writes.
const writeTimeout = 2 * time.Second
