package sfu

import (
	"github.com/pion/webrtc/v4"
)

// subscribe adds a copy of f to p's PeerConnection and schedules a
// renegotiation. A second call for the same f does nothing.
func (p *Peer) subscribe(f *forwarder) {
	d := &downtrack{sub: p, fwd: f}
	d.wantKeyframe.Store(true)
	p.mu.Lock()
	if p.closed || p.subscribed[f] != nil {
		p.mu.Unlock()
		return
	}
	p.subscribed[f] = d
	p.mu.Unlock()

	local, err := webrtc.NewTrackLocalStaticRTP(f.codec, f.trackID, f.streamID)
	var sender *webrtc.RTPSender
	if err == nil {
		p.negMu.Lock()
		sender, err = p.pc.AddTrack(local)
		p.negMu.Unlock()
	}
	p.mu.Lock()
	d.local, d.sender = local, sender
	current := p.subscribed[f] == d && !p.closed
	if err != nil && current {
		delete(p.subscribed, f)
	}
	p.mu.Unlock()

	switch {
	case err != nil:
		if !p.isClosed() {
			p.log.Warn("subscribe failed", "track", f.trackID, "publisher", f.streamID, "err", err)
		}
	case !current:
		// Unsubscribed or closed while the track was being added.
		p.removeSender(sender)
	case !f.addDown(d):
		// The track ended while it was being added.
		p.unsubscribe(f)
	default:
		p.s.spawn(d.readRTCP)
		p.scheduleNegotiation()
	}
}

// unsubscribe removes p's copy of f and schedules a renegotiation, after
// which the client sees the track's transceiver stop.
func (p *Peer) unsubscribe(f *forwarder) {
	p.mu.Lock()
	d := p.subscribed[f]
	if d == nil {
		p.mu.Unlock()
		return
	}
	delete(p.subscribed, f)
	sender := d.sender
	p.mu.Unlock()
	if sender == nil {
		// subscribe is still adding the track and removes it when done.
		return
	}
	f.removeDown(d)
	p.removeSender(sender)
}

func (p *Peer) removeSender(sender *webrtc.RTPSender) {
	if sender == nil || p.isClosed() {
		return
	}
	p.negMu.Lock()
	err := p.pc.RemoveTrack(sender)
	p.negMu.Unlock()
	if err != nil && !p.isClosed() {
		p.log.Warn("remove track failed", "err", err)
	}
	p.scheduleNegotiation()
}

// markOffered records that the SFU offer being sent carries every current
// copy, so the next answer completes their negotiation.
func (p *Peer) markOffered() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, d := range p.subscribed {
		if d.sender != nil {
			d.offered.Store(true)
		}
	}
}

// markNegotiated records that the answer to the SFU's offer was applied, so
// every copy that offer carried is now negotiated.
func (p *Peer) markNegotiated() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, d := range p.subscribed {
		if d.offered.Load() {
			d.negotiated.Store(true)
		}
	}
}

// requestKeyframes asks publishers for a keyframe for each copy whose
// negotiation has completed since the last call, once p is connected. A new
// subscriber thus gets a picture without waiting for the publisher's next
// periodic keyframe. Call it after an answer to an SFU offer is applied and
// when the connection comes up.
func (p *Peer) requestKeyframes() {
	p.mu.Lock()
	if !p.connected || p.closed {
		p.mu.Unlock()
		return
	}
	var fwds []*forwarder
	for f, d := range p.subscribed {
		if d.negotiated.Load() && d.wantKeyframe.CompareAndSwap(true, false) {
			fwds = append(fwds, f)
		}
	}
	p.mu.Unlock()
	for _, f := range fwds {
		f.requestKeyframe()
	}
}
