package audit

import "github.com/prometheus/client_golang/prometheus"

// metrics are the audit log's Prometheus series. Labels carry event and
// alert types and severities only, never ids.
type metrics struct {
	events        *prometheus.CounterVec
	dropped       prometheus.Counter
	stripped      *prometheus.CounterVec
	writeErrors   prometheus.Counter
	batchSize     prometheus.Histogram
	alerts        *prometheus.CounterVec
	notifyDropped prometheus.Counter
	deliveries    prometheus.Counter
	failures      prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bedside_audit_events_total",
			Help: "Audit records committed, by event type (unknown types count as other).",
		}, []string{"type"}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bedside_audit_events_dropped_total",
			Help: "Audit events lost because the queue stayed full or the log was closed.",
		}),
		stripped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bedside_audit_fields_stripped_total",
			Help: "Event fields removed before storage, by reason.",
		}, []string{"reason"}),
		writeErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bedside_audit_write_errors_total",
			Help: "Failed audit database transactions; each is retried.",
		}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "bedside_audit_batch_records",
			Help:    "Records per audit write transaction.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 6),
		}),
		alerts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bedside_audit_alerts_total",
			Help: "Security alerts raised, by alert type and severity.",
		}, []string{"type", "severity"}),
		notifyDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bedside_audit_notify_dropped_total",
			Help: "Alerts not pushed live to administrators because the push queue was full; they stay stored.",
		}),
		deliveries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bedside_audit_webhook_deliveries_total",
			Help: "Alerts accepted by the webhook receiver.",
		}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bedside_audit_webhook_failures_total",
			Help: "Failed webhook delivery attempts; each is retried with backoff.",
		}),
	}
	for _, r := range stripReasons {
		m.stripped.WithLabelValues(r)
	}
	if reg != nil {
		reg.MustRegister(m.events, m.dropped, m.stripped, m.writeErrors, m.batchSize,
			m.alerts, m.notifyDropped, m.deliveries, m.failures)
	}
	return m
}
