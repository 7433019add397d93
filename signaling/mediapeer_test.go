package signaling

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"

	"github.com/bedside-health/bedside/policy"
	"github.com/bedside-health/bedside/sfu"
)

// sfuMedia connects the hub to a real SFU, as the server's wiring does,
// and counts the offers the SFU sends to each participant.
type sfuMedia struct {
	s *sfu.SFU

	mu     sync.Mutex
	offers map[string]int // by participant id
}

func (m *sfuMedia) Join(roomID, participantID string, sig MediaSignaler) (MediaPeer, error) {
	p, err := m.s.Join(roomID, participantID, countingSignaler{sig, m, participantID})
	if err != nil {
		return nil, err
	}
	return sfuPeer{p}, nil
}

func (m *sfuMedia) TURNCredentials(string) (TURNCredentials, bool) { return TURNCredentials{}, false }

// offersTo returns how many offers the SFU sent to a participant.
func (m *sfuMedia) offersTo(participantID string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.offers[participantID]
}

type countingSignaler struct {
	MediaSignaler
	m           *sfuMedia
	participant string
}

func (c countingSignaler) SendOffer(sdp string) {
	c.m.mu.Lock()
	c.m.offers[c.participant]++
	c.m.mu.Unlock()
	c.MediaSignaler.SendOffer(sdp)
}

// sfuPeer maps sfu.ErrNewSession to ErrNewMediaSession.
type sfuPeer struct{ *sfu.Peer }

func (p sfuPeer) HandleOffer(sdp string) (string, error) {
	answer, err := p.Peer.HandleOffer(sdp)
	if errors.Is(err, sfu.ErrNewSession) {
		err = fmt.Errorf("%w: %w", ErrNewMediaSession, err)
	}
	return answer, err
}

func (p sfuPeer) HandleAnswer(sdp string) error {
	err := p.Peer.HandleAnswer(sdp)
	if errors.Is(err, sfu.ErrNewSession) {
		err = fmt.Errorf("%w: %w", ErrNewMediaSession, err)
	}
	return err
}

// newMediaEnv starts a real SFU on loopback and a hub that uses it, with
// consultation c1 of host doc and patient pat. The SFU is closed after
// the hub has shut down.
func newMediaEnv(t *testing.T, configure func(*Config)) (*env, *sfuMedia) {
	t.Helper()
	s, err := sfu.New(sfu.Config{
		Interfaces:       []string{"lo"},
		AllowLoopback:    true,
		NetworkTypes:     []webrtc.NetworkType{webrtc.NetworkTypeUDP4},
		NegotiationDelay: 20 * time.Millisecond,
		KeyframeInterval: 200 * time.Millisecond,
	})
	if err != nil {
		t.Fatalf("start SFU: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close SFU: %v", err)
		}
	})
	m := &sfuMedia{s: s, offers: make(map[string]int)}
	e := newEnv(t, func(c *Config) {
		c.Media = m
		c.ResumeGrace = 5 * time.Second
		if configure != nil {
			configure(c)
		}
	})
	e.rooms.add("c1", []string{"doc"}, "pat")
	return e, m
}

// envelope is a server message that rtcClient did not handle itself.
type envelope struct {
	typ  string
	data []byte
}

// recvTrack counts the packets of one received track.
type recvTrack struct {
	id, stream string
	packets    atomic.Int64
	ended      atomic.Bool
}

// rtcClient is a Pion client of the hub: one PeerConnection negotiated
// over the WebSocket, which the test can cut and replace. Like the Go
// client library, it applies its own offer only when the answer arrives,
// so it answers a crossing SFU offer with nothing to roll back, and it
// offers again when its offer is rejected.
type rtcClient struct {
	t    *testing.T
	e    *env
	user string
	pc   *webrtc.PeerConnection

	wsMu sync.Mutex // guards ws and nc, and serializes writes
	ws   *websocket.Conn
	nc   net.Conn

	mu         sync.Mutex // serializes description operations on pc
	own        *webrtc.SessionDescription
	ownID      string
	ownRestart bool // own is an ICE restart
	candidate  []webrtc.ICECandidateInit
	offerSeq   int

	events      chan envelope
	sfuOffers   atomic.Int32 // SFU offers answered
	restarts    atomic.Int32 // ICE restart offers answered by the SFU
	rejected    atomic.Int32 // own offers rejected with an error
	mediaClosed atomic.Int32

	tracksMu sync.Mutex
	tracks   []*recvTrack

	stop chan struct{}
	wg   sync.WaitGroup
}

