package client

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
)

// Synthetic media. They are valid payloads for the RTP packetizers and
// for a forwarding SFU, not pictures or sound anyone decodes.
var (
	// opusSilence is the Opus packet of 20 ms of silence: TOC byte 0xf8
	// (CELT-only, fullband, 20 ms frame, one frame) and the two-byte
	// silent frame.
	opusSilence = []byte{0xf8, 0xff, 0xfe}
	// vp8Keyframe is a VP8 key frame header (RFC 6386 section 9.1): the
	// 3-byte frame tag with the key frame bit clear and show_frame set,
	// the start code 9d 01 2a and a 320x240 size, followed by zero bytes.
	vp8Keyframe = append([]byte{0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00}, make([]byte, 400)...)
	// vp8Interframe is a frame tag with the inter frame bit set.
	vp8Interframe = append([]byte{0x11, 0x02, 0x00}, make([]byte, 120)...)
)

const (
	audioFrame       = 20 * time.Millisecond
	videoFrame       = 33 * time.Millisecond
	keyframeInterval = 3 * time.Second
)

// mediaPeer is the Pion PeerConnection of a call, with a synthetic
// publisher and counters of what it receives. Its offer, handleSignal and
// report methods run on the call's goroutine only.
type mediaPeer struct {
	// sig is the current signaling connection, replaced after a
	// reconnect; Pion's goroutines send candidates through it.
	sig atomic.Pointer[SignalConn]
	pc  *webrtc.PeerConnection

	// own is the offer sent and not yet answered, with its request id. It
	// is applied locally only when its answer arrives, so an SFU offer
	// that crosses it finds the connection stable and can be answered
	// without a rollback, which Pion cannot do for a local offer.
	own        *webrtc.SessionDescription
	ownID      string
	ownRestart bool
	// restarts counts ICE restarts the SFU answered; renegotiations counts
	// SFU offers answered.
	restarts       int
	renegotiations int

	audio, video *webrtc.TrackLocalStaticSample
	audioSent    atomic.Uint64
	videoSent    atomic.Uint64
	wantKey      atomic.Bool
	connected    atomic.Bool // the peer connection reached connected

	// mu guards the received tracks and the candidates that arrived
	// before the remote description.
	mu       sync.Mutex
	tracks   []*trackCounter
	pending  []webrtc.ICECandidateInit
	haveDesc bool
	closed   bool

	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
}

type trackCounter struct {
	id, stream, kind, codec string
	packets, bytes          atomic.Uint64
	ended                   atomic.Bool
}

// newAPI builds a Pion API with the default codecs and interceptors
// (NACK, RTCP reports, TWCC). loopbackOnly limits ICE to IPv4 on the lo
// interface without multicast DNS.
func newAPI(loopbackOnly bool) (*webrtc.API, error) {
	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		return nil, err
	}
	reg := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(me, reg); err != nil {
		return nil, err
	}
	se := webrtc.SettingEngine{}
	if loopbackOnly {
		se.SetIncludeLoopbackCandidate(true)
		se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
		se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
		se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(reg),
		webrtc.WithSettingEngine(se)), nil
}

func newMediaPeer(s *SignalConn, servers []webrtc.ICEServer, loopbackOnly bool) (*mediaPeer, error) {
	api, err := newAPI(loopbackOnly)
	if err != nil {
		return nil, err
	}
	if loopbackOnly {
		servers = nil // TURN and STUN servers are not needed on one machine
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{ICEServers: servers})
	if err != nil {
		return nil, fmt.Errorf("new peer connection: %w", err)
	}
	mp := &mediaPeer{pc: pc, stop: make(chan struct{})}
	mp.sig.Store(s)
	if err := mp.addTracks(); err != nil {
		_ = pc.Close()
		return nil, err
	}
	pc.OnICECandidate(mp.onCandidate)
	pc.OnTrack(mp.onTrack)
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		if st == webrtc.PeerConnectionStateConnected {
			mp.connected.Store(true)
		}
	})
	return mp, nil
}

