package replicated

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the store's Prometheus metrics, all named
// coffer_storage_*. Per-location series carry the location's name, which
// is its URL without credentials.
type metrics struct {
	up          *prometheus.GaugeVec
	ops         *prometheus.CounterVec
	seconds     *prometheus.HistogramVec
	faults      *prometheus.CounterVec // bad or missing copies met by reads
	repaired    *prometheus.CounterVec // copies or shards written by repair
	orphans     *prometheus.CounterVec // objects deleted because no block needs them
	scrubBytes  *prometheus.CounterVec
	scrubBad    *prometheus.CounterVec
	held        *prometheus.GaugeVec // objects held, at the last census
	heldBytes   *prometheus.GaugeVec
	missing     *prometheus.GaugeVec // blocks that should be here and are not, at the last census
	scrubbedAt  *prometheus.GaugeVec
	degraded    prometheus.Counter // reads that needed a fallback or reconstruction
	readsFailed prometheus.Counter
	writesShort prometheus.Counter // blocks acknowledged before every copy was written
	under       prometheus.Gauge   // blocks below policy, at the last census
	lost        prometheus.Gauge   // blocks that cannot be read, at the last census
	queue       prometheus.Gauge
	repairedAt  prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	const ns, sub = "coffer", "storage"
	loc := []string{"location"}
	m := &metrics{
		up: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "location_up",
			Help: "1 if calls go to the location, 0 while its circuit breaker is open."}, loc),
		ops: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "location_ops_total",
			Help: "Calls to a location by operation and result (ok, not_found, error, timeout, down)."}, []string{"location", "op", "result"}),
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "location_op_seconds",
			Help: "Duration of calls to a location.", Buckets: prometheus.ExponentialBuckets(0.001, 4, 9)}, []string{"location", "op"}),
		faults: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "read_faults_total",
			Help: "Copies or shards a read found missing, corrupt or unreadable and went around."}, []string{"location", "kind"}),
		repaired: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "repaired_total",
			Help: "Copies or shards written by repair."}, loc),
		orphans: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "orphans_deleted_total",
			Help: "Objects deleted from a location because no recorded block needs them."}, loc),
		scrubBytes: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "scrub_bytes_total",
			Help: "Bytes re-read and re-hashed by the scrubber."}, loc),
		scrubBad: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "scrub_corrupt_total",
			Help: "Corrupt copies or shards the scrubber found."}, loc),
		held: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "location_objects",
			Help: "Objects the location held at the last repair pass or status."}, loc),
		heldBytes: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "location_bytes",
			Help: "Bytes the location held at the last repair pass or status."}, loc),
		missing: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "location_missing_blocks",
			Help: "Blocks that belong in the location and were not there at the last repair pass or status."}, loc),
		scrubbedAt: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "location_last_scrub_timestamp_seconds",
			Help: "When the last full scrub of the location finished."}, loc),
		degraded: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "reads_degraded_total",
			Help: "Block reads served by falling back to another copy or by reconstruction."}),
		readsFailed: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "reads_failed_total",
			Help: "Block reads that found too few sound copies."}),
		writesShort: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "writes_below_policy_total",
			Help: "Blocks whose write reached the quorum but not every location; repair completes them."}),
		under: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "under_replicated_blocks",
			Help: "Blocks with fewer sound copies than the policy asks, at the last repair pass or status."}),
		lost: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "lost_blocks",
			Help: "Blocks with too few copies to be read, at the last repair pass or status."}),
		queue: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "repair_queue",
			Help: "Blocks waiting for a targeted repair."}),
		repairedAt: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "last_repair_timestamp_seconds",
			Help: "When the last full repair pass finished."}),
	}
	if reg != nil {
		reg.MustRegister(m.up, m.ops, m.seconds, m.faults, m.repaired, m.orphans, m.scrubBytes, m.scrubBad,
			m.held, m.heldBytes, m.missing, m.scrubbedAt, m.degraded, m.readsFailed, m.writesShort, m.under, m.lost,
			m.queue, m.repairedAt)
	}
	return m
}

// siteMetrics are the series of one location.
type siteMetrics struct {
	up      prometheus.Gauge
	ops     *prometheus.CounterVec
	seconds prometheus.ObserverVec
}

func (m *metrics) site(name string) *siteMetrics {
	l := prometheus.Labels{"location": name}
	return &siteMetrics{
		up:      m.up.With(l),
		ops:     m.ops.MustCurryWith(l),
		seconds: m.seconds.MustCurryWith(l),
	}
}
