package sfu

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
	"go.uber.org/goleak"
)

// testConfig keeps media on loopback with short timeouts.
func testConfig() Config {
	return Config{
		UDPPort:                0,
		Interfaces:             []string{"lo"},
		AllowLoopback:          true,
		NetworkTypes:           []webrtc.NetworkType{webrtc.NetworkTypeUDP4},
		ICEDisconnectedTimeout: 500 * time.Millisecond,
		ICEFailedTimeout:       time.Second,
		ICEKeepaliveInterval:   200 * time.Millisecond,
		ConnectTimeout:         10 * time.Second,
		NegotiationDelay:       20 * time.Millisecond,
		KeyframeInterval:       200 * time.Millisecond,
	}
}

// startSFU starts an SFU closed at cleanup, after which no goroutine may
// remain. Call it first in a test so the leak check runs last.
func startSFU(t testing.TB, mutate func(*Config)) *SFU {
	t.Helper()
	var opts []goleak.Option
	if _, ok := t.(*testing.B); ok {
		// The benchmark runner's own goroutines are alive during the run.
		opts = append(opts, goleak.IgnoreCurrent())
	}
	t.Cleanup(func() { goleak.VerifyNone(t, opts...) })
	cfg := testConfig()
	if mutate != nil {
		mutate(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func testContext(t testing.TB, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// waitFor polls cond until it holds or ctx ends.
func waitFor(ctx context.Context, t testing.TB, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-tick.C:
		}
	}
}

// message is one server-to-client signaling message in the client's queue.
type message struct {
	offer  string
	answer string
	// ownOffer is the client offer the answer belongs to; applyOwn is set
	// when the client still has to apply it locally.
	ownOffer  webrtc.SessionDescription
	applyOwn  bool
	candidate *webrtc.ICECandidateInit
	// ready is closed when answer is filled in; it lets the client reserve
	// the answer's queue slot before calling HandleOffer, as a hub would.
	ready chan struct{}
}

// client is a Pion WebRTC client on loopback that talks to one Peer through
// an in-process signaling queue with the ordering a WebSocket would give.
type client struct {
	t    testing.TB
	name string
	pc   *webrtc.PeerConnection
	peer *Peer

	mu       sync.Mutex // serializes description operations on pc
	queue    chan *message
	paused   atomic.Bool
	dropping atomic.Bool  // discard server messages, as a dropped signaling connection would
	dropped  atomic.Int32 // SFU offers discarded while dropping
	closedBy chan error
	offers   atomic.Int32 // SFU offers received
	lastSDP  atomic.Value // string: last SFU offer applied
	pending  []webrtc.ICECandidateInit

	received sync.Map // track ID -> *trackStats
	// countOnly, when set, also counts every received packet (benchmarks).
	countOnly *atomic.Int64
	plis      atomic.Int32
	done      chan struct{}
	wg        sync.WaitGroup
}

type trackStats struct {
	packets   atomic.Int32
	keyframes atomic.Int32
	ended     atomic.Bool
	streamID  string
}

// Signaler implementation: queue and return.
func (c *client) SendOffer(sdp string) {
	c.enqueue(&message{offer: sdp})
}

func (c *client) SendCandidate(ci webrtc.ICECandidateInit) {
	c.enqueue(&message{candidate: &ci})
}

func (c *client) Closed(reason error) {
	select {
	case c.closedBy <- reason:
	default:
	}
}

func (c *client) enqueue(m *message) {
	select {
	case c.queue <- m:
	case <-c.done:
	}
}

func clientAPI(t testing.TB, mutate func(*webrtc.SettingEngine)) *webrtc.API {
	t.Helper()
	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		t.Fatalf("register codecs: %v", err)
	}
	reg := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(me, reg); err != nil {
		t.Fatalf("register interceptors: %v", err)
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	if mutate != nil {
		mutate(&se)
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(reg),
		webrtc.WithSettingEngine(se))
}

// newClient creates a client PeerConnection and joins it to roomID.
func newClient(t testing.TB, s *SFU, roomID, name string, api *webrtc.API, conf webrtc.Configuration) *client {
	t.Helper()
	if api == nil {
		api = clientAPI(t, nil)
	}
	pc, err := api.NewPeerConnection(conf)
	if err != nil {
		t.Fatalf("%s: new peer connection: %v", name, err)
	}
	c := &client{
		t: t, name: name, pc: pc,
		queue:    make(chan *message, 256),
		closedBy: make(chan error, 1),
		done:     make(chan struct{}),
	}
	pc.OnTrack(c.onTrack)
	pc.OnICECandidate(c.onICECandidate)
	peer, err := s.Join(roomID, name, c)
	if err != nil {
		_ = pc.Close()
		t.Fatalf("%s: join: %v", name, err)
	}
	c.peer = peer
	c.wg.Add(1)
	go c.loop()
	t.Cleanup(c.close)
	return c
}

func (c *client) close() {
	select {
	case <-c.done:
		return
	default:
	}
	close(c.done)
	_ = c.pc.Close()
	_ = c.peer.Close()
	c.wg.Wait()
}

// onICECandidate trickles the client's candidates to the SFU.
func (c *client) onICECandidate(ci *webrtc.ICECandidate) {
	if ci == nil || c.peer == nil {
		return
	}
	if err := c.peer.AddICECandidate(ci.ToJSON()); err != nil && !errors.Is(err, ErrClosed) {
		c.errorf("%s: AddICECandidate: %v", c.name, err)
	}
}

// loop applies server messages in order. The client applies its own offers
// locally only when their answer arrives, so an SFU offer always finds it
// stable: it is the polite side of glare with nothing to roll back.
func (c *client) loop() {
	defer c.wg.Done()
	for {
		var m *message
		select {
		case m = <-c.queue:
		case <-c.done:
			return
		}
		for c.paused.Load() {
			select {
			case <-c.done:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
		if m.ready != nil {
			select {
			case <-m.ready:
			case <-c.done:
				return
			}
		}
		if c.dropping.Load() {
			if m.offer != "" {
				c.dropped.Add(1)
			}
			continue
		}
		c.handle(m)
	}
}

// closing reports whether the test is tearing the client down, when errors
// from its closed PeerConnection are expected.
func (c *client) closing() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// errorf reports a client failure unless the client is being torn down.
func (c *client) errorf(format string, args ...any) {
	if !c.closing() {
		c.t.Errorf(format, args...)
	}
}

func (c *client) handle(m *message) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case m.ready != nil:
		if m.answer == "" {
			return // HandleOffer failed; the test checks its error.
		}
		if m.applyOwn {
			if err := c.pc.SetLocalDescription(m.ownOffer); err != nil {
				c.errorf("%s: apply own offer: %v", c.name, err)
				return
			}
		}
		err := c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: m.answer})
		if err != nil {
			c.errorf("%s: apply answer: %v", c.name, err)
		}
		c.flushCandidatesLocked()
	case m.offer != "":
		c.offers.Add(1)
		c.lastSDP.Store(m.offer)
		if err := c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: m.offer}); err != nil {
			c.errorf("%s: apply SFU offer: %v", c.name, err)
			return
		}
		c.flushCandidatesLocked()
		answer, err := c.pc.CreateAnswer(nil)
		if err == nil {
			err = c.pc.SetLocalDescription(answer)
		}
		if err != nil {
			c.errorf("%s: answer SFU offer: %v", c.name, err)
			return
		}
		if err := c.peer.HandleAnswer(c.pc.LocalDescription().SDP); err != nil && !errors.Is(err, ErrClosed) {
			c.errorf("%s: HandleAnswer: %v", c.name, err)
		}
	case m.candidate != nil:
		if c.pc.RemoteDescription() == nil {
			c.pending = append(c.pending, *m.candidate)
			return
		}
		if err := c.pc.AddICECandidate(*m.candidate); err != nil {
			c.errorf("%s: add SFU candidate: %v", c.name, err)
		}
	}
}

