package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/dealctx/dealctx/internal/postgres"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the api's own Prometheus series. Every label value comes from
// a bounded set: route patterns (never raw paths; "unmatched" for requests
// no route took), known methods ("OTHER" for the rest) and status codes.
type metrics struct {
	requests   *prometheus.HistogramVec
	restores   *prometheus.CounterVec
	selections prometheus.Counter
	// memberRefused counts member additions refused for an unknown email
	// or the lookup throttle (reason: unknown_email, rate_limited).
	memberRefused *prometheus.CounterVec
}

// unmatchedRoute is the route label of requests no route pattern took.
const unmatchedRoute = "unmatched"

func newMetrics(reg prometheus.Registerer, db *postgres.DB) *metrics {
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
		memberRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dealctx_member_add_refused_total",
			Help: "Member additions refused by reason (unknown_email, rate_limited).",
		}, []string{"reason"}),
	}
	reg.MustRegister(m.requests, m.restores, m.selections, m.memberRefused)
	m.memberRefused.WithLabelValues("unknown_email")
	m.memberRefused.WithLabelValues("rate_limited")
	for _, o := range []string{"restored", "none", "denied", "deleted", "error"} {
		m.restores.WithLabelValues(o)
	}
	// Process-wide collectors: a registry shared with another component
	// may hold them already, which is fine.
	shared := []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	}
	if db != nil && db.Pool != nil {
		shared = append(shared, postgres.NewPoolCollector(db.Pool))
	}
	for _, c := range shared {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				panic(err)
			}
		}
	}
	return m
}

// knownMethods bounds the method label: clients may send any token.
var knownMethods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPost: true, http.MethodPut: true,
	http.MethodPatch: true, http.MethodDelete: true, http.MethodOptions: true,
}

// boundedMethod is method when it is a standard one, else "OTHER".
func boundedMethod(method string) string {
	if knownMethods[method] {
		return method
	}
	return "OTHER"
}

func (m *metrics) observeRequest(method, route string, status int, d time.Duration) {
	m.requests.WithLabelValues(method, route, strconv.Itoa(status)).Observe(d.Seconds())
}

func (m *metrics) restoreOutcome(o string) { m.restores.WithLabelValues(o).Inc() }

// noteSelectorPrompt records that a signed-in user was sent to the deal
// selector, or answered deal_not_selected, for lack of a current deal.
func (s *server) noteSelectorPrompt(ctx context.Context) {}

// noteSignIn records a completed sign-in (password or remember-me) and
// whether it came back with a deal.
func (s *server) noteSignIn(ctx context.Context, restored bool) {}
