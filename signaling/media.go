package signaling

import (
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/pion/webrtc/v4"
)

// mediaSlot holds a participant's SFU peer. mu is held across Media.Join
// and every MediaPeer call, so the SFU receives one call at a time per peer, in
// the order the client sent its messages.
type mediaSlot struct {
	mu   sync.Mutex
	peer MediaPeer
	sig  *signaler
}

// signaler is the MediaSignaler of one media peer. It reaches the
// participant's current connection without taking any hub lock, so the
// SFU can call it while holding its own locks.
type signaler struct {
	p        *participant
	detached atomic.Bool // the peer was closed by the hub
	closed   atomic.Bool // the SFU reported the peer closed
}

// SendOffer queues an SFU offer to the participant.
func (s *signaler) SendOffer(sdp string) {
	s.deliver(TypeOffer, OfferMessage{Header: Header{Type: TypeOffer}, SDP: sdp})
}

// SendCandidate queues an SFU candidate to the participant.
func (s *signaler) SendCandidate(c webrtc.ICECandidateInit) {
	s.deliver(TypeCandidate, CandidateMessage{Header: Header{Type: TypeCandidate}, Candidate: c})
}

// Closed marks the peer closed and notifies the participant, which may send a
// new offer.
func (s *signaler) Closed(reason error) {
	if s.detached.Load() {
		return
	}
	s.closed.Store(true)
	s.p.room.h.log.Info("media peer closed by the SFU",
		"consultation", s.p.room.id, "participant", s.p.id, "err", reason)
	s.deliver(TypeMediaClosed, MediaClosedMessage{Header: Header{Type: TypeMediaClosed}})
}

func (s *signaler) deliver(typ string, v any) {
	p := s.p
	if s.detached.Load() || p.gone.Load() || !p.admitted.Load() {
		return
	}
	if c := p.conn.Load(); c != nil {
		c.sendJSON(typ, v)
	}
}

// peerLocked returns p's media peer, joining the SFU when p has none or the
// SFU closed it. The caller must hold p.media.mu.
func (h *Hub) peerLocked(p *participant) (MediaPeer, error) {
	m := &p.media
	if p.gone.Load() || !p.admitted.Load() || p.conn.Load() == nil {
		return nil, errNotAdmitted
	}
	if m.peer != nil && !m.sig.closed.Load() {
		return m.peer, nil
	}
	h.closeMediaLocked(p)

	sig := &signaler{p: p}
	peer, err := h.cfg.Media.Join(p.room.id, p.id, sig)
	if err != nil {
		h.log.Error("join media", "consultation", p.room.id, "participant", p.id, "err", err)
		return nil, errMediaFailed
	}
	m.peer, m.sig = peer, sig
	return peer, nil
}

// closeMedia closes p's media peer, if any.
func (h *Hub) closeMedia(p *participant) {
	p.media.mu.Lock()
	defer p.media.mu.Unlock()
	h.closeMediaLocked(p)
}

func (h *Hub) closeMediaLocked(p *participant) {
	m := &p.media
	if m.peer == nil {
		return
	}
	m.sig.detached.Store(true)
	if err := m.peer.Close(); err != nil {
		h.log.Warn("close media peer", "consultation", p.room.id, "participant", p.id, "err", err)
	}
	m.peer, m.sig = nil, nil
}

// withPeer runs fn with the media peer of c's participant, which must
// be admitted, while holding its media lock.
func (c *conn) withPeer(fn func(MediaPeer) error) error {
	p := c.part.Load()
	if p == nil {
		return errNotJoined
	}
	if !p.admitted.Load() {
		return errNotAdmitted
	}
	p.media.mu.Lock()
	defer p.media.mu.Unlock()
	peer, err := c.h.peerLocked(p)
	if err != nil {
		return err
	}
	return fn(peer)
}

// handleOffer passes a client offer to the SFU and returns its answer.
func (c *conn) handleOffer(m *OfferMessage) error {
	return c.withPeer(func(peer MediaPeer) error {
		answer, err := peer.HandleOffer(m.SDP)
		if err != nil {
			c.h.logClient(c.logger(), slog.LevelWarn, "media rejected offer", "err", err)
			return errMediaFailed
		}
		c.sendJSON(TypeAnswer, AnswerMessage{Header: Header{Type: TypeAnswer, ID: m.ID}, SDP: answer})
		return nil
	})
}

// handleAnswer passes the client's answer to an SFU offer.
func (c *conn) handleAnswer(m *AnswerMessage) error {
	return c.withPeer(func(peer MediaPeer) error {
		if err := peer.HandleAnswer(m.SDP); err != nil {
			c.h.logClient(c.logger(), slog.LevelWarn, "media rejected answer", "err", err)
			return errMediaFailed
		}
		c.ack(m.Header)
		return nil
	})
}

// handleCandidate passes a client candidate to the SFU, which buffers one
// that arrives before its session description.
func (c *conn) handleCandidate(m *CandidateMessage) error {
	return c.withPeer(func(peer MediaPeer) error {
		if err := peer.AddICECandidate(m.Candidate); err != nil {
			c.h.logClient(c.logger(), slog.LevelWarn, "media rejected candidate", "err", err)
			return errMediaFailed
		}
		c.ack(m.Header)
		return nil
	})
}
