package jobs

import (
	"context"
	"time"

	"github.com/dealctx/dealctx/internal/postgres"
	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the worker's Prometheus series: runs, failures and durations
// per job, and, on each scrape, the asynq queue sizes and the audit backlog.
type Metrics struct {
	runs      *prometheus.CounterVec
	failures  *prometheus.CounterVec
	durations *prometheus.HistogramVec
}

// NewMetrics registers the job series on reg. When inspector is not nil,
// queue sizes are read from it on each scrape; when db is not nil, so is the
// number of audit events still waiting in the outbox.
func NewMetrics(reg prometheus.Registerer, inspector *asynq.Inspector, db *postgres.DB) *Metrics {
	m := &Metrics{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dealctx_worker_job_runs_total",
			Help: "Job runs, successful or not, by job.",
		}, []string{"job"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dealctx_worker_job_failures_total",
			Help: "Job runs that failed, by job.",
		}, []string{"job"}),
		durations: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "dealctx_worker_job_duration_seconds",
			Help:    "Job run duration by job.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
		}, []string{"job"}),
	}
	reg.MustRegister(m.runs, m.failures, m.durations)
	// Every job's series exist from the start, so a rule over them sees a
	// zero rather than nothing before the first run.
	for _, j := range Jobs() {
		m.runs.WithLabelValues(j.Name)
		m.failures.WithLabelValues(j.Name)
	}
	if inspector != nil || db != nil {
		reg.MustRegister(&backlogCollector{inspector: inspector, db: db})
	}
	return m
}

func (m *Metrics) observe(job string, d time.Duration, err error) {
	if m == nil {
		return
	}
	m.runs.WithLabelValues(job).Inc()
	m.durations.WithLabelValues(job).Observe(d.Seconds())
	if err != nil {
		m.failures.WithLabelValues(job).Inc()
	}
}

var (
	queueSizeDesc = prometheus.NewDesc("dealctx_worker_queue_tasks",
		"Tasks in each asynq queue by state.", []string{"queue", "state"}, nil)
	outboxDesc = prometheus.NewDesc("dealctx_worker_audit_outbox_pending",
		"Audit events committed but not yet moved into audit_log.", nil, nil)
)

// backlogCollector reads queue sizes and the audit backlog at scrape time;
// a source that does not answer is left out of that scrape.
type backlogCollector struct {
	inspector *asynq.Inspector
	db        *postgres.DB
}

func (c *backlogCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- queueSizeDesc
	ch <- outboxDesc
}

func (c *backlogCollector) Collect(ch chan<- prometheus.Metric) {
	if c.inspector != nil {
		queues, _ := c.inspector.Queues()
		for _, q := range queues {
			info, err := c.inspector.GetQueueInfo(q)
			if err != nil {
				continue
			}
			for state, n := range map[string]int{
				"pending": info.Pending, "active": info.Active, "scheduled": info.Scheduled,
				"retry": info.Retry, "archived": info.Archived, "completed": info.Completed,
			} {
				ch <- prometheus.MustNewConstMetric(queueSizeDesc, prometheus.GaugeValue, float64(n), q, state)
			}
		}
	}
	if c.db != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if n, err := c.db.PendingAuditEvents(ctx); err == nil {
			ch <- prometheus.MustNewConstMetric(outboxDesc, prometheus.GaugeValue, float64(n))
		}
	}
}
