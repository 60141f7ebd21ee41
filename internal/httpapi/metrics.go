package httpapi

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the api's own Prometheus series.
type metrics struct {
	requests   *prometheus.HistogramVec
	restores   *prometheus.CounterVec
	selections prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "dealctx_http_request_duration_seconds",
			Help:    "HTTP request latency by method, route pattern and status.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"method", "route", "status"}),
		restores: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dealctx_deal_auto_restore_total",
			Help: "Auto-restore attempts by outcome (restored, none, denied, deleted, error).",
		}, []string{"outcome"}),
		selections: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dealctx_deal_selections_total",
			Help: "Successful deal selections.",
		}),
	}
	reg.MustRegister(m.requests, m.restores, m.selections)
	for _, o := range []string{"restored", "none", "denied", "deleted", "error"} {
		m.restores.WithLabelValues(o)
	}
	return m
}

func (m *metrics) observeRequest(method, route string, status int, d time.Duration) {
	m.requests.WithLabelValues(method, route, strconv.Itoa(status)).Observe(d.Seconds())
}

func (m *metrics) restoreOutcome(o string) { m.restores.WithLabelValues(o).Inc() }
