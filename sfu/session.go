package sfu

import (
	"fmt"
	"strings"
	"time"

	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// ResendOffer sends the SFU offer that waits for the client's answer again,
// through the Signaler, and restarts its AnswerTimeout. The hub calls it
// when the client may have missed the offer: after its signaling connection
// dropped and resumed, the offer sent meanwhile was lost. It reports whether
// an offer was waiting. A client must answer the repeated offer even if it
// applied the same offer before, because its earlier answer did not arrive.
func (p *Peer) ResendOffer() bool {
	p.negMu.Lock()
	defer p.negMu.Unlock()
	if p.isClosed() || p.pc.SignalingState() != webrtc.SignalingStateHaveLocalOffer {
		return false
	}
	offer := p.pc.LocalDescription()
	if offer == nil {
		return false
	}

	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return false
	}
	stopTimer(&p.answerTimer)
	p.offerSeq++
	seq := p.offerSeq
	p.answerTimer = time.AfterFunc(p.s.cfg.AnswerTimeout, func() { p.onAnswerTimeout(seq) })
	p.mu.Unlock()

	p.log.Debug("SFU offer sent again")
	p.sig.SendOffer(offer.SDP)
	return true
}

// checkSameSessionLocked returns ErrNewSession when desc carries another
// DTLS fingerprint than the client's descriptions applied so far. A
// PeerConnection keeps its certificate for its whole life, so a changed
// fingerprint means the client started a new PeerConnection. Pion would
// apply such a description and restart ICE, but the DTLS association would
// stay bound to the old certificate and media would never flow. The caller
// must hold negMu.
func (p *Peer) checkSameSessionLocked(desc *sdp.SessionDescription) error {
	now := dtlsFingerprint(desc)
	if p.fingerprint == "" || now == "" || strings.EqualFold(p.fingerprint, now) {
		return nil
	}
	return fmt.Errorf("DTLS fingerprint changed: %w", ErrNewSession)
}

// rememberSessionLocked records the fingerprint of a client description
// that was applied. The caller must hold negMu.
func (p *Peer) rememberSessionLocked(desc *sdp.SessionDescription) {
	if f := dtlsFingerprint(desc); f != "" {
		p.fingerprint = f
	}
}

// dtlsFingerprint returns the value of the session-level fingerprint
// attribute (RFC 8122), else that of the first media section with one, or
// "" when there is none. A PeerConnection uses one certificate for all its
// sections, so the first one found identifies it.
func dtlsFingerprint(desc *sdp.SessionDescription) string {
	if v, ok := desc.Attribute("fingerprint"); ok {
		return strings.TrimSpace(v)
	}
	for _, md := range desc.MediaDescriptions {
		if v, ok := md.Attribute("fingerprint"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
