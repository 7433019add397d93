package sfu

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/bedside-health/bedside/sfu/keyframe"
)

// receiveBufferSize holds one RTP packet as Pion delivers it (its receive
// MTU is 1460 bytes by default).
const receiveBufferSize = 1500

// forwarder reads one published track and writes each packet to every
// subscriber's copy of it.
type forwarder struct {
	pub      *Peer
	track    *webrtc.TrackRemote
	receiver *webrtc.RTPReceiver
	codec    webrtc.RTPCodecCapability
	trackID  string
	streamID string // the publisher's participant ID, so clients can tell who sends
	ssrc     uint32
	video    bool
	m        *counters
	log      *slog.Logger

	// downs is replaced, never modified, so the read loop loads it without
	// a lock.
	downs atomic.Pointer[[]*downtrack]

	mu      sync.Mutex
	closed  bool
	limiter keyframe.Limiter
	kfTimer *time.Timer
	// sendPLI asks the publisher for a keyframe. A field so benchmarks can
	// run without a PeerConnection.
	sendPLI func() error
}

// downtrack is one subscriber's copy of a forwarded track.
type downtrack struct {
	sub    *Peer
	fwd    *forwarder
	local  *webrtc.TrackLocalStaticRTP
	sender *webrtc.RTPSender
	// offered is set once an SFU offer carried this copy; the answer to it
	// completes the negotiation.
	offered atomic.Bool
	// negotiated is set once the answer to such an offer was applied.
	negotiated atomic.Bool
	// wantKeyframe is true until a keyframe was requested after the copy was
	// negotiated and the subscriber connected.
	wantKeyframe atomic.Bool
}

func newForwarder(pub *Peer, track *webrtc.TrackRemote, receiver *webrtc.RTPReceiver) *forwarder {
	f := &forwarder{
		pub:      pub,
		track:    track,
		receiver: receiver,
		codec:    track.Codec().RTPCodecCapability,
		trackID:  track.ID(),
		streamID: pub.id,
		ssrc:     uint32(track.SSRC()),
		video:    track.Kind() == webrtc.RTPCodecTypeVideo,
		m:        &pub.s.m,
		log:      pub.log.With("track", track.ID(), "kind", track.Kind().String()),
	}
	f.limiter.Interval = pub.s.cfg.KeyframeInterval
	f.sendPLI = func() error {
		return pub.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: f.ssrc}})
	}
	return f
}

// readRTP is the forwarding loop. It reads each packet into one buffer that
// lives as long as the track and never allocates per packet. It returns when
// the publisher stops the track or leaves.
func (f *forwarder) readRTP() {
	defer f.stop()
	buf := make([]byte, receiveBufferSize)
	var pkt rtp.Packet
	for {
		n, _, err := f.track.Read(buf)
		if err != nil {
			f.log.Debug("track ended", "err", err)
			return
		}
		f.forward(buf[:n], &pkt)
	}
}

// readRTCP drains RTCP for the publisher's track (sender reports), which
// Pion's interceptors process as it is read.
func (f *forwarder) readRTCP() {
	buf := make([]byte, receiveBufferSize)
	for {
		if _, _, err := f.receiver.Read(buf); err != nil {
			return
		}
	}
}

// forward parses b into pkt and writes it to every subscriber. pkt is reused
// across calls so parsing allocates nothing. Header extensions are removed,
// because their IDs were negotiated with the publisher and mean something
// else, or nothing, to each subscriber, so subscribers get packets without
// any. Pion's TrackLocalStaticRTP copies the header before it rewrites SSRC and
// payload type per subscriber, so the writes leave pkt unchanged.
func (f *forwarder) forward(b []byte, pkt *rtp.Packet) {
	if err := pkt.Unmarshal(b); err != nil {
		f.m.malformed.Add(1)
		return
	}
	pkt.Header.Extension = false
	pkt.Header.ExtensionProfile = 0
	pkt.Header.Extensions = pkt.Header.Extensions[:0]

	downs := f.downs.Load()
	if downs == nil {
		return
	}
	size := uint64(pkt.MarshalSize())
	var sent uint64
	for _, d := range *downs {
		if err := d.local.WriteRTP(pkt); err == nil {
			sent++
		}
	}
	f.m.forwardedPackets.Add(sent)
	f.m.forwardedBytes.Add(sent * size)
}

