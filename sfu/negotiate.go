package sfu

import (
	"errors"
	"fmt"
	"time"

	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// HandleOffer applies a client offer and returns the SFU's answer. It serves
// the first offer, client renegotiation (tracks added or removed) and ICE
// restart (an offer with new ICE credentials, from createOffer with
// iceRestart). The answer carries the SFU's candidates.
//
// An offer from another client PeerConnection than the one negotiated (its
// DTLS fingerprint differs) gets ErrNewSession and changes nothing: the
// caller joins the participant again, which replaces this Peer, and hands
// the offer to the new Peer.
//
// Glare: an offer that crosses an SFU offer still waiting for its answer gets
// ErrOfferCollision and changes nothing. The SFU is the impolite side of the
// "perfect negotiation" pattern because Pion (v4.2.26) cannot roll back a
// local offer. The SFU's offer reached the signaling queue before this call,
// so the client sees it first; the client, as the polite side, rolls its own
// offer back (a browser does so implicitly in setRemoteDescription), answers
// the SFU, and offers again. A Go client that applies its offer locally only
// once the answer arrives has nothing to roll back.
//
// The caller must queue the returned answer for the client before any
// SendOffer that follows the call can be delivered: queue it as soon as
// HandleOffer returns, or reserve its queue slot before calling. The SFU
// waits NegotiationDelay after HandleOffer before it offers.
func (p *Peer) HandleOffer(offerSDP string) (string, error) {
	if len(offerSDP) > MaxSDPBytes {
		return "", fmt.Errorf("handle offer of %d bytes: %w", len(offerSDP), ErrSDPTooLarge)
	}
	sd, err := parseSDP(offerSDP)
	if err != nil {
		return "", fmt.Errorf("handle offer: %w: %v", ErrInvalidSDP, err)
	}
	sending := countSendingMedia(sd)
	if sending > p.s.cfg.MaxTracksPerParticipant {
		return "", fmt.Errorf("handle offer with %d tracks, participant maximum %d: %w",
			sending, p.s.cfg.MaxTracksPerParticipant, ErrTooManyTracks)
	}
	if others := p.room.trackCount(p); others+sending > p.s.cfg.MaxTracksPerRoom {
		return "", fmt.Errorf("handle offer with %d tracks, %d already in room, room maximum %d: %w",
			sending, others, p.s.cfg.MaxTracksPerRoom, ErrTooManyTracks)
	}

	p.negMu.Lock()
	var answer string
	if len(sd.MediaDescriptions) == 0 {
		answer, err = p.answerEmptyLocked(sd)
	} else {
		answer, err = p.answerLocked(offerSDP, sd)
	}
	first := err == nil && !p.answered
	if err == nil {
		p.answered = true
	}
	p.negMu.Unlock()
	if err != nil {
		return "", err
	}

	if first {
		for _, f := range p.room.markSubscribable(p) {
			p.subscribe(f)
		}
	}
	p.resumeNegotiation()
	return answer, nil
}

func (p *Peer) answerLocked(offerSDP string, sd *sdp.SessionDescription) (string, error) {
	if p.isClosed() {
		return "", fmt.Errorf("handle offer: %w", ErrClosed)
	}
	// A new PeerConnection is reported before glare: its client has no use
	// for the pending SFU offer, which belongs to the old session.
	if err := p.checkSameSessionLocked(sd); err != nil {
		return "", fmt.Errorf("handle offer: %w", err)
	}
	if p.pc.SignalingState() == webrtc.SignalingStateHaveLocalOffer {
		p.s.m.glare.Add(1)
		p.log.Debug("client offer crossed a pending SFU offer")
		return "", fmt.Errorf("handle offer: %w", ErrOfferCollision)
	}

	offer := webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offerSDP}
	if err := p.pc.SetRemoteDescription(offer); err != nil {
		return "", fmt.Errorf("handle offer: %w: %v", ErrInvalidSDP, err)
	}
	p.rememberSessionLocked(sd)
	p.flushCandidatesLocked()

	answer, err := p.pc.CreateAnswer(nil)
	if err != nil {
		return "", fmt.Errorf("handle offer: create answer: %w", err)
	}
	if err := p.setLocalLocked(answer); err != nil {
		return "", fmt.Errorf("handle offer: %w", err)
	}
	return p.pc.LocalDescription().SDP, nil
}

