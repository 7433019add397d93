package sfu

import (
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus"
)

// nopSignaler records Closed and drops everything else.
type nopSignaler struct{ closed chan error }

func newNopSignaler() *nopSignaler                           { return &nopSignaler{closed: make(chan error, 1)} }
func (n *nopSignaler) SendOffer(string)                      {}
func (n *nopSignaler) SendCandidate(webrtc.ICECandidateInit) {}
func (n *nopSignaler) Closed(reason error) {
	select {
	case n.closed <- reason:
	default:
	}
}

func TestJoinLimits(t *testing.T) {
	s := startSFU(t, func(c *Config) {
		c.MaxRooms = 2
		c.MaxParticipantsPerRoom = 2
	})
	join := func(room, id string) error {
		p, err := s.Join(room, id, newNopSignaler())
		if err == nil {
			t.Cleanup(func() { _ = p.Close() })
		}
		return err
	}
	if err := join("r1", "a"); err != nil {
		t.Fatalf("join r1/a: %v", err)
	}
	if err := join("r1", "b"); err != nil {
		t.Fatalf("join r1/b: %v", err)
	}
	tests := []struct {
		room, id string
		want     error
	}{
		{"r1", "c", ErrRoomFull},
		{"", "c", ErrInvalidID},
		{"r1", "", ErrInvalidID},
		{"r1", strings.Repeat("x", MaxIDBytes+1), ErrInvalidID},
		{"r1", "bad\nid", ErrInvalidID},
	}
	for _, tt := range tests {
		if err := join(tt.room, tt.id); !errors.Is(err, tt.want) {
			t.Errorf("join %.20q/%.20q: got %v, want %v", tt.room, tt.id, err, tt.want)
		}
	}
	if err := join("r2", "a"); err != nil {
		t.Fatalf("join r2/a: %v", err)
	}
	if err := join("r3", "a"); !errors.Is(err, ErrTooManyRooms) {
		t.Errorf("join a third room: got %v, want ErrTooManyRooms", err)
	}
}

func TestRejoinReplacesPeer(t *testing.T) {
	s := startSFU(t, nil)
	first := newNopSignaler()
	old, err := s.Join("r1", "alice", first)
	if err != nil {
		t.Fatalf("first join: %v", err)
	}
	second, err := s.Join("r1", "alice", newNopSignaler())
	if err != nil {
		t.Fatalf("second join: %v", err)
	}
	t.Cleanup(func() { _ = second.Close() })
	select {
	case reason := <-first.closed:
		if !errors.Is(reason, ErrReplaced) {
			t.Errorf("got close reason %v, want ErrReplaced", reason)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("old peer was not closed")
	}
	if _, err := old.HandleOffer("v=0"); !errors.Is(err, ErrClosed) && !errors.Is(err, ErrInvalidSDP) {
		t.Errorf("offer on the replaced peer: got %v, want ErrClosed or ErrInvalidSDP", err)
	}
	if got := s.Stats().Peers; got != 1 {
		t.Errorf("got %d peers, want 1", got)
	}
}

func TestConnectTimeout(t *testing.T) {
	s := startSFU(t, func(c *Config) { c.ConnectTimeout = 200 * time.Millisecond })
	sig := newNopSignaler()
	if _, err := s.Join("r1", "alice", sig); err != nil {
		t.Fatalf("join: %v", err)
	}
	select {
	case reason := <-sig.closed:
		if !errors.Is(reason, ErrConnectTimeout) {
			t.Errorf("got close reason %v, want ErrConnectTimeout", reason)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("peer that never connected was not dropped")
	}
	ctx := testContext(t, 5*time.Second)
	waitFor(ctx, t, "room released", func() bool { return s.Stats().Rooms == 0 })
}

func TestHandleOfferRejectsBadInput(t *testing.T) {
	s := startSFU(t, func(c *Config) { c.MaxTracksPerParticipant = 1 })
	c := newClient(t, s, "r1", "alice", nil, webrtc.Configuration{})
	for i := 0; i < 2; i++ {
		if _, err := c.pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverInit{
			Direction: webrtc.RTPTransceiverDirectionSendonly,
		}); err != nil {
			t.Fatalf("add transceiver: %v", err)
		}
	}
	twoTracks, err := c.pc.CreateOffer(nil)
	if err != nil {
		t.Fatalf("create offer: %v", err)
	}
	tests := []struct {
		name string
		sdp  string
		want error
	}{
		{"too large", strings.Repeat("a", MaxSDPBytes+1), ErrSDPTooLarge},
		{"not SDP", "hello", ErrInvalidSDP},
		{"two sending tracks over limit of one", twoTracks.SDP, ErrTooManyTracks},
		{"media without ICE credentials", "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n" +
			"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=recvonly\r\n" +
			"a=rtpmap:111 opus/48000/2\r\n", ErrInvalidSDP},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := c.peer.HandleOffer(tt.sdp); !errors.Is(err, tt.want) {
				t.Errorf("got %v, want %v", err, tt.want)
			}
		})
	}
	if err := c.peer.HandleAnswer(strings.Repeat("a", MaxSDPBytes+1)); !errors.Is(err, ErrSDPTooLarge) {
		t.Errorf("oversized answer: got %v, want ErrSDPTooLarge", err)
	}
}