func loopbackAPI() *webrtc.API {
	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		panic("register codecs: " + err.Error())
	}
	reg := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(me, reg); err != nil {
		panic("register interceptors: " + err.Error())
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	return webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(reg),
		webrtc.WithSettingEngine(se))
}

// newRTCClient creates a PeerConnection for user; publish adds a VP8 track
// it sends on, otherwise it only receives. It does not connect.
func newRTCClient(t *testing.T, e *env, user string, publish bool) *rtcClient {
	t.Helper()
	pc, err := loopbackAPI().NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatalf("%s: new peer connection: %v", user, err)
	}
	rc := &rtcClient{t: t, e: e, user: user, pc: pc, events: make(chan envelope, 256), stop: make(chan struct{})}
	pc.OnICECandidate(func(ci *webrtc.ICECandidate) {
		if ci != nil {
			rc.write(CandidateMessage{Header: Header{Type: TypeCandidate}, Candidate: ci.ToJSON()})
		}
	})
	pc.OnTrack(rc.onTrack)
	if publish {
		rc.publish()
	} else {
		for _, kind := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecTypeAudio} {
			_, err := pc.AddTransceiverFromKind(kind, webrtc.RTPTransceiverInit{
				Direction: webrtc.RTPTransceiverDirectionRecvonly,
			})
			if err != nil {
				t.Fatalf("%s: add %s transceiver: %v", user, kind, err)
			}
		}
	}
	t.Cleanup(rc.close)
	return rc
}

// errorf reports a client failure unless the test is tearing the client
// down, when its closed PeerConnection fails every call.
func (rc *rtcClient) errorf(format string, args ...any) {
	select {
	case <-rc.stop:
	default:
		rc.t.Errorf(format, args...)
	}
}

func (rc *rtcClient) close() {
	select {
	case <-rc.stop:
		return
	default:
	}
	close(rc.stop)
	_ = rc.pc.Close()
	rc.wsMu.Lock()
	if rc.ws != nil {
		rc.ws.Close()
	}
	rc.wsMu.Unlock()
	rc.wg.Wait()
}

// publish adds a VP8 track named user-video and writes a frame every 20 ms
// while connected.
func (rc *rtcClient) publish() {
	track, err := webrtc.NewTrackLocalStaticSample(
		webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, rc.user+"-video", rc.user)
	if err != nil {
		rc.t.Fatalf("%s: new track: %v", rc.user, err)
	}
	sender, err := rc.pc.AddTrack(track)
	if err != nil {
		rc.t.Fatalf("%s: add track: %v", rc.user, err)
	}
	frame := append([]byte{0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00}, make([]byte, 200)...)
	rc.wg.Add(2)
	go func() {
		defer rc.wg.Done()
		buf := make([]byte, 1500)
		for {
			if _, _, err := sender.Read(buf); err != nil {
				return
			}
		}
	}()
	go func() {
		defer rc.wg.Done()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-rc.stop:
				return
			case <-tick.C:
			}
			if rc.pc.ConnectionState() == webrtc.PeerConnectionStateConnected {
				_ = track.WriteSample(media.Sample{Data: frame, Duration: 20 * time.Millisecond})
			}
		}
	}()
}

func (rc *rtcClient) onTrack(track *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
	rt := &recvTrack{id: track.ID(), stream: track.StreamID()}
	rc.tracksMu.Lock()
	rc.tracks = append(rc.tracks, rt)
	rc.tracksMu.Unlock()
	rc.wg.Add(1)
	go func() {
		defer rc.wg.Done()
		defer rt.ended.Store(true)
		for {
			if _, _, err := track.ReadRTP(); err != nil {
				return
			}
			rt.packets.Add(1)
		}
	}()
}

