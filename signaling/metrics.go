package signaling

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the hub's Prometheus collectors. They exist even when
// Config.Registerer is nil, so the hot path never checks.
type metrics struct {
	connections   prometheus.Gauge
	rooms         prometheus.Gauge
	received      map[string]prometheus.Counter // by client message type
	receivedOther prometheus.Counter            // invalid or unknown type
	sent          map[string]prometheus.Counter // by server message type
	dropped       prometheus.Counter
	slowConsumers prometheus.Counter
	authFailures  prometheus.Counter
	resumes       map[string]prometheus.Counter // by media outcome: kept or new
	sessionChecks map[string]prometheus.Counter // by result: valid, ended or fault
}

var serverMessageTypes = []string{
	TypeAuthOK, TypeOK, TypeError, TypePong, TypeJoined, TypeWaiting, TypeWaitingList,
	TypeAdmitted, TypeDenied, TypeRemoved, TypeParticipantJoined, TypeParticipantLeft,
	TypePresence, TypeOffer, TypeAnswer, TypeCandidate, TypeMediaClosed, TypeMessage,
	TypeAlert, TypeSessionRevoked, TypeTURN, TypeEnded,
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	const ns, sub = "bedside", "signaling"
	received := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Subsystem: sub, Name: "messages_received_total",
		Help: "Client messages received, by type; type \"invalid\" counts undecodable ones.",
	}, []string{"type"})
	sent := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Subsystem: sub, Name: "messages_sent_total",
		Help: "Server messages queued for sending, by type.",
	}, []string{"type"})
	resumes := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Subsystem: sub, Name: "resumes_total",
		Help: "Admitted participants resumed after a dropped connection, by whether their media session was kept or new.",
	}, []string{"media"})
	sessionChecks := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Subsystem: sub, Name: "session_checks_total",
		Help: "Periodic re-checks of a connection's session, by result: valid, ended (the connections closed) or fault (a server error).",
	}, []string{"result"})
	m := &metrics{
		connections: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Subsystem: sub, Name: "connections",
			Help: "Open WebSocket connections, authenticated or not.",
		}),
		rooms: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Subsystem: sub, Name: "rooms",
			Help: "Consultation rooms with at least one participant.",
		}),
		received:      make(map[string]prometheus.Counter),
		receivedOther: received.WithLabelValues("invalid"),
		sent:          make(map[string]prometheus.Counter),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "messages_dropped_total",
			Help: "Server messages not queued because the connection was closing or its queue was full.",
		}),
		slowConsumers: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "slow_consumer_disconnects_total",
			Help: "Connections closed because their outbound queue was full.",
		}),
		authFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "auth_failures_total",
			Help: "Connections closed for a missing, late or rejected auth message.",
		}),
	}
	m.resumes = map[string]prometheus.Counter{
		MediaKept: resumes.WithLabelValues(MediaKept),
		MediaNew:  resumes.WithLabelValues(MediaNew),
	}
	m.sessionChecks = map[string]prometheus.Counter{
		sessionValid: sessionChecks.WithLabelValues(sessionValid),
		sessionEnded: sessionChecks.WithLabelValues(sessionEnded),
		sessionFault: sessionChecks.WithLabelValues(sessionFault),
	}
	for typ := range clientMessages {
		m.received[typ] = received.WithLabelValues(typ)
	}
	for _, typ := range serverMessageTypes {
		m.sent[typ] = sent.WithLabelValues(typ)
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{
		m.connections, m.rooms, received, sent, m.dropped, m.slowConsumers, m.authFailures, resumes,
		sessionChecks,
	} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *metrics) countReceived(typ string) {
	if c, ok := m.received[typ]; ok {
		c.Inc()
		return
	}
	m.receivedOther.Inc()
}

func (m *metrics) countSent(typ string) {
	if c, ok := m.sent[typ]; ok {
		c.Inc()
	}
}

func (m *metrics) countResume(media string) {
	if c, ok := m.resumes[media]; ok {
		c.Inc()
	}
}

func (m *metrics) countSessionCheck(result string) {
	if c, ok := m.sessionChecks[result]; ok {
		c.Inc()
	}
}
