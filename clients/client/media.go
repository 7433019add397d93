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
// publisher and counters of what it receives.
type mediaPeer struct {
	s  *SignalConn
	pc *webrtc.PeerConnection

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
	mp := &mediaPeer{s: s, pc: pc, stop: make(chan struct{})}
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
	_ = mp.s.Send(map[string]any{"type": "candidate", "candidate": ci.ToJSON()})
}

// offer creates the first SDP offer, applies it locally and sends it.
func (mp *mediaPeer) offer(id string) error {
	offer, err := mp.pc.CreateOffer(nil)
	if err != nil {
		return fmt.Errorf("create offer: %w", err)
	}
	if err := mp.pc.SetLocalDescription(offer); err != nil {
		return fmt.Errorf("set local offer: %w", err)
	}
	return mp.s.Send(map[string]string{"type": "offer", "id": id, "sdp": offer.SDP})
}

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
		err := mp.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: body.SDP})
		if err != nil {
			return fmt.Errorf("apply answer: %w", err)
		}
		return mp.flushCandidates()
	case "offer":
		err := mp.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: body.SDP})
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
		return mp.s.Send(map[string]string{"type": "answer", "sdp": answer.SDP})
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
		Connected: mp.connected.Load(),
		State:     mp.pc.ConnectionState().String(),
		AudioSent: mp.audioSent.Load(),
		VideoSent: mp.videoSent.Load(),
	}
	mp.mu.Lock()
	for _, t := range mp.tracks {
		r.Tracks = append(r.Tracks, TrackReport{TrackID: t.id, StreamID: t.stream, Kind: t.kind, Codec: t.codec,
			Packets: t.packets.Load(), Bytes: t.bytes.Load()})
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