func (c *client) flushCandidatesLocked() {
	for _, ci := range c.pending {
		_ = c.pc.AddICECandidate(ci)
	}
	c.pending = nil
}

// offer creates a client offer and sends it. The offer is applied locally
// only when its answer arrives, so an offer rejected for glare leaves
// nothing to roll back. It returns HandleOffer's error.
func (c *client) offer(opts *webrtc.OfferOptions) error {
	c.mu.Lock()
	offer, err := c.pc.CreateOffer(opts)
	c.mu.Unlock()
	if err != nil {
		c.t.Fatalf("%s: create offer: %v", c.name, err)
	}
	return c.sendOffer(offer, true)
}

// sendOffer reserves the answer's queue slot before HandleOffer, so SFU
// messages sent after HandleOffer returns come after the answer, as a hub
// must arrange.
func (c *client) sendOffer(offer webrtc.SessionDescription, applyOwn bool) error {
	slot := &message{ready: make(chan struct{}), ownOffer: offer, applyOwn: applyOwn}
	c.enqueue(slot)
	answer, err := c.peer.HandleOffer(offer.SDP)
	slot.answer = answer
	close(slot.ready)
	if err == nil && answer == "" {
		c.t.Errorf("%s: HandleOffer returned an empty answer", c.name)
	}
	return err
}

func (c *client) mustOffer() {
	c.t.Helper()
	if err := c.offer(nil); err != nil {
		c.t.Fatalf("%s: HandleOffer: %v", c.name, err)
	}
}

func (c *client) connected() bool {
	return c.pc.ConnectionState() == webrtc.PeerConnectionStateConnected
}

func (c *client) onTrack(track *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
	st := &trackStats{streamID: track.StreamID()}
	c.received.Store(track.ID(), st)
	isVP8 := strings.EqualFold(track.Codec().MimeType, webrtc.MimeTypeVP8)
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer st.ended.Store(true)
		for {
			pkt, _, err := track.ReadRTP()
			if err != nil {
				return
			}
			st.packets.Add(1)
			if c.countOnly != nil {
				c.countOnly.Add(1)
			}
			if isVP8 && isVP8Keyframe(pkt) {
				st.keyframes.Add(1)
			}
		}
	}()
}