// trackCount returns the number of tracks received from stream.
func (rc *rtcClient) trackCount(stream string) int {
	rc.tracksMu.Lock()
	defer rc.tracksMu.Unlock()
	n := 0
	for _, rt := range rc.tracks {
		if rt.stream == stream {
			n++
		}
	}
	return n
}

// packetsSince returns the packets of stream's tracks after the first
// skip of them.
func (rc *rtcClient) packetsSince(stream string, skip int) int64 {
	rc.tracksMu.Lock()
	defer rc.tracksMu.Unlock()
	var packets int64
	for _, rt := range rc.tracks {
		if rt.stream != stream {
			continue
		}
		if skip > 0 {
			skip--
			continue
		}
		packets += rt.packets.Load()
	}
	return packets
}

// received returns the packets received so far from stream's tracks, and
// the number of those tracks that ended.
func (rc *rtcClient) received(stream string) (packets int64, ended int) {
	rc.tracksMu.Lock()
	defer rc.tracksMu.Unlock()
	for _, rt := range rc.tracks {
		if rt.stream != stream {
			continue
		}
		packets += rt.packets.Load()
		if rt.ended.Load() {
			ended++
		}
	}
	return packets, ended
}

// connect opens a WebSocket as the client's user, authenticates and starts
// reading. The previous connection, if any, must have ended.
func (rc *rtcClient) connect() {
	rc.t.Helper()
	var nc net.Conn
	d := rawDialer(&nc)
	ws, _, err := d.Dial(rc.e.url(), nil)
	if err != nil {
		rc.t.Fatalf("%s: dial: %v", rc.user, err)
	}
	role := policy.RolePatient
	if rc.user == "doc" {
		role = policy.RoleClinician
	}
	rc.wsMu.Lock()
	rc.ws, rc.nc = ws, nc
	rc.wsMu.Unlock()
	rc.wg.Add(1)
	go rc.read(ws)
	rc.write(AuthMessage{Header: Header{Type: TypeAuth}, Token: rc.e.auth.add(rc.user, role, rc.user+"-session")})
	rc.expect(TypeAuthOK, nil)
}

// cut closes the TCP connection without a close frame, as a network change
// does.
func (rc *rtcClient) cut() {
	rc.wsMu.Lock()
	defer rc.wsMu.Unlock()
	rc.nc.Close()
}

func (rc *rtcClient) write(v any) {
	rc.wsMu.Lock()
	defer rc.wsMu.Unlock()
	if rc.ws == nil {
		return
	}
	rc.ws.SetWriteDeadline(time.Now().Add(testDeadline))
	_ = rc.ws.WriteJSON(v) // a cut connection loses the message, as a real one would
}

// read handles the messages of one connection until it ends.
func (rc *rtcClient) read(ws *websocket.Conn) {
	defer rc.wg.Done()
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			return
		}
		var h Header
		if err := json.Unmarshal(data, &h); err != nil {
			rc.errorf("%s: decode %q: %v", rc.user, data, err)
			return
		}
		if !rc.handle(h, data) {
			select {
			case rc.events <- envelope{h.Type, data}:
			default:
				rc.errorf("%s: event queue full, dropped %s", rc.user, h.Type)
			}
		}
	}
}

// expect waits for the next event of type typ, skipping others, and
// decodes it into v when v is not nil.
func (rc *rtcClient) expect(typ string, v any) {
	rc.t.Helper()
	deadline := time.After(testDeadline)
	for {
		select {
		case ev := <-rc.events:
			if ev.typ != typ {
				continue
			}
			if v != nil {
				if err := json.Unmarshal(ev.data, v); err != nil {
					rc.t.Fatalf("%s: decode %s: %v", rc.user, typ, err)
				}
			}
			return
		case <-deadline:
			rc.t.Fatalf("%s: timed out waiting for %s", rc.user, typ)
		}
	}
}

