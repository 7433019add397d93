package sfu

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
)

func TestForwardBetweenTwoParticipants(t *testing.T) {
	s := startSFU(t, nil)
	ctx := testContext(t, 15*time.Second)

	alice := newClient(t, s, "room1", "alice", nil, webrtc.Configuration{})
	bob := newClient(t, s, "room1", "bob", nil, webrtc.Configuration{})
	alice.publish(t, true)
	bob.publish(t, true)
	alice.mustOffer()
	bob.mustOffer()

	for _, tc := range []struct {
		receiver *client
		trackID  string
		from     string
	}{
		{bob, "alice-video", "alice"},
		{bob, "alice-audio", "alice"},
		{alice, "bob-video", "bob"},
		{alice, "bob-audio", "bob"},
	} {
		waitFor(ctx, t, tc.receiver.name+" receiving "+tc.trackID, func() bool {
			st := tc.receiver.track(tc.trackID)
			return st != nil && st.packets.Load() >= 20
		})
		if got := tc.receiver.track(tc.trackID).streamID; got != tc.from {
			t.Errorf("%s: got stream ID %q, want the publisher %q", tc.trackID, got, tc.from)
		}
	}
	if alice.track("alice-video") != nil {
		t.Errorf("alice received her own video, want only bob's tracks")
	}

	st := s.Stats()
	if st.Rooms != 1 || st.Peers != 2 || st.Tracks != 4 || st.Subscriptions != 4 {
		t.Errorf("got stats rooms=%d peers=%d tracks=%d subscriptions=%d, want 1, 2, 4, 4",
			st.Rooms, st.Peers, st.Tracks, st.Subscriptions)
	}
	if st.ForwardedPackets < 80 || st.ForwardedBytes <= st.ForwardedPackets*12 {
		t.Errorf("got %d packets and %d bytes forwarded, want at least 80 packets of more than 12 bytes",
			st.ForwardedPackets, st.ForwardedBytes)
	}
}

func TestLateJoinerGetsKeyframe(t *testing.T) {
	s := startSFU(t, nil)
	ctx := testContext(t, 15*time.Second)

	alice := newClient(t, s, "room1", "alice", nil, webrtc.Configuration{})
	bob := newClient(t, s, "room1", "bob", nil, webrtc.Configuration{})
	alice.publish(t, false)
	bob.recvOnly()
	alice.mustOffer()
	bob.mustOffer()
	waitFor(ctx, t, "bob receiving alice's video", func() bool {
		st := bob.track("alice-video")
		return st != nil && st.packets.Load() >= 10
	})
	// Let the keyframe interval pass so the late joiner's request is not
	// folded into bob's.
	time.Sleep(300 * time.Millisecond)
	plisBefore := alice.plis.Load()

	carol := newClient(t, s, "room1", "carol", nil, webrtc.Configuration{})
	carol.recvOnly()
	carol.mustOffer()
	waitFor(ctx, t, "carol receiving a keyframe from alice", func() bool {
		st := carol.track("alice-video")
		return st != nil && st.keyframes.Load() >= 1
	})
	if got := alice.plis.Load(); got <= plisBefore {
		t.Errorf("got %d PLIs at the publisher after carol joined, want more than %d", got, plisBefore)
	}
	if got := s.Stats().KeyframeRequests; got == 0 {
		t.Errorf("got %d keyframe requests in stats, want at least 1", got)
	}
}

func TestPublisherLeavesTrackRemoved(t *testing.T) {
	s := startSFU(t, nil)
	ctx := testContext(t, 15*time.Second)

	alice := newClient(t, s, "room1", "alice", nil, webrtc.Configuration{})
	bob := newClient(t, s, "room1", "bob", nil, webrtc.Configuration{})
	alice.publish(t, true)
	bob.recvOnly()
	alice.mustOffer()
	bob.mustOffer()
	waitFor(ctx, t, "bob receiving alice's video", func() bool {
		st := bob.track("alice-video")
		return st != nil && st.packets.Load() >= 5
	})
	offersBefore := bob.offers.Load()

	if err := alice.peer.Close(); err != nil {
		t.Fatalf("alice Close: %v", err)
	}
	waitFor(ctx, t, "bob's renegotiation after alice left", func() bool {
		return bob.offers.Load() > offersBefore
	})
	waitFor(ctx, t, "alice's tracks ending at bob", func() bool {
		return bob.track("alice-video").ended.Load() && bob.track("alice-audio").ended.Load()
	})
	if sdp := bob.lastSDP.Load().(string); strings.Contains(sdp, "msid:alice ") {
		t.Errorf("SFU offer after alice left still announces her stream:\n%s", sdp)
	}
	waitFor(ctx, t, "stats without alice's tracks", func() bool {
		st := s.Stats()
		return st.Tracks == 0 && st.Subscriptions == 0 && st.Peers == 1
	})
}

