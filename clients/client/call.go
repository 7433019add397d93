package client

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/pion/webrtc/v4"
)

// CallOptions configures Call.
type CallOptions struct {
	ConsultationID string
	// Label is the device label other participants see.
	Label string
	// AdmitAll makes a host admit everyone who enters the waiting room.
	AdmitAll bool
	// Duration ends the call after this long once media started; zero
	// keeps it until ctx ends.
	Duration time.Duration
	// ReportInterval is the period of Report calls; default 2 seconds.
	ReportInterval time.Duration
	// Report receives the media counters every ReportInterval.
	Report func(CallReport)
	// Event receives one line for each room event: waiting, admitted,
	// participants joining and leaving.
	Event func(string)
	// LoopbackOnly restricts ICE to the loopback interface, IPv4 and no
	// multicast DNS (tests on one machine).
	LoopbackOnly bool
	// ResumeWithin is how long the call tries to reconnect after its
	// signaling connection dropped; default 15 seconds, the server's
	// default reconnect grace period. After a resume the call keeps its
	// PeerConnection and restarts ICE when the server kept its media
	// session.
	ResumeWithin time.Duration
}

// TrackReport counts what one received track delivered.
type TrackReport struct {
	TrackID  string
	StreamID string // the publisher's participant id
	Kind     string // audio or video
	Codec    string
	Packets  uint64
	Bytes    uint64 // RTP payload bytes
	// Ended is set once the track stopped: the SFU removed it, or the
	// media session closed.
	Ended bool
}

// CallReport is a snapshot of a call's media counters.
type CallReport struct {
	Elapsed     time.Duration
	Participant string
	// Connected is set once the media connection to the SFU was
	// established; State is its current state, such as connected or
	// disconnected.
	Connected bool
	State     string
	// AudioSent and VideoSent count the frames this peer published, and
	// Tracks what it received, in the current media session.
	AudioSent uint64
	VideoSent uint64
	Tracks    []TrackReport
	// Renegotiations counts the SFU offers answered in the current media
	// session: one for each change of the tracks the SFU forwards.
	Renegotiations int
	// Reconnects counts signaling reconnects that resumed the participant,
	// ICERestarts the ICE restarts the SFU answered, and MediaSessions the
	// PeerConnections the call created (more than one after the SFU closed
	// a session or the server did not keep it through a reconnect).
	Reconnects    int
	ICERestarts   int
	MediaSessions int
}

// Call joins a consultation over the signaling WebSocket as a headless
// media peer. It waits in the waiting room until a host admits it (a host
// is admitted at once). Then it publishes a synthetic Opus and VP8 track
// through the SFU and counts what it receives. It returns the final
// report when ctx ends or Duration has passed since admission, and
// ErrDenied when a host turned it away or removed it.
func (c *Client) Call(ctx context.Context, opts CallOptions) (*CallReport, error) {
	if opts.ReportInterval <= 0 {
		opts.ReportInterval = 2 * time.Second
	}
	if opts.Label == "" {
		opts.Label = "bedside-client"
	}
	if opts.ResumeWithin <= 0 {
		opts.ResumeWithin = 15 * time.Second
	}
	s, err := c.DialSignaling(ctx, opts.Label)
	if err != nil {
		return nil, err
	}
	cl := &callLoop{c: c, s: s, opts: opts, admitted: map[string]bool{}}
	defer func() { cl.s.Close() }() // the connection of the last reconnect
	defer cl.stopMedia()
	return cl.run(ctx)
}

// callLoop is the state of one Call; only its run goroutine touches it,
// except the media peer's own goroutines.
type callLoop struct {
	c           *Client
	s           *SignalConn
	opts        CallOptions
	participant string
	host        bool
	resume      string          // token from the last joined message
	admitted    map[string]bool // participants this host admitted
	servers     []webrtc.ICEServer
	media       *mediaPeer
	started     time.Time
	// rejected counts rejected offers in a row; the call ends when it
	// exceeds maxOfferRetries.
	rejected int
	// Counters of CallReport.
	reconnects, restarts, sessions int
}

