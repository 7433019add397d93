package sfu

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// TestCrossingOffers makes a client offer cross an SFU offer: the SFU keeps
// its offer and rejects the client's; after the client answers and offers
// again, media flows both ways.
func TestCrossingOffers(t *testing.T) {
	s := startSFU(t, nil)
	ctx := testContext(t, 15*time.Second)

	alice := newClient(t, s, "room1", "alice", nil, webrtc.Configuration{})
	bob := newClient(t, s, "room1", "bob", nil, webrtc.Configuration{})
	bob.recvOnly()
	alice.recvOnly()
	alice.mustOffer()
	bob.mustOffer()
	waitFor(ctx, t, "both connected", func() bool { return alice.connected() && bob.connected() })

	// Hold bob's incoming messages, as if the SFU's offer were in flight.
	bob.paused.Store(true)
	alice.publish(t, false)
	alice.mustOffer()
	waitFor(ctx, t, "an SFU offer queued for bob", func() bool {
		bob.peer.negMu.Lock()
		defer bob.peer.negMu.Unlock()
		return bob.peer.pc.SignalingState() == webrtc.SignalingStateHaveLocalOffer
	})

	// Bob publishes too and offers while the SFU's offer is unanswered: the
	// SFU rejects the crossing offer and keeps its own.
	bob.publish(t, false)
	if err := bob.offer(nil); !errors.Is(err, ErrOfferCollision) {
		t.Fatalf("bob's crossing offer: got %v, want ErrOfferCollision", err)
	}
	if got := s.Stats().Glare; got != 1 {
		t.Errorf("got %d glare events, want 1", got)
	}

	// Bob answers the SFU's offer, then offers again.
	bob.paused.Store(false)
	waitFor(ctx, t, "the SFU's offer answered", func() bool {
		bob.peer.negMu.Lock()
		defer bob.peer.negMu.Unlock()
		return bob.peer.pc.SignalingState() == webrtc.SignalingStateStable
	})
	if err := bob.offer(nil); err != nil {
		t.Fatalf("bob's offer after glare: %v", err)
	}

	waitFor(ctx, t, "bob receiving alice's video", func() bool {
		st := bob.track("alice-video")
		return st != nil && st.packets.Load() >= 5
	})
	waitFor(ctx, t, "alice receiving bob's video", func() bool {
		st := alice.track("bob-video")
		return st != nil && st.packets.Load() >= 5
	})
}

func TestStaleAnswerRejected(t *testing.T) {
	s := startSFU(t, nil)
	c := newClient(t, s, "room1", "alice", nil, webrtc.Configuration{})
	c.recvOnly()
	offer, err := c.pc.CreateOffer(nil)
	if err != nil {
		t.Fatalf("create offer: %v", err)
	}
	if _, err := c.peer.HandleOffer(offer.SDP); err != nil {
		t.Fatalf("HandleOffer: %v", err)
	}
	// Any description will do: the SFU has no offer out.
	err = c.peer.HandleAnswer(offer.SDP)
	if !errors.Is(err, ErrNoPendingOffer) {
		t.Errorf("answer without an SFU offer: got %v, want ErrNoPendingOffer", err)
	}
}

// TestOfferWithoutMedia sends an offer with no media sections: the SFU
// answers it, publishes nothing, and later offers tracks that do arrive.
func TestOfferWithoutMedia(t *testing.T) {
	s := startSFU(t, nil)
	ctx := testContext(t, 15*time.Second)

	bob := newClient(t, s, "room1", "bob", nil, webrtc.Configuration{})
	offer, err := bob.pc.CreateOffer(nil)
	if err != nil {
		t.Fatalf("create offer: %v", err)
	}
	if strings.Contains(offer.SDP, "m=") {
		t.Fatalf("offer has media sections, want none:\n%s", offer.SDP)
	}
	answer, err := bob.peer.HandleOffer(offer.SDP)
	if err != nil {
		t.Fatalf("HandleOffer without media: %v", err)
	}
	var parsed sdp.SessionDescription
	if err := parsed.UnmarshalString(answer); err != nil {
		t.Fatalf("answer does not parse: %v\n%s", err, answer)
	}
	if len(parsed.MediaDescriptions) != 0 {
		t.Errorf("got %d media sections in the answer, want 0", len(parsed.MediaDescriptions))
	}
	if st := s.Stats(); st.Tracks != 0 || st.Peers != 1 {
		t.Errorf("got tracks=%d peers=%d, want 0 and 1", st.Tracks, st.Peers)
	}

	// The client never applied a local offer, so the SFU's offer finds it
	// stable. Alice publishes and bob must get her video.
	alice := newClient(t, s, "room1", "alice", nil, webrtc.Configuration{})
	alice.publish(t, false)
	alice.mustOffer()
	waitFor(ctx, t, "bob receiving alice's video", func() bool {
		st := bob.track("alice-video")
		return st != nil && st.packets.Load() >= 5
	})
}

// TestICERestart restarts ICE from the client, as after a network change:
// the answer carries new ICE credentials and media keeps flowing.
func TestICERestart(t *testing.T) {
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
		return st != nil && st.packets.Load() >= 5
	})
	waitFor(ctx, t, "bob's renegotiation settled", func() bool {
		return bob.pc.SignalingState() == webrtc.SignalingStateStable && bob.offers.Load() > 0
	})
	before := iceUfrag(t, bob.pc.RemoteDescription().SDP)

	if err := bob.offer(&webrtc.OfferOptions{ICERestart: true}); err != nil {
		t.Fatalf("ICE restart offer: %v", err)
	}
	waitFor(ctx, t, "restart answer applied", func() bool {
		rd := bob.pc.CurrentRemoteDescription()
		return rd != nil && iceUfrag(t, rd.SDP) != before
	})
	got := bob.track("alice-video").packets.Load()
	waitFor(ctx, t, "media after the ICE restart", func() bool {
		return bob.track("alice-video").packets.Load() >= got+20 && bob.connected()
	})
}

func iceUfrag(t *testing.T, raw string) string {
	t.Helper()
	for _, line := range strings.Split(raw, "\r\n") {
		if v, ok := strings.CutPrefix(line, "a=ice-ufrag:"); ok {
			return v
		}
	}
	t.Fatalf("no ice-ufrag in SDP")
	return ""
}
