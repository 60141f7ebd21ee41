package postgres

import (
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// PoolCollector exports the pgx pool's statistics as Prometheus series:
// connections acquired, idle, being opened, in total and the limit; acquires,
// how many had to wait because no connection was idle (the pool was
// exhausted) and how long they waited; cancelled acquires; and connections
// opened and closed for age or idleness. It reads pgxpool.Stat at each
// scrape, so the values are never stale.
type PoolCollector struct {
	pool *pgxpool.Pool

	acquired, idle, constructing, total, max     *prometheus.Desc
	acquires, acquireSeconds, emptyAcquires      *prometheus.Desc
	emptyAcquireWait, canceledAcquires, newConns *prometheus.Desc
	lifetimeDestroys, idleDestroys               *prometheus.Desc
}

// NewPoolCollector returns a collector over pool's statistics.
func NewPoolCollector(pool *pgxpool.Pool) *PoolCollector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("dealctx_pgxpool_"+name, help, nil, nil)
	}
	return &PoolCollector{
		pool:             pool,
		acquired:         d("acquired_conns", "Connections currently checked out of the pool."),
		idle:             d("idle_conns", "Idle connections in the pool."),
		constructing:     d("constructing_conns", "Connections being opened."),
		total:            d("total_conns", "All connections in the pool (acquired, idle and being opened)."),
		max:              d("max_conns", "The pool's connection limit."),
		acquires:         d("acquire_total", "Successful acquires from the pool."),
		acquireSeconds:   d("acquire_duration_seconds_total", "Total time spent in successful acquires."),
		emptyAcquires:    d("empty_acquire_total", "Successful acquires that had to wait because no connection was idle."),
		emptyAcquireWait: d("empty_acquire_wait_seconds_total", "Total time acquires waited for a connection when none was idle."),
		canceledAcquires: d("canceled_acquire_total", "Acquires canceled by their context."),
		newConns:         d("new_conns_total", "Connections opened since the pool started."),
		lifetimeDestroys: d("max_lifetime_destroy_total", "Connections closed because they reached the pool's maximum lifetime."),
		idleDestroys:     d("max_idle_destroy_total", "Connections closed because they were idle longer than the pool allows."),
	}
}

func (c *PoolCollector) descs() []*prometheus.Desc {
	return []*prometheus.Desc{
		c.acquired, c.idle, c.constructing, c.total, c.max,
		c.acquires, c.acquireSeconds, c.emptyAcquires, c.emptyAcquireWait, c.canceledAcquires,
		c.newConns, c.lifetimeDestroys, c.idleDestroys,
	}
}

// Describe sends the collector's descriptors.
func (c *PoolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs() {
		ch <- d
	}
}

// Collect sends the pool's current statistics, one value per descriptor.
func (c *PoolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.pool.Stat()
	gauge := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	counter := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	gauge(c.acquired, float64(s.AcquiredConns()))
	gauge(c.idle, float64(s.IdleConns()))
	gauge(c.constructing, float64(s.ConstructingConns()))
	gauge(c.total, float64(s.TotalConns()))
	gauge(c.max, float64(s.MaxConns()))
	counter(c.acquires, float64(s.AcquireCount()))
	counter(c.acquireSeconds, s.AcquireDuration().Seconds())
	counter(c.emptyAcquires, float64(s.EmptyAcquireCount()))
	counter(c.emptyAcquireWait, s.EmptyAcquireWaitTime().Seconds())
	counter(c.canceledAcquires, float64(s.CanceledAcquireCount()))
	counter(c.newConns, float64(s.NewConnsCount()))
	counter(c.lifetimeDestroys, float64(s.MaxLifetimeDestroyCount()))
	counter(c.idleDestroys, float64(s.MaxIdleDestroyCount()))
}