// handle processes media messages and reports whether it did.
func (rc *rtcClient) handle(h Header, data []byte) bool {
	switch h.Type {
	case TypeOffer:
		var m OfferMessage
		_ = json.Unmarshal(data, &m)
		rc.answerSFU(m.SDP)
	case TypeAnswer:
		var m AnswerMessage
		_ = json.Unmarshal(data, &m)
		rc.applyAnswer(m)
	case TypeCandidate:
		var m CandidateMessage
		_ = json.Unmarshal(data, &m)
		rc.addCandidate(m.Candidate)
	case TypeError:
		var m ErrorMessage
		_ = json.Unmarshal(data, &m)
		if !rc.ownRejected(m) {
			return false
		}
	case TypeMediaClosed:
		rc.mediaClosed.Add(1)
	default:
		return false
	}
	return true
}

// offer creates an offer, with an ICE restart when restart is set, and
// sends it. The offer is applied locally when its answer arrives.
func (rc *rtcClient) offer(restart bool) {
	rc.mu.Lock()
	offer, err := rc.pc.CreateOffer(&webrtc.OfferOptions{ICERestart: restart})
	if err != nil {
		rc.mu.Unlock()
		rc.errorf("%s: create offer: %v", rc.user, err)
		return
	}
	rc.offerSeq++
	rc.own, rc.ownID, rc.ownRestart = &offer, fmt.Sprintf("offer-%d", rc.offerSeq), restart
	id := rc.ownID
	rc.mu.Unlock()
	rc.write(OfferMessage{Header: Header{Type: TypeOffer, ID: id}, SDP: offer.SDP})
}

func (rc *rtcClient) applyAnswer(m AnswerMessage) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.own == nil || m.ID != rc.ownID {
		return
	}
	own := *rc.own
	rc.own = nil
	if err := rc.pc.SetLocalDescription(own); err != nil {
		rc.errorf("%s: apply own offer: %v", rc.user, err)
		return
	}
	if err := rc.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: m.SDP}); err != nil {
		rc.errorf("%s: apply answer: %v", rc.user, err)
		return
	}
	rc.flushLocked()
	if rc.ownRestart {
		rc.restarts.Add(1)
	}
}

// ownRejected handles an error reply to the client's own offer: the offers
// crossed, and the SFU's offer was answered before this reply arrived, so
// the client offers again.
func (rc *rtcClient) ownRejected(m ErrorMessage) bool {
	rc.mu.Lock()
	mine := rc.own != nil && m.ID == rc.ownID
	restart := rc.ownRestart
	if mine {
		rc.own = nil
	}
	rc.mu.Unlock()
	if !mine {
		return false
	}
	rc.rejected.Add(1)
	rc.offer(restart)
	return true
}

func (rc *rtcClient) answerSFU(sdp string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if err := rc.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sdp}); err != nil {
		rc.errorf("%s: apply SFU offer: %v", rc.user, err)
		return
	}
	rc.flushLocked()
	answer, err := rc.pc.CreateAnswer(nil)
	if err == nil {
		err = rc.pc.SetLocalDescription(answer)
	}
	if err != nil {
		rc.errorf("%s: answer SFU offer: %v", rc.user, err)
		return
	}
	rc.sfuOffers.Add(1)
	rc.write(AnswerMessage{Header: Header{Type: TypeAnswer}, SDP: answer.SDP})
}

func (rc *rtcClient) addCandidate(c webrtc.ICECandidateInit) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.pc.RemoteDescription() == nil {
		rc.candidate = append(rc.candidate, c)
		return
	}
	_ = rc.pc.AddICECandidate(c)
}

func (rc *rtcClient) flushLocked() {
	for _, c := range rc.candidate {
		_ = rc.pc.AddICECandidate(c)
	}
	rc.candidate = nil
}

// settled reports whether no offer of either side waits for an answer.
func (rc *rtcClient) settled() bool {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.own == nil && rc.pc.SignalingState() == webrtc.SignalingStateStable
}

// remoteUfrag returns the SFU's ICE username fragment in the applied
// answer or offer.
func (rc *rtcClient) remoteUfrag() string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rd := rc.pc.CurrentRemoteDescription()
	if rd == nil {
		return ""
	}
	for _, line := range strings.Split(rd.SDP, "\r\n") {
		if v, ok := strings.CutPrefix(line, "a=ice-ufrag:"); ok {
			return v
		}
	}
	return ""
}
