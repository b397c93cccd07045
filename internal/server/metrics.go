package server

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// httpMetrics are the API's Prometheus metrics. They are registered on
// Options.Metrics, never on the global registry, so that several Servers
// can live in one process (tests do) each with its own registry.
//
// Every label has few values: the route is the ServeMux pattern that
// matched, never the raw path, which carries node, block and link IDs.
type httpMetrics struct {
	requests  *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	inFlight  prometheus.Gauge
	throttled *prometheus.CounterVec
}

// routeOther is the route of a request no endpoint matched.
const routeOther = "other"

// durationBuckets span a cached JSON answer (1 ms) to a large block
// batch over a slow link (30 s).
var durationBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// newHTTPMetrics registers the metrics on reg; with no reg there are none.
func newHTTPMetrics(reg prometheus.Registerer) (*httpMetrics, error) {
	if reg == nil {
		return nil, nil
	}
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "coffer", Subsystem: "http", Name: "requests_total",
			Help: "API requests answered, by method, route (the endpoint's pattern) and status code.",
		}, []string{"method", "route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "coffer", Subsystem: "http", Name: "request_duration_seconds",
			Help:    "Time to answer an API request, to the end of its body, by method and route.",
			Buckets: durationBuckets,
		}, []string{"method", "route"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "coffer", Subsystem: "http", Name: "requests_in_flight",
			Help: "API requests being answered now.",
		}),
		throttled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "coffer", Name: "throttle_rejections_total",
			Help: "Requests refused by the brute-force throttle, by what was attempted: signup, login, recover or link.",
		}, []string{"kind"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.inFlight, m.throttled} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	// Every kind is shown from the start at 0, so that a rate over it
	// works before the first refusal.
	for _, k := range throttleKinds {
		m.throttled.WithLabelValues(k)
	}
	return m, nil
}

// observe counts one answered request. route is r.Pattern after routing.
func (m *httpMetrics) observe(method, route string, status int, took time.Duration) {
	if m == nil {
		return
	}
	method = metricMethod(method)
	route = metricRoute(route)
	m.requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(method, route).Observe(took.Seconds())
	if status == http.StatusTooManyRequests {
		m.throttled.WithLabelValues(throttleKind(route)).Inc()
	}
}

// begin and end track the requests in flight.
func (m *httpMetrics) begin() {
	if m != nil {
		m.inFlight.Inc()
	}
}

func (m *httpMetrics) end() {
	if m != nil {
		m.inFlight.Dec()
	}
}

// metricRoute is the route label: the pattern, or "other" for the
// catch-all and for requests the mux answered itself (no pattern).
func metricRoute(pattern string) string {
	if pattern == "" || pattern == "/" {
		return routeOther
	}
	return pattern
}

// metricMethod is the method label. The method is whatever the client
// sent, so anything unusual is "other" rather than a new series each.
func metricMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
		return m
	}
	return "other"
}
