package sfu

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"
)

// Signaler carries server-to-client signaling for one participant. The SFU
// calls it from its own goroutines; implementations must not block (queue
// and return). Messages must reach the client in call order, and an answer
// returned by Peer.HandleOffer must be queued before any later SendOffer is
// delivered (see Peer.HandleOffer).
type Signaler interface {
	// SendOffer carries a server-initiated (re)negotiation offer. The client
	// answers through Peer.HandleAnswer.
	SendOffer(sdp string)
	// SendCandidate carries a server ICE candidate (trickle) gathered after
	// the SDP it belongs to was produced. Every SDP the SFU produces already
	// holds the candidates gathered until then (with the UDP mux, all of
	// them), so this is rarely called.
	SendCandidate(c webrtc.ICECandidateInit)
	// Closed reports that the SFU dropped this peer (ICE failed, timeout,
	// replaced, SFU shutdown). It is not called after Peer.Close.
	Closed(reason error)
}

// Peer is one participant's PeerConnection to the SFU. Its methods are safe
// for concurrent use.
type Peer struct {
	s    *SFU
	room *room
	id   string
	sig  Signaler
	log  *slog.Logger
	pc   *webrtc.PeerConnection

	// subscribable is set once the first client offer is answered; the room
	// then forwards other participants' tracks to this peer. Guarded by
	// room.mu.
	subscribable bool

	// negMu serializes description, transceiver and candidate operations
	// on pc, so an SFU offer never interleaves with a client offer.
	negMu sync.Mutex
	// answered is set once a client offer was answered.
	answered bool
	// fingerprint is the DTLS fingerprint of the client's descriptions
	// applied so far; a description with another one comes from a new
	// client PeerConnection.
	fingerprint string
	// candidates buffers client candidates that arrive before the first
	// remote description.
	candidates []webrtc.ICECandidateInit

	mu     sync.Mutex
	closed bool
	// describing is set while a local description is being produced: the
	// candidates gathered meanwhile go into its SDP, not to SendCandidate,
	// so a client never gets a candidate before the description it belongs
	// to.
	describing   bool
	connected    bool
	negPending   bool
	negTimer     *time.Timer
	answerTimer  *time.Timer
	offerSeq     uint64 // numbers SFU offers, so a stale answer timer does nothing
	connectTimer *time.Timer
	published    map[*forwarder]struct{}
	subscribed   map[*forwarder]*downtrack
}

func newPeer(s *SFU, r *room, participantID string, sig Signaler) (*Peer, error) {
	pc, err := s.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, fmt.Errorf("sfu: create peer connection: %w", err)
	}
	p := &Peer{
		s:          s,
		room:       r,
		id:         participantID,
		sig:        sig,
		log:        s.log.With("room", r.id, "participant", participantID),
		pc:         pc,
		published:  make(map[*forwarder]struct{}),
		subscribed: make(map[*forwarder]*downtrack),
	}
	pc.OnICECandidate(p.onICECandidate)
	pc.OnTrack(p.onTrack)
	pc.OnConnectionStateChange(p.onConnectionState)
	p.mu.Lock()
	p.connectTimer = time.AfterFunc(s.cfg.ConnectTimeout, p.onConnectTimeout)
	p.mu.Unlock()
	s.m.peers.Add(1)
	return p, nil
}

// ID returns the participant ID.
func (p *Peer) ID() string { return p.id }

// Close drops the peer without calling Signaler.Closed: for a participant
// who leaves or whose signaling connection ends. Its tracks are removed from
// the other participants, and the room is released when it is empty.
func (p *Peer) Close() error {
	p.closeWith(nil)
	return nil
}

