package signaling

import (
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/pion/webrtc/v4"
)

// mediaSlot holds a participant's SFU peer. mu is held across Media.Join
// and every MediaPeer call, so the SFU receives one call at a time per peer, in
// the order the client sent its messages. The peer outlives a dropped
// connection for the reconnect grace period.
type mediaSlot struct {
	mu   sync.Mutex
	peer MediaPeer
	// sig is the signaler of peer, nil without a peer. It is written with
	// mu held. A resume reads it with only the room lock held, because it
	// must not wait for a MediaPeer call in progress.
	sig atomic.Pointer[signaler]
}

// signaler is the MediaSignaler of one media peer. It reaches the
// participant's current connection without taking any hub lock, so the
// SFU can call it while holding its own locks.
type signaler struct {
	p        *participant
	detached atomic.Bool // the hub closed the peer, or is about to
	closed   atomic.Bool // the SFU reported the peer closed
	// offeredTo is the connection that the SFU's latest offer was queued
	// on, nil when the participant was disconnected. An offer queued on an
	// earlier connection never reached the current one.
	offeredTo atomic.Pointer[conn]
	// closedTo is the last connection told that the SFU closed the peer.
	closedTo atomic.Pointer[conn]
}

// usable reports whether the peer can serve the client's next message.
func (s *signaler) usable() bool { return !s.detached.Load() && !s.closed.Load() }

// SendOffer queues an SFU offer to the participant and records the
// connection it went to.
func (s *signaler) SendOffer(sdp string) {
	c := s.deliver(TypeOffer, OfferMessage{Header: Header{Type: TypeOffer}, SDP: sdp})
	s.offeredTo.Store(c)
}

// SendCandidate queues an SFU candidate to the participant.
func (s *signaler) SendCandidate(c webrtc.ICECandidateInit) {
	s.deliver(TypeCandidate, CandidateMessage{Header: Header{Type: TypeCandidate}, Candidate: c})
}

// Closed marks the peer closed and notifies the participant, which may send a
// new offer. While the participant is disconnected the message is dropped,
// and the joined message of its resume reports the media session as new.
func (s *signaler) Closed(reason error) {
	if s.detached.Load() {
		return
	}
	s.closed.Store(true)
	s.p.room.h.log.Info("media peer closed by the SFU",
		"consultation", s.p.room.id, "participant", s.p.id, "err", reason)
	s.noticeClosed(s.p.conn.Load())
}

// noticeClosed sends media-closed to c unless c was told already. A resume
// that kept this peer calls it too, after attaching its connection, for a
// peer the SFU closed between the decision to keep it and the attachment:
// Closed then saw no connection or the old one. Go's atomics are
// sequentially consistent, so one of the two calls sees the new connection
// and the closed flag.
func (s *signaler) noticeClosed(c *conn) {
	p := s.p
	if c == nil || s.detached.Load() || p.gone.Load() || !p.admitted.Load() {
		return
	}
	if s.closedTo.Swap(c) != c {
		c.sendJSON(TypeMediaClosed, MediaClosedMessage{Header: Header{Type: TypeMediaClosed}})
	}
}

// deliver queues a message on the participant's current connection and
// returns that connection, or nil when the message was dropped.
func (s *signaler) deliver(typ string, v any) *conn {
	p := s.p
	if s.detached.Load() || p.gone.Load() || !p.admitted.Load() {
		return nil
	}
	c := p.conn.Load()
	if c != nil {
		c.sendJSON(typ, v)
	}
	return c
}