func TestAddICECandidateBounds(t *testing.T) {
	s := startSFU(t, nil)
	p, err := s.Join("r1", "alice", newNopSignaler())
	if err != nil {
		t.Fatalf("join: %v", err)
	}
	t.Cleanup(func() { _ = p.Close() })
	long := webrtc.ICECandidateInit{Candidate: strings.Repeat("x", maxCandidateBytes+1)}
	if err := p.AddICECandidate(long); !errors.Is(err, ErrInvalidCandidate) {
		t.Errorf("oversized candidate: got %v, want ErrInvalidCandidate", err)
	}
	c := webrtc.ICECandidateInit{Candidate: "candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host"}
	for i := 0; i < maxBufferedCandidates; i++ {
		if err := p.AddICECandidate(c); err != nil {
			t.Fatalf("buffered candidate %d: %v", i, err)
		}
	}
	if err := p.AddICECandidate(c); !errors.Is(err, ErrTooManyCandidates) {
		t.Errorf("candidate over the buffer: got %v, want ErrTooManyCandidates", err)
	}
}

func TestMetricsRegistered(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := startSFU(t, func(c *Config) { c.Registerer = reg })
	ctx := testContext(t, 15*time.Second)
	alice := newClient(t, s, "r1", "alice", nil, webrtc.Configuration{})
	bob := newClient(t, s, "r1", "bob", nil, webrtc.Configuration{})
	alice.publish(t, true)
	bob.recvOnly()
	alice.mustOffer()
	bob.mustOffer()
	waitFor(ctx, t, "bob receiving alice's audio", func() bool {
		st := bob.track("alice-audio")
		return st != nil && st.packets.Load() >= 5
	})

	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	values := map[string]float64{}
	for _, mf := range families {
		for _, m := range mf.GetMetric() {
			if m.GetGauge() != nil {
				values[mf.GetName()] = m.GetGauge().GetValue()
			}
			if m.GetCounter() != nil {
				values[mf.GetName()] = m.GetCounter().GetValue()
			}
		}
	}
	for _, name := range []string{
		"bedside_sfu_rooms", "bedside_sfu_peers", "bedside_sfu_tracks",
		"bedside_sfu_forwarded_packets_total", "bedside_sfu_forwarded_bytes_total",
		"bedside_sfu_keyframe_requests_total", "bedside_sfu_nacks_total",
	} {
		if _, ok := values[name]; !ok {
			t.Errorf("metric %s missing", name)
		}
	}
	if got := values["bedside_sfu_peers"]; got != 2 {
		t.Errorf("got bedside_sfu_peers %v, want 2", got)
	}
	if got := values["bedside_sfu_forwarded_packets_total"]; got < 5 {
		t.Errorf("got bedside_sfu_forwarded_packets_total %v, want at least 5", got)
	}
}