func TestVanishedClientCleanedUp(t *testing.T) {
	tests := []struct {
		name   string
		vanish func(c *client, hole *blackholeConn)
	}{
		{"peer connection closed", func(c *client, _ *blackholeConn) { _ = c.pc.Close() }},
		{"network gone", func(_ *client, hole *blackholeConn) { hole.dead.Store(true) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startSFU(t, nil)
			ctx := testContext(t, 15*time.Second)

			conn, err := (&netListener{}).listen()
			if err != nil {
				t.Fatalf("listen: %v", err)
			}
			hole := &blackholeConn{PacketConn: conn}
			api := clientAPI(t, func(se *webrtc.SettingEngine) {
				se.SetICEUDPMux(webrtc.NewICEUDPMux(nil, hole))
			})
			t.Cleanup(func() { _ = conn.Close() })

			alice := newClient(t, s, "room1", "alice", api, webrtc.Configuration{})
			bob := newClient(t, s, "room1", "bob", nil, webrtc.Configuration{})
			alice.publish(t, true)
			bob.recvOnly()
			alice.mustOffer()
			bob.mustOffer()
			waitFor(ctx, t, "bob receiving alice's video", func() bool {
				st := bob.track("alice-video")
				return st != nil && st.packets.Load() >= 5
			})

			start := time.Now()
			tt.vanish(alice, hole)
			var reason error
			select {
			case reason = <-alice.closedBy:
			case <-ctx.Done():
				t.Fatalf("alice was not dropped")
			}
			if !errors.Is(reason, ErrConnectionLost) {
				t.Errorf("got close reason %v, want ErrConnectionLost", reason)
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("cleanup took %v, want under 5s", took)
			}
			waitFor(ctx, t, "alice's tracks removed", func() bool {
				st := s.Stats()
				return st.Peers == 1 && st.Tracks == 0 && st.Subscriptions == 0
			})
		})
	}
}

func TestRoomReleasedWhenEmpty(t *testing.T) {
	s := startSFU(t, nil)
	ctx := testContext(t, 10*time.Second)
	alice := newClient(t, s, "room1", "alice", nil, webrtc.Configuration{})
	bob := newClient(t, s, "room2", "bob", nil, webrtc.Configuration{})
	if got := s.Stats().Rooms; got != 2 {
		t.Fatalf("got %d rooms, want 2", got)
	}
	_ = alice.peer.Close()
	_ = bob.peer.Close()
	waitFor(ctx, t, "rooms released", func() bool {
		st := s.Stats()
		return st.Rooms == 0 && st.Peers == 0
	})
}

func TestCandidatesBeforeOffer(t *testing.T) {
	s := startSFU(t, nil)
	ctx := testContext(t, 15*time.Second)
	alice := newClient(t, s, "room1", "alice", nil, webrtc.Configuration{})
	bob := newClient(t, s, "room1", "bob", nil, webrtc.Configuration{})
	alice.publish(t, false)
	bob.recvOnly()

	// Trickle: gather the candidates, send them first, then an offer that
	// carries none.
	var cands []webrtc.ICECandidateInit
	done := make(chan struct{})
	alice.pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c == nil {
			close(done)
			return
		}
		cands = append(cands, c.ToJSON())
	})
	offer, err := alice.pc.CreateOffer(nil)
	if err != nil {
		t.Fatalf("create offer: %v", err)
	}
	if err := alice.pc.SetLocalDescription(offer); err != nil {
		t.Fatalf("set local offer: %v", err)
	}
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatalf("gathering timed out")
	}
	if len(cands) == 0 {
		t.Fatalf("got no client candidates, want at least one")
	}
	for _, c := range cands {
		if err := alice.peer.AddICECandidate(c); err != nil {
			t.Fatalf("AddICECandidate before offer: %v", err)
		}
	}
	alice.peer.negMu.Lock()
	buffered := len(alice.peer.candidates)
	alice.peer.negMu.Unlock()
	if buffered != len(cands) {
		t.Errorf("got %d buffered candidates, want %d", buffered, len(cands))
	}
	if strings.Contains(offer.SDP, "a=candidate") {
		t.Fatalf("offer carries candidates, want none for this test")
	}
	if err := alice.sendOffer(offer, false); err != nil {
		t.Fatalf("HandleOffer: %v", err)
	}
	bob.mustOffer()
	waitFor(ctx, t, "bob receiving alice's video", func() bool {
		st := bob.track("alice-video")
		return st != nil && st.packets.Load() >= 5
	})
	alice.peer.negMu.Lock()
	buffered = len(alice.peer.candidates)
	alice.peer.negMu.Unlock()
	if buffered != 0 {
		t.Errorf("got %d candidates still buffered after the offer, want 0", buffered)
	}
}

// TestRepublishReusesSections has a publisher leave and come back several
// times: the subscriber's SDP must not grow by two sections each time,
// because Pion reuses the transceivers of removed tracks.
func TestRepublishReusesSections(t *testing.T) {
	s := startSFU(t, nil)
	ctx := testContext(t, 30*time.Second)
	bob := newClient(t, s, "room1", "bob", nil, webrtc.Configuration{})
	bob.recvOnly()
	bob.mustOffer()

	sections := func() int {
		sdp, _ := bob.lastSDP.Load().(string)
		return strings.Count(sdp, "\r\nm=")
	}
	var first int
	for round := range 3 {
		name := "alice" + string(rune('a'+round))
		alice := newClient(t, s, "room1", name, nil, webrtc.Configuration{})
		alice.publish(t, true)
		alice.mustOffer()
		waitFor(ctx, t, "bob receiving "+name+"'s video", func() bool {
			st := bob.track(name + "-video")
			return st != nil && st.packets.Load() >= 5
		})
		if round == 0 {
			first = sections()
		}
		_ = alice.peer.Close()
		alice.close()
		waitFor(ctx, t, name+"'s tracks removed", func() bool {
			st := bob.track(name + "-video")
			return st.ended.Load() && s.Stats().Tracks == 0
		})
	}
	if got := sections(); got > first {
		t.Errorf("got %d media sections after 3 rounds, want at most %d as after the first", got, first)
	}
}