// closeWith tears the peer down once. A non-nil reason goes to
// Signaler.Closed.
func (p *Peer) closeWith(reason error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	stopTimer(&p.negTimer)
	stopTimer(&p.answerTimer)
	stopTimer(&p.connectTimer)
	published := make([]*forwarder, 0, len(p.published))
	for f := range p.published {
		published = append(published, f)
	}
	subscribed := p.subscribed
	p.subscribed = make(map[*forwarder]*downtrack)
	p.mu.Unlock()

	p.room.release(p.id, p)
	for _, f := range published {
		f.stop()
	}
	for f, d := range subscribed {
		f.removeDown(d)
	}
	if err := p.pc.Close(); err != nil {
		p.log.Debug("close peer connection", "err", err)
	}
	p.s.m.peers.Add(-1)
	if reason != nil {
		p.log.Info("participant dropped", "reason", reason.Error())
		p.sig.Closed(reason)
	} else {
		p.log.Info("participant left")
	}
}

func stopTimer(t **time.Timer) {
	if *t != nil {
		(*t).Stop()
		*t = nil
	}
}

func (p *Peer) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

func (p *Peer) onICECandidate(c *webrtc.ICECandidate) {
	p.mu.Lock()
	skip := c == nil || p.closed || p.describing
	p.mu.Unlock()
	if skip {
		return
	}
	p.sig.SendCandidate(c.ToJSON())
}

func (p *Peer) onConnectionState(state webrtc.PeerConnectionState) {
	p.log.Debug("connection state", "state", state.String())
	switch state {
	case webrtc.PeerConnectionStateConnected:
		p.mu.Lock()
		p.connected = true
		stopTimer(&p.connectTimer)
		p.mu.Unlock()
		p.requestKeyframes()
	case webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed:
		// Not inline: closeWith closes the PeerConnection, whose callbacks
		// must not wait for themselves. Once the SFU is closing, spawn
		// refuses and SFU.Close drops the peer instead.
		p.s.spawn(func() { p.closeWith(ErrConnectionLost) })
	}
}

func (p *Peer) onConnectTimeout() {
	p.mu.Lock()
	connected := p.connected
	p.mu.Unlock()
	if !connected {
		p.closeWith(ErrConnectTimeout)
	}
}

// onTrack starts forwarding a track the participant publishes.
func (p *Peer) onTrack(track *webrtc.TrackRemote, receiver *webrtc.RTPReceiver) {
	log := p.log.With("track", track.ID(), "kind", track.Kind().String(), "codec", track.Codec().MimeType)
	f := newForwarder(p, track, receiver)

	p.mu.Lock()
	switch {
	case p.closed:
		p.mu.Unlock()
		return
	case track.RID() != "" && p.publishesTrackLocked(track.ID()):
		p.mu.Unlock()
		log.Debug("simulcast layer ignored, only the first layer is forwarded", "rid", track.RID())
		return
	case len(p.published) >= p.s.cfg.MaxTracksPerParticipant:
		p.mu.Unlock()
		log.Warn("track ignored", "err", ErrTooManyTracks.Error(), "max", p.s.cfg.MaxTracksPerParticipant)
		return
	}
	p.published[f] = struct{}{}
	p.mu.Unlock()

	subs, err := p.room.addForwarder(f, p.s.cfg.MaxTracksPerRoom)
	if errors.Is(err, ErrClosed) {
		return
	}
	if err != nil {
		p.unpublish(f)
		log.Warn("track ignored", "err", err.Error(), "max", p.s.cfg.MaxTracksPerRoom)
		return
	}
	if !p.s.spawn(f.readRTP) {
		f.stop()
		return
	}
	p.s.spawn(f.readRTCP)
	log.Info("track published", "subscribers", len(subs))
	for _, sub := range subs {
		sub.subscribe(f)
	}
}

func (p *Peer) publishesTrackLocked(trackID string) bool {
	for f := range p.published {
		if f.trackID == trackID {
			return true
		}
	}
	return false
}

func (p *Peer) unpublish(f *forwarder) {
	p.mu.Lock()
	delete(p.published, f)
	p.mu.Unlock()
}