func (c *client) track(id string) *trackStats {
	v, ok := c.received.Load(id)
	if !ok {
		return nil
	}
	return v.(*trackStats)
}

// isVP8Keyframe reports whether pkt starts a VP8 keyframe (RFC 7741: start
// of partition 0 with the frame tag's P bit clear).
func isVP8Keyframe(pkt *rtp.Packet) bool {
	var vp8 codecs.VP8Packet
	payload, err := vp8.Unmarshal(pkt.Payload)
	if err != nil || len(payload) == 0 {
		return false
	}
	return vp8.S == 1 && vp8.PID == 0 && payload[0]&0x01 == 0
}

// publisher writes synthetic VP8 and Opus frames. Video sends a keyframe
// first and then only when the SFU asks (PLI), so a subscriber's keyframe
// proves the SFU's request worked.
type publisher struct {
	c        *client
	video    *webrtc.TrackLocalStaticSample
	audio    *webrtc.TrackLocalStaticSample
	vsender  *webrtc.RTPSender
	wantKey  atomic.Bool
	stop     chan struct{}
	stopOnce sync.Once
}

var (
	// A VP8 keyframe: frame tag with P bit 0 and show_frame, the start code
	// 9d 01 2a, and a 320x240 size, padded.
	vp8Keyframe = append([]byte{0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00}, make([]byte, 400)...)
	// A VP8 interframe: P bit 1.
	vp8Interframe = append([]byte{0x11, 0x02, 0x00}, make([]byte, 120)...)
	opusFrame     = append([]byte{0xfc}, make([]byte, 60)...)
)

// publish adds a VP8 and an Opus track named after the client and starts
// writing frames. It does not negotiate.
func (c *client) publish(t testing.TB, withAudio bool) *publisher {
	t.Helper()
	p := &publisher{c: c, stop: make(chan struct{})}
	var err error
	p.video, err = webrtc.NewTrackLocalStaticSample(
		webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, c.name+"-video", c.name)
	if err != nil {
		t.Fatalf("new video track: %v", err)
	}
	if p.vsender, err = c.pc.AddTrack(p.video); err != nil {
		t.Fatalf("add video track: %v", err)
	}
	if withAudio {
		p.audio, err = webrtc.NewTrackLocalStaticSample(
			webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus}, c.name+"-audio", c.name)
		if err != nil {
			t.Fatalf("new audio track: %v", err)
		}
		if _, err = c.pc.AddTrack(p.audio); err != nil {
			t.Fatalf("add audio track: %v", err)
		}
	}
	p.wantKey.Store(true)
	c.wg.Add(2)
	go p.readRTCP()
	go p.write()
	t.Cleanup(p.halt)
	return p
}

func (p *publisher) halt() {
	p.stopOnce.Do(func() { close(p.stop) })
}

func (p *publisher) readRTCP() {
	defer p.c.wg.Done()
	for {
		pkts, _, err := p.vsender.ReadRTCP()
		if err != nil {
			return
		}
		for _, pkt := range pkts {
			if _, ok := pkt.(*rtcp.PictureLossIndication); ok {
				p.c.plis.Add(1)
				p.wantKey.Store(true)
			}
		}
	}
}

func (p *publisher) write() {
	defer p.c.wg.Done()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-p.c.done:
			return
		case <-tick.C:
		}
		frame := vp8Interframe
		if p.wantKey.Swap(false) {
			frame = vp8Keyframe
		}
		_ = p.video.WriteSample(media.Sample{Data: frame, Duration: 20 * time.Millisecond})
		if p.audio != nil {
			_ = p.audio.WriteSample(media.Sample{Data: opusFrame, Duration: 20 * time.Millisecond})
		}
	}
}

// blackholeConn is a UDP socket that can be made to drop all traffic, to
// simulate a client whose network vanished.
type blackholeConn struct {
	net.PacketConn
	dead atomic.Bool
}

func (b *blackholeConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	if b.dead.Load() {
		return len(p), nil
	}
	return b.PacketConn.WriteTo(p, addr)
}

func (b *blackholeConn) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		n, addr, err := b.PacketConn.ReadFrom(p)
		if err != nil || !b.dead.Load() {
			return n, addr, err
		}
	}
}

type netListener struct{}

func (netListener) listen() (net.PacketConn, error) {
	return net.ListenPacket("udp4", "127.0.0.1:0")
}

// recvOnly adds receive-only audio and video transceivers, as a browser that
// publishes nothing yet would, so the client's offer has media sections.
func (c *client) recvOnly() {
	c.t.Helper()
	for _, kind := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecTypeAudio} {
		_, err := c.pc.AddTransceiverFromKind(kind, webrtc.RTPTransceiverInit{
			Direction: webrtc.RTPTransceiverDirectionRecvonly,
		})
		if err != nil {
			c.t.Fatalf("%s: add %s transceiver: %v", c.name, kind, err)
		}
	}
}