// addDown adds d to the subscribers. It returns false when f has stopped.
func (f *forwarder) addDown(d *downtrack) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return false
	}
	var next []*downtrack
	if cur := f.downs.Load(); cur != nil {
		next = append(next, *cur...)
	}
	next = append(next, d)
	f.downs.Store(&next)
	f.m.subscriptions.Add(1)
	return true
}

func (f *forwarder) removeDown(d *downtrack) {
	f.mu.Lock()
	defer f.mu.Unlock()
	cur := f.downs.Load()
	if cur == nil {
		return
	}
	next := make([]*downtrack, 0, len(*cur))
	for _, x := range *cur {
		if x != d {
			next = append(next, x)
		}
	}
	if len(next) < len(*cur) {
		f.downs.Store(&next)
		f.m.subscriptions.Add(-1)
	}
}

func (f *forwarder) stopped() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.closed
}

// stop ends forwarding: every subscriber drops its copy and renegotiates.
// It is idempotent.
func (f *forwarder) stop() {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return
	}
	f.closed = true
	var downs []*downtrack
	if cur := f.downs.Swap(nil); cur != nil {
		downs = *cur
		f.m.subscriptions.Add(-int64(len(downs)))
	}
	if f.kfTimer != nil {
		f.kfTimer.Stop()
		f.kfTimer = nil
	}
	f.mu.Unlock()

	f.pub.room.removeForwarder(f)
	f.pub.unpublish(f)
	for _, d := range downs {
		d.sub.unsubscribe(f)
	}
	f.log.Info("track removed", "subscribers", len(downs))
}

// requestKeyframe asks the publisher for a keyframe, subject to the per-track
// rate limit: a request inside the interval is folded into one trailing
// request at the end of it.
func (f *forwarder) requestKeyframe() {
	if !f.video {
		return
	}
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return
	}
	d := f.limiter.Request(time.Now())
	if d.RetryAfter > 0 && f.kfTimer == nil {
		f.kfTimer = time.AfterFunc(d.RetryAfter, f.flushKeyframe)
	}
	f.mu.Unlock()
	if d.Send {
		f.writePLI()
	} else {
		f.m.keyframeFolded.Add(1)
	}
}

func (f *forwarder) flushKeyframe() {
	f.mu.Lock()
	f.kfTimer = nil
	if f.closed {
		f.mu.Unlock()
		return
	}
	d := f.limiter.Flush(time.Now())
	if d.RetryAfter > 0 {
		f.kfTimer = time.AfterFunc(d.RetryAfter, f.flushKeyframe)
	}
	f.mu.Unlock()
	if d.Send {
		f.writePLI()
	}
}

func (f *forwarder) writePLI() {
	if err := f.sendPLI(); err != nil {
		f.log.Debug("keyframe request failed", "err", err)
		return
	}
	f.m.keyframeRequests.Add(1)
}

// readRTCP reads the subscriber's RTCP for this copy. Picture loss (PLI or
// FIR) becomes a keyframe request to the publisher. Pion's NACK responder
// retransmits NACKed packets from its send buffer, so NACKs are only counted
// here.
func (d *downtrack) readRTCP() {
	for {
		pkts, _, err := d.sender.ReadRTCP()
		if err != nil {
			return
		}
		for _, pkt := range pkts {
			switch pkt.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				d.fwd.m.picturesLost.Add(1)
				d.fwd.requestKeyframe()
			case *rtcp.TransportLayerNack:
				d.fwd.m.nacks.Add(1)
			}
		}
	}
}