type joinedMessage struct {
	Participant string           `json:"participant"`
	State       string           `json:"state"`
	Host        bool             `json:"host"`
	Resumed     bool             `json:"resumed"`
	Resume      string           `json:"resume"`
	Media       string           `json:"media"`
	Waiting     []rosterEntry    `json:"waiting"`
	TURN        *turnInfo        `json:"turn"`
	ICEServers  []iceServerEntry `json:"iceServers"`
}

type rosterEntry struct {
	Participant string `json:"participant"`
	User        string `json:"user"`
	Device      string `json:"device"`
	Role        string `json:"role"`
	Host        bool   `json:"host"`
}

type turnInfo struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username"`
	Credential string   `json:"credential"`
}

type iceServerEntry struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username"`
	Credential string   `json:"credential"`
}

func iceServers(turn *turnInfo, extra []iceServerEntry) []webrtc.ICEServer {
	var out []webrtc.ICEServer
	if turn != nil && len(turn.URLs) > 0 {
		out = append(out, webrtc.ICEServer{URLs: turn.URLs, Username: turn.Username, Credential: turn.Credential})
	}
	for _, e := range extra {
		out = append(out, webrtc.ICEServer{URLs: e.URLs, Username: e.Username, Credential: e.Credential})
	}
	return out
}

func (cl *callLoop) event(format string, args ...any) {
	if cl.opts.Event != nil {
		cl.opts.Event(fmt.Sprintf(format, args...))
	}
}

func (cl *callLoop) run(ctx context.Context) (*CallReport, error) {
	if err := cl.join(ctx); err != nil {
		return nil, err
	}
	return cl.loop(ctx)
}

// loop handles signaling messages until the call ends, and reconnects
// when the signaling connection drops.
func (cl *callLoop) loop(ctx context.Context) (*CallReport, error) {
	report := time.NewTicker(cl.opts.ReportInterval)
	defer report.Stop()
	var end <-chan time.Time
	for {
		if end == nil && cl.media != nil && cl.opts.Duration > 0 {
			end = time.After(cl.opts.Duration)
		}
		select {
		case <-ctx.Done():
			return cl.finish()
		case <-end:
			return cl.finish()
		case <-report.C:
			if cl.media != nil && cl.opts.Report != nil {
				cl.opts.Report(cl.snapshot())
			}
		case m, ok := <-cl.s.Messages():
			if !ok {
				if err := cl.reconnect(ctx); err != nil {
					return nil, err
				}
				continue
			}
			if err := cl.handle(m); err != nil {
				return nil, err
			}
		}
	}
}

func (cl *callLoop) finish() (*CallReport, error) {
	_ = cl.s.Send(map[string]string{"type": "leave"})
	if cl.media == nil {
		return nil, fmt.Errorf("call ended before a host admitted participant %s", cl.participant)
	}
	r := cl.snapshot()
	return &r, nil
}

func (cl *callLoop) snapshot() CallReport {
	r := cl.media.report()
	r.Elapsed = time.Since(cl.started).Round(time.Millisecond)
	r.Participant = cl.participant
	r.Reconnects, r.ICERestarts, r.MediaSessions = cl.reconnects, cl.restarts+r.ICERestarts, cl.sessions
	return r
}

