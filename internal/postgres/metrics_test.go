package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// An exhausted pool shows on /metrics: the acquires that waited, how long,
// and the connections held.
func TestPoolCollectorShowsAnExhaustedPool(t *testing.T) {
	t.Parallel()
	db := NewTestDB(t)
	ctx := context.Background()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(NewPoolCollector(db.Pool))

	// Hold every connection, then ask for one more: it must wait.
	max := int(db.Pool.Stat().MaxConns())
	held := make([]interface{ Release() }, 0, max)
	for range max {
		c, err := db.Pool.Acquire(ctx)
		if err != nil {
			t.Fatalf("acquire: %v", err)
		}
		held = append(held, c)
	}
	if got := gaugeValue(t, reg, "dealctx_pgxpool_acquired_conns"); got != float64(max) {
		t.Errorf("acquired_conns with all held: got %v, want %d", got, max)
	}
	if got := gaugeValue(t, reg, "dealctx_pgxpool_idle_conns"); got != 0 {
		t.Errorf("idle_conns with all held: got %v, want 0", got)
	}
	// An acquire that gives up while all are held is cancelled.
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	if _, err := db.Pool.Acquire(short); err == nil {
		t.Fatalf("acquire with every connection held: got a connection, want a timeout")
	}
	cancel()
	if got := gaugeValue(t, reg, "dealctx_pgxpool_canceled_acquire_total"); got < 1 {
		t.Errorf("canceled_acquire_total: got %v, want at least 1", got)
	}
	// One that waits until a connection comes back is an empty acquire.
	released := make(chan struct{})
	go func() {
		defer close(released)
		time.Sleep(100 * time.Millisecond)
		for _, c := range held {
			c.Release()
		}
	}()
	c, err := db.Pool.Acquire(ctx)
	if err != nil {
		t.Fatalf("waiting acquire: %v", err)
	}
	c.Release()
	<-released
	if got := gaugeValue(t, reg, "dealctx_pgxpool_empty_acquire_total"); got < 1 {
		t.Errorf("empty_acquire_total: got %v, want at least 1", got)
	}
	if got := gaugeValue(t, reg, "dealctx_pgxpool_empty_acquire_wait_seconds_total"); got <= 0 {
		t.Errorf("empty_acquire_wait_seconds_total: got %v, want above 0", got)
	}
	if got := gaugeValue(t, reg, "dealctx_pgxpool_acquired_conns"); got != 0 {
		t.Errorf("acquired_conns after release: got %v, want 0", got)
	}
}

// gaugeValue gathers reg (a pedantic registry checks each series against
// its description) and returns the value of the series name.
func gaugeValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		m := f.GetMetric()[0]
		if g := m.GetGauge(); g != nil {
			return g.GetValue()
		}
		return m.GetCounter().GetValue()
	}
	t.Fatalf("gather: no series %s", name)
	return 0
}