func (mp *mediaPeer) addTracks() error {
	var err error
	mp.audio, err = webrtc.NewTrackLocalStaticSample(
		webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", "bedside-client")
	if err != nil {
		return err
	}
	mp.video, err = webrtc.NewTrackLocalStaticSample(
		webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "video", "bedside-client")
	if err != nil {
		return err
	}
	if _, err := mp.pc.AddTrack(mp.audio); err != nil {
		return fmt.Errorf("add audio track: %w", err)
	}
	vs, err := mp.pc.AddTrack(mp.video)
	if err != nil {
		return fmt.Errorf("add video track: %w", err)
	}
	mp.wantKey.Store(true)
	mp.wg.Add(3)
	go mp.readRTCP(vs)
	go mp.writeLoop(mp.audio, audioFrame, func() []byte { return opusSilence }, &mp.audioSent)
	go mp.writeLoop(mp.video, videoFrame, mp.nextVideoFrame, &mp.videoSent)
	return nil
}

// nextVideoFrame returns a key frame when one was requested or the
// keyframe interval has passed, and an inter frame otherwise.
func (mp *mediaPeer) nextVideoFrame() []byte {
	if mp.wantKey.Swap(false) || mp.videoSent.Load()%uint64(keyframeInterval/videoFrame) == 0 {
		return vp8Keyframe
	}
	return vp8Interframe
}

// readRTCP reads the video sender's RTCP, which also lets the
// interceptors run, and requests a key frame on PLI or FIR.
func (mp *mediaPeer) readRTCP(sender *webrtc.RTPSender) {
	defer mp.wg.Done()
	for {
		pkts, _, err := sender.ReadRTCP()
		if err != nil {
			return
		}
		for _, p := range pkts {
			switch p.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				mp.wantKey.Store(true)
			}
		}
	}
}

func (mp *mediaPeer) writeLoop(track *webrtc.TrackLocalStaticSample, every time.Duration,
	frame func() []byte, sent *atomic.Uint64) {
	defer mp.wg.Done()
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-mp.stop:
			return
		case <-tick.C:
		}
		if mp.pc.ConnectionState() != webrtc.PeerConnectionStateConnected {
			continue
		}
		if err := track.WriteSample(media.Sample{Data: frame(), Duration: every}); err == nil {
			sent.Add(1)
		}
	}
}

func (mp *mediaPeer) onTrack(track *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
	tc := &trackCounter{id: track.ID(), stream: track.StreamID(), kind: track.Kind().String(),
		codec: track.Codec().MimeType}
	mp.mu.Lock()
	defer mp.mu.Unlock()
	if mp.closed {
		return
	}
	mp.tracks = append(mp.tracks, tc)
	mp.wg.Add(1)
	go func() {
		defer mp.wg.Done()
		defer tc.ended.Store(true)
		for {
			pkt, _, err := track.ReadRTP()
			if err != nil {
				return
			}
			tc.packets.Add(1)
			tc.bytes.Add(uint64(len(pkt.Payload)))
		}
	}()
}

func (mp *mediaPeer) onCandidate(ci *webrtc.ICECandidate) {
	if ci == nil {
		return
	}
	// While the signaling connection is down the candidate is lost; the
	// ICE restart after the reconnect gathers again.
	_ = mp.send(map[string]any{"type": "candidate", "candidate": ci.ToJSON()})
}

func (mp *mediaPeer) send(v any) error { return mp.sig.Load().Send(v) }

// setSignal makes the peer signal through s, a new connection after a
// reconnect.
func (mp *mediaPeer) setSignal(s *SignalConn) { mp.sig.Store(s) }

// offer creates an SDP offer, with an ICE restart when restart is set, and
// sends it with request id. The offer is applied locally when its answer
// arrives. Pion restarts the ICE agent in CreateOffer already, so an offer
// that the SFU rejects is followed by another restart offer.
func (mp *mediaPeer) offer(id string, restart bool) error {
	if mp.pc.CurrentLocalDescription() == nil {
		// ICE has not started, because no offer was answered yet (the
		// answer to the first one may have been lost in a reconnect), and
		// Pion has no ICE agent to restart.
		restart = false
	}
	offer, err := mp.pc.CreateOffer(&webrtc.OfferOptions{ICERestart: restart})
	if err != nil {
		return fmt.Errorf("create offer: %w", err)
	}
	mp.own, mp.ownID, mp.ownRestart = &offer, id, restart
	return mp.send(map[string]string{"type": "offer", "id": id, "sdp": offer.SDP})
}

// pendingOffer returns the request id of the offer waiting for its answer
// and whether it restarts ICE; the id is empty when none waits.
func (mp *mediaPeer) pendingOffer() (id string, restart bool) {
	if mp.own == nil {
		return "", false
	}
	return mp.ownID, mp.ownRestart
}