// handle dispatches one signaling message.
func (cl *callLoop) handle(m SignalMessage) error {
	switch m.Type {
	case "admitted":
		var a joinedMessage
		if err := m.Decode(&a); err != nil {
			return fmt.Errorf("admitted: %w", err)
		}
		cl.event("admitted by a host")
		return cl.startMedia(iceServers(a.TURN, a.ICEServers))
	case "denied", "removed":
		return fmt.Errorf("consultation %s: %w (%s)", cl.opts.ConsultationID, ErrDenied, m.Type)
	case "waiting", "waiting-list":
		var w struct {
			Waiting     []rosterEntry `json:"waiting"`
			Participant *rosterEntry  `json:"participant"`
		}
		if err := m.Decode(&w); err != nil {
			return fmt.Errorf("%s: %w", m.Type, err)
		}
		if w.Participant != nil {
			w.Waiting = append(w.Waiting, *w.Participant)
		}
		return cl.admitWaiting(w.Waiting)
	case "participant-joined", "participant-left":
		var p struct {
			Participant rosterEntry `json:"participant"`
		}
		_ = m.Decode(&p)
		cl.event("%s: %s (user %s, %s)", m.Type, p.Participant.Participant, p.Participant.User, p.Participant.Role)
	case "offer", "answer", "candidate":
		if cl.media == nil {
			return nil
		}
		if m.Type == "answer" {
			cl.rejected = 0
		}
		return cl.media.handleSignal(m)
	case "media-closed":
		cl.event("the SFU closed the media connection: starting a new one")
		return cl.newMediaSession()
	case "error":
		return cl.handleError(m)
	case "session-revoked":
		return fmt.Errorf("call: %w: the session was revoked", ErrAuthRequired)
	}
	return nil
}

// maxOfferRetries bounds the offers in a row that the server may reject
// before the call gives up.
const maxOfferRetries = 5

// handleError handles an error message. A rejected offer is sent again,
// because the usual cause is an SFU offer that crossed it, which the call
// answered before this reply arrived.
func (cl *callLoop) handleError(m SignalMessage) error {
	e := m.asError()
	var id string
	var restart bool
	if cl.media != nil {
		id, restart = cl.media.pendingOffer()
	}
	if m.ID == "" || m.ID != id {
		cl.event("server error: %v", e)
		return nil
	}
	cl.media.dropOffer()
	cl.rejected++
	if cl.rejected > maxOfferRetries {
		return fmt.Errorf("call: offer rejected %d times: %w", cl.rejected, e)
	}
	cl.event("offer rejected (%v): offering again", e)
	return cl.media.offer(cl.s.NewID(), restart)
}

// admitWaiting admits every waiting participant when this peer is a host
// with AdmitAll.
func (cl *callLoop) admitWaiting(waiting []rosterEntry) error {
	if !cl.host || !cl.opts.AdmitAll {
		return nil
	}
	for _, w := range waiting {
		if cl.admitted[w.Participant] {
			continue
		}
		cl.admitted[w.Participant] = true
		cl.event("admitting participant %s (user %s, %s)", w.Participant, w.User, w.Role)
		if err := cl.s.Send(map[string]string{"type": "admit", "participant": w.Participant}); err != nil {
			return err
		}
	}
	return nil
}

func (cl *callLoop) startMedia(servers []webrtc.ICEServer) error {
	if cl.media != nil {
		return nil
	}
	mp, err := newMediaPeer(cl.s, servers, cl.opts.LoopbackOnly)
	if err != nil {
		return fmt.Errorf("call: %w", err)
	}
	cl.servers = servers
	cl.media = mp
	if cl.started.IsZero() {
		cl.started = time.Now()
	}
	cl.sessions++
	return mp.offer(cl.s.NewID(), false)
}

// newMediaSession replaces the media peer with a new PeerConnection.
func (cl *callLoop) newMediaSession() error {
	if cl.sessions > maxOfferRetries {
		return fmt.Errorf("call: gave up after %d media sessions", cl.sessions)
	}
	cl.stopMedia()
	return cl.startMedia(cl.servers)
}

// stopMedia closes the media peer, keeping its ICE restart count.
func (cl *callLoop) stopMedia() {
	if cl.media != nil {
		cl.restarts += cl.media.restarts
		cl.media.close()
		cl.media = nil
	}
}

// sortTracks orders track reports by stream, then kind.
func sortTracks(ts []TrackReport) {
	slices.SortFunc(ts, func(a, b TrackReport) int {
		if a.StreamID != b.StreamID {
			if a.StreamID < b.StreamID {
				return -1
			}
			return 1
		}
		if a.Kind < b.Kind {
			return -1
		}
		if a.Kind > b.Kind {
			return 1
		}
		return 0
	})
}