// peerLocked returns p's media peer, joining the SFU when p has none or the
// SFU closed it. The caller must hold p.media.mu.
func (h *Hub) peerLocked(p *participant) (MediaPeer, error) {
	m := &p.media
	if p.gone.Load() || !p.admitted.Load() || p.conn.Load() == nil {
		return nil, errNotAdmitted
	}
	if m.peer != nil && m.sig.Load().usable() {
		return m.peer, nil
	}
	h.closeMediaLocked(p)

	sig := &signaler{p: p}
	peer, err := h.cfg.Media.Join(p.room.id, p.id, sig)
	if err != nil {
		h.log.Error("join media", "consultation", p.room.id, "participant", p.id, "err", err)
		return nil, errMediaFailed
	}
	m.peer = peer
	m.sig.Store(sig)
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
	m.sig.Load().detached.Store(true)
	if err := m.peer.Close(); err != nil {
		h.log.Warn("close media peer", "consultation", p.room.id, "participant", p.id, "err", err)
	}
	m.peer = nil
	m.sig.Store(nil)
}

// resumeMediaLocked decides whether p's media session survives a resume.
// It returns the signaler of the kept peer, or nil for a new session. The
// session survives when the SFU peer is still open and the client did not
// ask for a new one. Otherwise the peer is detached at once, so none of its
// messages reach the new connection, and the caller must call closeMedia
// after unlocking the room. The caller holds p.room.mu but not
// p.media.mu.
func (p *participant) resumeMediaLocked(wantNew bool) *signaler {
	sig := p.media.sig.Load()
	if sig == nil {
		return nil
	}
	if wantNew || !sig.usable() {
		sig.detached.Store(true)
		return nil
	}
	return sig
}

// withMedia runs fn for c's participant, which must be admitted, while
// holding its media lock.
func (c *conn) withMedia(fn func(*participant) error) error {
	p := c.part.Load()
	if p == nil {
		return errNotJoined
	}
	if !p.admitted.Load() {
		return errNotAdmitted
	}
	p.media.mu.Lock()
	defer p.media.mu.Unlock()
	return fn(p)
}

// withPeer runs fn with the media peer of c's participant, which must be
// admitted, while holding its media lock.
func (c *conn) withPeer(fn func(MediaPeer) error) error {
	return c.withMedia(func(p *participant) error {
		peer, err := c.h.peerLocked(p)
		if err != nil {
			return err
		}
		return fn(peer)
	})
}

// handleOffer passes a client offer to the SFU and returns its answer.
func (c *conn) handleOffer(m *OfferMessage) error {
	return c.withMedia(func(p *participant) error {
		answer, err := c.offerLocked(p, m.SDP)
		if err != nil {
			return err
		}
		c.sendJSON(TypeAnswer, AnswerMessage{Header: Header{Type: TypeAnswer, ID: m.ID}, SDP: answer})
		return nil
	})
}

// offerLocked hands a client offer to p's media peer and returns the SFU's
// answer. An offer from a new client RTCPeerConnection gets a new peer, once:
// older clients start one after every reconnect. When the offer fails
// while the SFU's latest offer went to an earlier connection, which is how
// an offer lost in a reconnect shows (the offers cross), the SFU sends it
// again before the error reply. The caller holds p.media.mu.
func (c *conn) offerLocked(p *participant, sdp string) (string, error) {
	peer, err := c.h.peerLocked(p)
	if err != nil {
		return "", err
	}
	answer, err := peer.HandleOffer(sdp)
	switch {
	case err == nil:
		return answer, nil
	case errors.Is(err, ErrNewMediaSession):
		c.h.logClient(c.logger(), slog.LevelInfo, "client started a new media session: replacing its media peer",
			"consultation", p.room.id, "participant", p.id)
		c.h.closeMediaLocked(p)
		if peer, err = c.h.peerLocked(p); err != nil {
			return "", err
		}
		if answer, err = peer.HandleOffer(sdp); err == nil {
			return answer, nil
		}
	case p.media.sig.Load().offeredTo.Load() != c:
		if peer.ResendOffer() {
			c.logger().Debug("SFU offer lost in a reconnect sent again",
				"consultation", p.room.id, "participant", p.id)
		}
	}
	c.h.logClient(c.logger(), slog.LevelWarn, "media rejected offer", "err", err)
	return "", errMediaFailed
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
