package session

import "github.com/prometheus/client_golang/prometheus"

// breakerValues maps BreakerState to the breaker gauge's value.
var breakerValues = map[string]float64{"closed": 0, "half-open": 1, "open": 2}

// Collectors returns the session layer's Prometheus series: the store mode
// (dealctx_session_store_info{mode}, always 1) and, for the tiered store, the
// Redis breaker state (dealctx_session_redis_breaker_state: 0 closed,
// 1 half-open, 2 open) and the reads PostgreSQL served in Redis's place.
func (m *Manager) Collectors() []prometheus.Collector {
	cs := []prometheus.Collector{prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name:        "dealctx_session_store_info",
		Help:        "The session store in use (label mode); always 1.",
		ConstLabels: prometheus.Labels{"mode": string(m.Mode)},
	}, func() float64 { return 1 })}
	if t := m.tiered; t != nil {
		cs = append(cs,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "dealctx_session_redis_breaker_state",
				Help: "The tiered session store's Redis circuit breaker: 0 closed, 1 half-open (probing or replaying invalidations), 2 open.",
			}, func() float64 { return breakerValues[t.BreakerState()] }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "dealctx_session_redis_fallbacks_total",
				Help: "Session reads PostgreSQL served because Redis was not trusted or failed.",
			}, func() float64 { return float64(t.Fallbacks()) }),
		)
	}
	return cs
}
