package sfu

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// counters holds the SFU's counts. The hot path updates atomics; Prometheus
// reads them at scrape time through GaugeFunc and CounterFunc, so forwarding
// a packet costs no metric bookkeeping beyond two atomic adds.
type counters struct {
	rooms         atomic.Int64
	peers         atomic.Int64
	tracks        atomic.Int64
	subscriptions atomic.Int64

	forwardedPackets atomic.Uint64
	forwardedBytes   atomic.Uint64
	keyframeRequests atomic.Uint64
	keyframeFolded   atomic.Uint64
	picturesLost     atomic.Uint64
	nacks            atomic.Uint64
	glare            atomic.Uint64
	malformed        atomic.Uint64

	registerer prometheus.Registerer
	registered []prometheus.Collector
}

// Stats is a snapshot of the SFU's counts.
type Stats struct {
	Rooms         int
	Peers         int
	Tracks        int // published tracks being forwarded
	Subscriptions int // forwarded track copies, one per subscriber and track

	ForwardedPackets uint64 // RTP packets written to subscribers
	ForwardedBytes   uint64 // RTP bytes (header and payload) written to subscribers
	KeyframeRequests uint64 // PLIs sent to publishers
	KeyframeFolded   uint64 // keyframe wishes folded into another request by the rate limit
	PicturesLost     uint64 // PLI and FIR packets received from subscribers
	NACKs            uint64 // NACK packets received from subscribers
	Glare            uint64 // client offers that crossed an SFU offer
	MalformedRTP     uint64 // RTP packets from publishers that did not parse

	TURNDeniedPermissions uint64 // TURN permissions rejected (peer not an SFU media address)
	TURNDroppedDatagrams  uint64 // relay datagrams dropped (peer not an SFU media address)
}

func (c *counters) snapshot() Stats {
	return Stats{
		Rooms:            int(c.rooms.Load()),
		Peers:            int(c.peers.Load()),
		Tracks:           int(c.tracks.Load()),
		Subscriptions:    int(c.subscriptions.Load()),
		ForwardedPackets: c.forwardedPackets.Load(),
		ForwardedBytes:   c.forwardedBytes.Load(),
		KeyframeRequests: c.keyframeRequests.Load(),
		KeyframeFolded:   c.keyframeFolded.Load(),
		PicturesLost:     c.picturesLost.Load(),
		NACKs:            c.nacks.Load(),
		Glare:            c.glare.Load(),
		MalformedRTP:     c.malformed.Load(),
	}
}

// register adds the SFU's metrics to r. A nil r registers nothing.
func (c *counters) register(r prometheus.Registerer) error {
	if r == nil {
		return nil
	}
	gauge := func(name, help string, v *atomic.Int64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "bedside", Subsystem: "sfu", Name: name, Help: help,
		}, func() float64 { return float64(v.Load()) })
	}
	counter := func(name, help string, v *atomic.Uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "bedside", Subsystem: "sfu", Name: name, Help: help,
		}, func() float64 { return float64(v.Load()) })
	}
	collectors := []prometheus.Collector{
		gauge("rooms", "Rooms with at least one participant.", &c.rooms),
		gauge("peers", "Connected or connecting participants.", &c.peers),
		gauge("tracks", "Published tracks being forwarded.", &c.tracks),
		gauge("subscriptions", "Forwarded track copies, one per subscriber and track.", &c.subscriptions),
		counter("forwarded_packets_total", "RTP packets written to subscribers.", &c.forwardedPackets),
		counter("forwarded_bytes_total", "RTP bytes written to subscribers.", &c.forwardedBytes),
		counter("keyframe_requests_total", "Keyframe requests (PLI) sent to publishers.", &c.keyframeRequests),
		counter("keyframe_requests_folded_total",
			"Keyframe wishes folded into another request by the per-track rate limit.", &c.keyframeFolded),
		counter("pictures_lost_total", "PLI and FIR packets received from subscribers.", &c.picturesLost),
		counter("nacks_total", "NACK packets received from subscribers.", &c.nacks),
		counter("glare_total", "Client offers that crossed an SFU offer.", &c.glare),
		counter("malformed_rtp_total", "RTP packets from publishers that did not parse.", &c.malformed),
	}
	c.registerer = r
	for _, col := range collectors {
		if err := r.Register(col); err != nil {
			c.unregister()
			return err
		}
		c.registered = append(c.registered, col)
	}
	return nil
}

// unregister removes the metrics added by register, so another SFU can
// register on the same registry later.
func (c *counters) unregister() {
	for _, col := range c.registered {
		c.registerer.Unregister(col)
	}
	c.registered = nil
}