// TestMediaThroughTURN connects a client that may use only relay candidates:
// its media must reach the SFU through the embedded TURN server.
func TestMediaThroughTURN(t *testing.T) {
	s := startSFU(t, func(c *Config) {
		c.TURN = TURNConfig{UDPAddr: "127.0.0.1:0", TCPAddr: "127.0.0.1:0"}
	})
	ctx := testContext(t, 20*time.Second)

	creds, ok := s.TURNCredentials("alice")
	if !ok {
		t.Fatalf("TURNCredentials: got false, want credentials")
	}
	if len(creds.URLs) != 2 || !strings.HasPrefix(creds.URLs[0], "turn:127.0.0.1:") ||
		!strings.HasSuffix(creds.URLs[1], "?transport=tcp") {
		t.Errorf("got URLs %v, want turn:127.0.0.1 for udp and tcp", creds.URLs)
	}
	if !strings.HasSuffix(creds.Username, ":alice") {
		t.Errorf("got username %q, want expiry:alice", creds.Username)
	}

	for _, url := range creds.URLs {
		t.Run(url[strings.Index(url, "=")+1:], func(t *testing.T) {
			conf := webrtc.Configuration{
				ICEServers:         []webrtc.ICEServer{{URLs: []string{url}, Username: creds.Username, Credential: creds.Credential}},
				ICETransportPolicy: webrtc.ICETransportPolicyRelay,
			}
			api := clientAPI(t, func(se *webrtc.SettingEngine) {
				se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeTCP4})
				// Pion waits 2 s by default before it nominates a relay pair,
				// longer than the test's ICE failure timeout.
				se.SetRelayAcceptanceMinWait(50 * time.Millisecond)
			})
			alice := newClient(t, s, "r-"+url[len(url)-3:], "alice", api, conf)
			bob := newClient(t, s, "r-"+url[len(url)-3:], "bob", nil, webrtc.Configuration{})
			alice.publish(t, false)
			bob.recvOnly()
			alice.mustOffer()
			bob.mustOffer()
			waitFor(ctx, t, "bob receiving alice's relayed video", func() bool {
				st := bob.track("alice-video")
				return st != nil && st.packets.Load() >= 10
			})
			pair, err := selectedPair(alice.pc)
			if err != nil {
				t.Fatalf("selected pair: %v", err)
			}
			if pair.Local.Typ != webrtc.ICECandidateTypeRelay {
				t.Errorf("got local candidate type %s, want relay", pair.Local.Typ)
			}
		})
	}
}

func selectedPair(pc *webrtc.PeerConnection) (*webrtc.ICECandidatePair, error) {
	sctp := pc.SCTP()
	if sctp == nil {
		return nil, errors.New("no SCTP transport")
	}
	return sctp.Transport().ICETransport().GetSelectedCandidatePair()
}

// TestTURNRefusesForeignPeer allocates through the SFU's TURN server and
// checks that only the SFU's media address can be reached.
func TestTURNRefusesForeignPeer(t *testing.T) {
	s := startSFU(t, func(c *Config) { c.TURN = TURNConfig{UDPAddr: "127.0.0.1:0"} })
	creds, _ := s.TURNCredentials("mallory")

	bystander, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatalf("listen bystander: %v", err)
	}
	defer bystander.Close()

	tc := dialTURN(t, s, creds)
	if err := tc.client.CreatePermission(bystander.LocalAddr()); err == nil {
		t.Errorf("CreatePermission(%v): got nil error, want a rejection", bystander.LocalAddr())
	}
	_, _ = tc.relay.WriteTo([]byte("probe"), bystander.LocalAddr())

	media := s.MediaAddrs()
	if len(media) == 0 {
		t.Fatalf("no media address")
	}
	if err := tc.client.CreatePermission(net.UDPAddrFromAddrPort(media[0])); err != nil {
		t.Errorf("CreatePermission(SFU media %v): got %v, want nil", media[0], err)
	}

	_ = bystander.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	buf := make([]byte, 1500)
	if n, from, err := bystander.ReadFrom(buf); err == nil {
		t.Errorf("bystander got %d bytes from %v, want nothing", n, from)
	}
	if got := s.Stats().TURNDeniedPermissions; got == 0 {
		t.Errorf("got %d denied TURN permissions, want at least 1", got)
	}
}

func TestUnansweredOfferDropsPeer(t *testing.T) {
	s := startSFU(t, func(c *Config) { c.AnswerTimeout = 300 * time.Millisecond })
	ctx := testContext(t, 15*time.Second)
	alice := newClient(t, s, "r1", "alice", nil, webrtc.Configuration{})
	bob := newClient(t, s, "r1", "bob", nil, webrtc.Configuration{})
	bob.recvOnly()
	bob.mustOffer()
	waitFor(ctx, t, "bob connected", bob.connected)

	// Bob stops processing SFU messages; alice's track makes the SFU offer.
	bob.paused.Store(true)
	alice.publish(t, false)
	alice.mustOffer()
	select {
	case reason := <-bob.closedBy:
		if !errors.Is(reason, ErrAnswerTimeout) {
			t.Errorf("got close reason %v, want ErrAnswerTimeout", reason)
		}
	case <-ctx.Done():
		t.Fatalf("bob was not dropped for leaving the offer unanswered")
	}
	bob.paused.Store(false)
	if st := alice.peer.isClosed(); st {
		t.Errorf("alice was dropped too, want her kept")
	}
}
