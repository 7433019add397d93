package sfu

import (
	"errors"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
)

// TestNewPeerConnectionRejected sends the offer of a second client
// PeerConnection to a negotiated peer: the SFU rejects it with
// ErrNewSession and the first PeerConnection keeps its session.
func TestNewPeerConnectionRejected(t *testing.T) {
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
	offersBefore := bob.offers.Load()

	fresh, err := clientAPI(t, nil).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatalf("new peer connection: %v", err)
	}
	t.Cleanup(func() { _ = fresh.Close() })
	for _, kind := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecTypeAudio} {
		_, err := fresh.AddTransceiverFromKind(kind, webrtc.RTPTransceiverInit{
			Direction: webrtc.RTPTransceiverDirectionRecvonly,
		})
		if err != nil {
			t.Fatalf("add %s transceiver: %v", kind, err)
		}
	}
	offer, err := fresh.CreateOffer(nil)
	if err != nil {
		t.Fatalf("create offer: %v", err)
	}
	if _, err := bob.peer.HandleOffer(offer.SDP); !errors.Is(err, ErrNewSession) {
		t.Fatalf("offer of a new PeerConnection: got %v, want ErrNewSession", err)
	}

	// Bob's first PeerConnection is untouched: no renegotiation, and media
	// keeps flowing.
	got := bob.track("alice-video").packets.Load()
	waitFor(ctx, t, "media after the rejected offer", func() bool {
		return bob.track("alice-video").packets.Load() >= got+20
	})
	if n := bob.offers.Load(); n != offersBefore {
		t.Errorf("bob got %d SFU offers after the rejected offer, want 0", n-offersBefore)
	}
	if err := bob.offer(&webrtc.OfferOptions{ICERestart: true}); err != nil {
		t.Errorf("ICE restart of the first PeerConnection after the rejected offer: %v", err)
	}
}

// TestResendOffer loses an SFU offer, as a dropped signaling connection
// would, and has the SFU send it again.
func TestResendOffer(t *testing.T) {
	s := startSFU(t, nil)
	ctx := testContext(t, 15*time.Second)

	alice := newClient(t, s, "room1", "alice", nil, webrtc.Configuration{})
	bob := newClient(t, s, "room1", "bob", nil, webrtc.Configuration{})
	bob.recvOnly()
	bob.mustOffer()
	waitFor(ctx, t, "bob connected", bob.connected)
	if bob.peer.ResendOffer() {
		t.Errorf("ResendOffer without a pending offer: got true, want false")
	}

	bob.dropping.Store(true)
	alice.publish(t, false)
	alice.mustOffer()
	// The offer must have been sent and discarded, not merely created: an
	// offer still on its way when dropping ends would arrive twice.
	waitFor(ctx, t, "an SFU offer lost on the way to bob", func() bool {
		return bob.dropped.Load() > 0
	})
	if n := bob.offers.Load(); n != 0 {
		t.Fatalf("bob applied %d SFU offers while dropping them, want 0", n)
	}

	bob.dropping.Store(false)
	if !bob.peer.ResendOffer() {
		t.Fatalf("ResendOffer with a pending offer: got false, want true")
	}
	waitFor(ctx, t, "bob receiving alice's video", func() bool {
		st := bob.track("alice-video")
		return st != nil && st.packets.Load() >= 5
	})
	if n := bob.offers.Load(); n != 1 {
		t.Errorf("bob applied %d SFU offers, want the repeated one", n)
	}
}