// answerEmptyLocked answers an offer without media sections. Pion rejects
// such an offer because it has no ICE credentials, and there is nothing to
// negotiate, so the SFU answers with a session-level description and leaves
// the PeerConnection untouched. Its first own offer then sets up ICE and
// DTLS.
func (p *Peer) answerEmptyLocked(offer *sdp.SessionDescription) (string, error) {
	if p.isClosed() {
		return "", fmt.Errorf("handle offer: %w", ErrClosed)
	}
	if p.pc.SignalingState() != webrtc.SignalingStateStable {
		return "", fmt.Errorf("handle offer without media in state %s: %w",
			p.pc.SignalingState(), ErrInvalidSDP)
	}
	answer := sdp.SessionDescription{
		Origin: sdp.Origin{
			Username:       "-",
			SessionID:      offer.Origin.SessionID,
			SessionVersion: offer.Origin.SessionVersion,
			NetworkType:    "IN",
			AddressType:    "IP4",
			UnicastAddress: "0.0.0.0",
		},
		SessionName:      "-",
		TimeDescriptions: []sdp.TimeDescription{{}},
	}
	raw, err := answer.Marshal()
	if err != nil {
		return "", fmt.Errorf("handle offer without media: %w", err)
	}
	return string(raw), nil
}

// setLocalLocked applies a local description and waits (bounded) until the
// candidates are gathered, so the SDP carries them.
func (p *Peer) setLocalLocked(desc webrtc.SessionDescription) error {
	p.setDescribing(true)
	defer p.setDescribing(false)
	gathered := webrtc.GatheringCompletePromise(p.pc)
	if err := p.pc.SetLocalDescription(desc); err != nil {
		return fmt.Errorf("set local %s: %w", desc.Type, err)
	}
	timer := time.NewTimer(gatherTimeout)
	defer timer.Stop()
	select {
	case <-gathered:
	case <-timer.C:
		p.log.Warn("candidate gathering timed out, sending the description without all candidates",
			"timeout", gatherTimeout.String())
	}
	return nil
}

func (p *Peer) setDescribing(on bool) {
	p.mu.Lock()
	p.describing = on
	p.mu.Unlock()
}

// HandleAnswer applies the client's answer to the SFU's last offer. An
// answer from another client PeerConnection than the one negotiated gets
// ErrNewSession and changes nothing.
func (p *Peer) HandleAnswer(answerSDP string) error {
	if len(answerSDP) > MaxSDPBytes {
		return fmt.Errorf("handle answer of %d bytes: %w", len(answerSDP), ErrSDPTooLarge)
	}
	p.negMu.Lock()
	err := p.applyAnswerLocked(answerSDP)
	if err == nil {
		p.markNegotiated()
		p.mu.Lock()
		stopTimer(&p.answerTimer)
		p.mu.Unlock()
	}
	p.negMu.Unlock()
	if err != nil {
		return err
	}
	p.requestKeyframes()
	p.resumeNegotiation()
	return nil
}

func (p *Peer) applyAnswerLocked(answerSDP string) error {
	if p.isClosed() {
		return fmt.Errorf("handle answer: %w", ErrClosed)
	}
	if p.pc.SignalingState() != webrtc.SignalingStateHaveLocalOffer {
		return fmt.Errorf("handle answer in state %s: %w", p.pc.SignalingState(), ErrNoPendingOffer)
	}
	sd, err := parseSDP(answerSDP)
	if err != nil {
		return fmt.Errorf("handle answer: %w: %v", ErrInvalidSDP, err)
	}
	if err := p.checkSameSessionLocked(sd); err != nil {
		return fmt.Errorf("handle answer: %w", err)
	}
	answer := webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answerSDP}
	if err := p.pc.SetRemoteDescription(answer); err != nil {
		return fmt.Errorf("handle answer: %w: %v", ErrInvalidSDP, err)
	}
	p.rememberSessionLocked(sd)
	p.flushCandidatesLocked()
	return nil
}

// AddICECandidate adds a client candidate. A candidate that arrives before
// the first offer is buffered and added once the offer is applied.
func (p *Peer) AddICECandidate(c webrtc.ICECandidateInit) error {
	if len(c.Candidate) > maxCandidateBytes {
		return fmt.Errorf("add candidate of %d bytes: %w", len(c.Candidate), ErrInvalidCandidate)
	}
	p.negMu.Lock()
	defer p.negMu.Unlock()
	if p.isClosed() {
		return fmt.Errorf("add candidate: %w", ErrClosed)
	}
	if p.pc.RemoteDescription() == nil {
		if len(p.candidates) >= maxBufferedCandidates {
			return fmt.Errorf("add candidate: %w (maximum %d)", ErrTooManyCandidates, maxBufferedCandidates)
		}
		p.candidates = append(p.candidates, c)
		return nil
	}
	if err := p.pc.AddICECandidate(c); err != nil {
		return fmt.Errorf("add candidate: %w: %v", ErrInvalidCandidate, err)
	}
	return nil
}

