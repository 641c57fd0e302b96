package server

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/carepath/carepath/database"
	"github.com/carepath/carepath/triage"
)

// Metrics are the Prometheus series the API exports on /metrics, in a registry of their own so
// that several servers in one process (as in tests) never share counters.
type Metrics struct {
	registry  *prometheus.Registry
	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	decisions *prometheus.CounterVec
}

// NewMetrics registers the API's series, with the Go runtime's, in a new registry.
func NewMetrics() *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "carepath_http_requests_total", Help: "HTTP requests by route pattern and status.",
		}, []string{"route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "carepath_http_request_duration_seconds", Help: "HTTP request latency by route pattern.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route"}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "carepath_decisions_total", Help: "Decisions stored, by form, pathway, priority and whether a visit was booked.",
		}, []string{"form", "pathway", "priority", "booked"}),
	}
	m.registry.MustRegister(m.requests, m.latency, m.decisions,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// handler serves the registry in Prometheus' text format.
func (m *Metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// observe records one request; route is the mux pattern, so ids never become label values.
func (m *Metrics) observe(route string, status int, took time.Duration) {
	if route == "" {
		route = "unmatched"
	}
	m.requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(route).Observe(took.Seconds())
}

// decided counts a newly stored decision.
func (m *Metrics) decided(d *triage.Decision) {
	m.decisions.WithLabelValues(d.Form, d.Outcome.Pathway, string(d.Outcome.Priority), strconv.FormatBool(d.Assignment != nil)).Inc()
}

// WriterMetrics registers, on SQLite, the single writer's series read from db at each scrape:
// carepath_sqlite_writer_busy_seconds_total, whose rate is the writer's utilisation (near 1, the
// one writer is the limit and a busier service belongs on PostgreSQL), and the transactions and
// batches it committed. On PostgreSQL it registers nothing.
func (m *Metrics) WriterMetrics(db *database.DB) {
	if db.Dialect != database.SQLite {
		return
	}
	stat := func(f func(database.GroupCommitStats) float64) func() float64 {
		return func() float64 { return f(db.GroupCommitStats()) }
	}
	m.registry.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "carepath_sqlite_writer_busy_seconds_total",
			Help: "Time SQLite's one writer spent running write batches; its rate is the writer's utilisation."},
			stat(func(s database.GroupCommitStats) float64 { return s.Busy.Seconds() })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "carepath_sqlite_writer_transactions_total",
			Help: "Write transactions SQLite's writer committed or rolled back."},
			stat(func(s database.GroupCommitStats) float64 { return float64(s.Jobs) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "carepath_sqlite_writer_batches_total",
			Help: "Batches (one COMMIT each) SQLite's writer ran; transactions per batch is the group commit's gain."},
			stat(func(s database.GroupCommitStats) float64 { return float64(s.Batches) })),
	)
}
