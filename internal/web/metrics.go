package web

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/dealctx/dealctx/internal/deal"
	"github.com/dealctx/dealctx/internal/postgres"
	"github.com/dealctx/dealctx/internal/usage"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the api's own Prometheus series. Every label value comes from
// a bounded set: route patterns (never raw paths; "unmatched" for requests
// no route took), known methods ("OTHER" for the rest) and status codes.
type metrics struct {
	requests   *prometheus.HistogramVec
	restores   *prometheus.CounterVec
	Selections prometheus.Counter
	prompts    prometheus.Counter
	signIns    *prometheus.CounterVec
	pageLoads  prometheus.Counter
	// memberRefused counts member additions refused for an unknown email
	// or the lookup throttle (reason: unknown_email, rate_limited).
	memberRefused *prometheus.CounterVec
	// checks counts reads of the current deal by how they were decided
	// (checkReason), resolved once: the hot path only increments.
	checks [checkReasons]prometheus.Counter
	// usage records the figures across processes; nil records nothing.
	usage *usage.Recorder
}

// UnmatchedRoute is the route label of requests no route pattern took.
const UnmatchedRoute = "unmatched"

func newMetrics(reg prometheus.Registerer, db *postgres.DB, rec *usage.Recorder) *metrics {
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
		Selections: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dealctx_deal_selections_total",
			Help: "Successful deal selections.",
		}),
		prompts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dealctx_selector_prompts_total",
			Help: "Times a signed-in user was sent to the deal selector, or answered deal_not_selected, for lack of a current deal.",
		}),
		signIns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dealctx_sign_ins_total",
			Help: "Completed sign-ins (password or remember-me) by whether they came back with a deal (restored \"true\" or \"false\").",
		}, []string{"restored"}),
		pageLoads: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dealctx_page_loads_total",
			Help: "Pages (GET, 200) loaded by signed-in users: the denominator of the selector prompt rate.",
		}),
		memberRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dealctx_member_add_refused_total",
			Help: "Member additions refused by reason (unknown_email, rate_limited).",
		}, []string{"reason"}),
		usage: rec,
	}
	checks := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dealctx_current_deal_checks_total",
		Help: "Reads of the session's current deal by how access was decided: session (the recorded decision held, no PostgreSQL) or postgres_<why> (untrusted, unrecorded, unknown, changed).",
	}, []string{"by"})
	for i, l := range checkReasonLabels {
		m.checks[i] = checks.WithLabelValues(l)
	}
	reg.MustRegister(m.requests, m.restores, m.Selections, m.prompts, m.signIns, m.pageLoads, m.memberRefused, checks)
	m.memberRefused.WithLabelValues("unknown_email")
	m.memberRefused.WithLabelValues("rate_limited")
	m.signIns.WithLabelValues("true")
	m.signIns.WithLabelValues("false")
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
	m.requests.WithLabelValues(method, route, statusLabel(status)).Observe(d.Seconds())
}

// statusLabels are the status codes as label values, made once: strconv
// allocates a string for every code above 99.
var statusLabels = func() (l [600]string) {
	for i := range l {
		l[i] = strconv.Itoa(i)
	}
	return l
}()

func statusLabel(status int) string {
	if status >= 0 && status < len(statusLabels) {
		return statusLabels[status]
	}
	return strconv.Itoa(status)
}

// restoreOutcome counts an auto-restore outcome. Failed ones are recorded
// across processes too: unlike the others they leave no audit event.
func (m *metrics) restoreOutcome(o string) {
	m.restores.WithLabelValues(o).Inc()
	if o == deal.RestoreError {
		m.usage.Add(deal.UsageRestoreFailed)
	}
}

// NoteSelectorPrompt records that a signed-in user was sent to the deal
// selector, or answered deal_not_selected, for lack of a current deal.
func (s *Server) NoteSelectorPrompt(ctx context.Context) {
	s.Metrics.prompts.Inc()
	s.Metrics.usage.Add(deal.UsageSelectorPrompt)
}

// noteSignIn records a completed sign-in (password or remember-me) and
// whether it came back with a deal.
func (s *Server) noteSignIn(ctx context.Context, restored bool) {
	s.Metrics.signIns.WithLabelValues(strconv.FormatBool(restored)).Inc()
	s.Metrics.usage.Add(deal.UsageSignIn)
	if restored {
		s.Metrics.usage.Add(deal.UsageSignInRestored)
	}
}

// CountPageLoads counts the pages signed-in users load (GET answered 200),
// the denominator of the selector prompt rate.
func (s *Server) CountPageLoads(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		if r.Method == http.MethodGet && sw.status == http.StatusOK && s.Sessions.UserID(r.Context()) != 0 {
			s.Metrics.pageLoads.Inc()
			s.Metrics.usage.Add(deal.UsagePageLoad)
		}
	})
}