func (p *Peer) flushCandidatesLocked() {
	for _, c := range p.candidates {
		if err := p.pc.AddICECandidate(c); err != nil {
			p.log.Warn("buffered candidate rejected", "err", err)
		}
	}
	p.candidates = nil
}

// scheduleNegotiation marks that the SFU must offer and arms the timer that
// gathers further changes for NegotiationDelay.
func (p *Peer) scheduleNegotiation() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.negPending = true
	p.armNegotiationLocked()
}

// resumeNegotiation arms the timer for a negotiation that had to wait for a
// client offer or answer.
func (p *Peer) resumeNegotiation() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.negPending {
		p.armNegotiationLocked()
	}
}

func (p *Peer) armNegotiationLocked() {
	if p.closed || p.negTimer != nil {
		return
	}
	p.negTimer = time.AfterFunc(p.s.cfg.NegotiationDelay, p.negotiate)
}

// negotiate sends an SFU offer when one is pending and the signaling state
// allows it. Otherwise the offer waits for HandleOffer or HandleAnswer, which
// call resumeNegotiation.
func (p *Peer) negotiate() {
	p.mu.Lock()
	p.negTimer = nil
	if p.closed || !p.negPending {
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()

	p.negMu.Lock()
	defer p.negMu.Unlock()
	if !p.answered || p.pc.SignalingState() != webrtc.SignalingStateStable || p.isClosed() {
		return
	}
	p.mu.Lock()
	p.negPending = false
	p.mu.Unlock()

	p.markOffered()
	offer, err := p.pc.CreateOffer(nil)
	if err == nil {
		err = p.setLocalLocked(offer)
	}
	if err != nil {
		if !errors.Is(err, webrtc.ErrConnectionClosed) {
			p.log.Error("renegotiation offer failed", "err", err)
		}
		return
	}
	p.mu.Lock()
	if !p.closed {
		stopTimer(&p.answerTimer)
		p.offerSeq++
		seq := p.offerSeq
		p.answerTimer = time.AfterFunc(p.s.cfg.AnswerTimeout, func() { p.onAnswerTimeout(seq) })
	}
	p.mu.Unlock()
	p.sig.SendOffer(p.pc.LocalDescription().SDP)
}

// onAnswerTimeout drops a peer whose client left SFU offer seq unanswered.
func (p *Peer) onAnswerTimeout(seq uint64) {
	p.negMu.Lock()
	waiting := p.pc.SignalingState() == webrtc.SignalingStateHaveLocalOffer
	p.negMu.Unlock()
	p.mu.Lock()
	current := seq == p.offerSeq
	p.mu.Unlock()
	if waiting && current {
		p.closeWith(ErrAnswerTimeout)
	}
}

// countSendingMedia counts the audio and video sections in which the offerer
// sends (sendrecv, sendonly, or no direction attribute, which means
// sendrecv). A section with port 0 is rejected and not counted.
func countSendingMedia(sd *sdp.SessionDescription) int {
	n := 0
	for _, md := range sd.MediaDescriptions {
		if md.MediaName.Media != "audio" && md.MediaName.Media != "video" {
			continue
		}
		if md.MediaName.Port.Value == 0 {
			continue
		}
		if dir := mediaDirection(md, sd.Attributes); dir == "sendrecv" || dir == "sendonly" {
			n++
		}
	}
	return n
}

func parseSDP(raw string) (*sdp.SessionDescription, error) {
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(raw); err != nil {
		return nil, err
	}
	return &sd, nil
}

// mediaDirection returns the section's direction attribute, else the
// session-level one, else "sendrecv" (RFC 8866, section 6.7).
func mediaDirection(md *sdp.MediaDescription, session []sdp.Attribute) string {
	for _, attrs := range [][]sdp.Attribute{md.Attributes, session} {
		for _, a := range attrs {
			switch a.Key {
			case "sendrecv", "sendonly", "recvonly", "inactive":
				return a.Key
			}
		}
	}
	return "sendrecv"
}