// dropOffer clears the pending offer after the server rejected it.
func (mp *mediaPeer) dropOffer() { mp.own, mp.ownID = nil, "" }

// handleSignal applies the SDP answer to our offer, an SFU offer (and
// sends the answer to it) or a trickled candidate.
func (mp *mediaPeer) handleSignal(m SignalMessage) error {
	var body struct {
		SDP       string                   `json:"sdp"`
		Candidate *webrtc.ICECandidateInit `json:"candidate"`
	}
	if err := m.Decode(&body); err != nil {
		return fmt.Errorf("%s: %w", m.Type, err)
	}
	switch m.Type {
	case "answer":
		return mp.applyAnswer(m.ID, body.SDP)
	case "offer":
		return mp.answerOffer(body.SDP)
	case "candidate":
		if body.Candidate == nil || body.Candidate.Candidate == "" {
			return nil
		}
		mp.mu.Lock()
		if !mp.haveDesc {
			mp.pending = append(mp.pending, *body.Candidate)
			mp.mu.Unlock()
			return nil
		}
		mp.mu.Unlock()
		if err := mp.pc.AddICECandidate(*body.Candidate); err != nil {
			return fmt.Errorf("add SFU candidate: %w", err)
		}
	}
	return nil
}

// applyAnswer applies our pending offer and the SFU's answer to it. An
// answer to another request is stale and ignored.
func (mp *mediaPeer) applyAnswer(id, sdp string) error {
	if mp.own == nil || id != mp.ownID {
		return nil
	}
	own, restart := *mp.own, mp.ownRestart
	mp.dropOffer()
	if err := mp.pc.SetLocalDescription(own); err != nil {
		return fmt.Errorf("set local offer: %w", err)
	}
	if err := mp.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp}); err != nil {
		return fmt.Errorf("apply answer: %w", err)
	}
	if restart {
		mp.restarts++
	}
	return mp.flushCandidates()
}

// answerOffer applies an SFU offer and sends the answer. An SFU offer sent
// again after a reconnect may be one the peer applied before; applying it
// again is harmless and answers it.
func (mp *mediaPeer) answerOffer(sdp string) error {
	err := mp.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sdp})
	if err != nil {
		return fmt.Errorf("apply SFU offer: %w", err)
	}
	if err := mp.flushCandidates(); err != nil {
		return err
	}
	answer, err := mp.pc.CreateAnswer(nil)
	if err != nil {
		return fmt.Errorf("answer SFU offer: %w", err)
	}
	if err := mp.pc.SetLocalDescription(answer); err != nil {
		return fmt.Errorf("set local answer: %w", err)
	}
	mp.renegotiations++
	return mp.send(map[string]string{"type": "answer", "sdp": answer.SDP})
}

func (mp *mediaPeer) flushCandidates() error {
	mp.mu.Lock()
	pending := mp.pending
	mp.pending, mp.haveDesc = nil, true
	mp.mu.Unlock()
	var errs []error
	for _, ci := range pending {
		errs = append(errs, mp.pc.AddICECandidate(ci))
	}
	return errors.Join(errs...)
}

func (mp *mediaPeer) report() CallReport {
	r := CallReport{
		Connected:      mp.connected.Load(),
		State:          mp.pc.ConnectionState().String(),
		AudioSent:      mp.audioSent.Load(),
		VideoSent:      mp.videoSent.Load(),
		Renegotiations: mp.renegotiations,
		ICERestarts:    mp.restarts,
	}
	mp.mu.Lock()
	for _, t := range mp.tracks {
		r.Tracks = append(r.Tracks, TrackReport{TrackID: t.id, StreamID: t.stream, Kind: t.kind, Codec: t.codec,
			Packets: t.packets.Load(), Bytes: t.bytes.Load(), Ended: t.ended.Load()})
	}
	mp.mu.Unlock()
	sortTracks(r.Tracks)
	return r
}

// close stops the publisher, closes the peer connection and waits for
// every goroutine of the peer.
func (mp *mediaPeer) close() {
	mp.stopOnce.Do(func() {
		close(mp.stop)
		mp.mu.Lock()
		mp.closed = true
		mp.mu.Unlock()
		_ = mp.pc.Close()
		mp.wg.Wait()
	})
}
