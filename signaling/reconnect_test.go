package signaling

import (
	"testing"
	"time"
)

// The tests in this file run the hub with the real SFU and Pion clients on
// loopback, and cut a participant's TCP connection without a close frame.

// callPair connects doc, the host, receiving only, and pat, admitted and
// publishing video, and waits until doc receives pat's video.
func callPair(t *testing.T, e *env) (doc, pat *rtcClient, patJoined JoinedMessage) {
	t.Helper()
	doc = newRTCClient(t, e, "doc", false)
	doc.connect()
	doc.write(JoinMessage{Header: Header{Type: TypeJoin}, Consultation: "c1"})
	doc.expect(TypeJoined, nil)
	doc.offer(false)

	pat = newRTCClient(t, e, "pat", true)
	pat.connect()
	pat.write(JoinMessage{Header: Header{Type: TypeJoin}, Consultation: "c1"})
	pat.expect(TypeJoined, &patJoined)
	doc.write(AdmitMessage{Header: Header{Type: TypeAdmit}, Participant: patJoined.Participant})
	pat.expect(TypeAdmitted, nil)
	pat.offer(false)

	waitUntil(t, "doc receives pat's video", func() bool {
		n, _ := doc.received(patJoined.Participant)
		return n >= 20
	})
	waitUntil(t, "negotiation settled", func() bool { return doc.settled() && pat.settled() })
	return doc, pat, patJoined
}

// resumeAs sends join with the resume token on rc's new connection and
// returns joined.
func resumeAs(t *testing.T, rc *rtcClient, token string) JoinedMessage {
	t.Helper()
	rc.connect()
	rc.write(JoinMessage{Header: Header{Type: TypeJoin}, Consultation: "c1", Resume: token})
	var j JoinedMessage
	rc.expect(TypeJoined, &j)
	if !j.Resumed {
		t.Fatalf("got %+v, want a resumed participant", j)
	}
	return j
}

// waitPackets waits until doc received n more packets from stream.
func waitPackets(t *testing.T, doc *rtcClient, stream string, n int64, what string) {
	t.Helper()
	start, _ := doc.received(stream)
	waitUntil(t, what, func() bool {
		got, _ := doc.received(stream)
		return got >= start+n
	})
}

func TestReconnectRestartsICE(t *testing.T) {
	checkLeaks(t)
	e, m := newMediaEnv(t, nil)
	doc, pat, first := callPair(t, e)
	pid := first.Participant
	docOffers, patOffers := doc.sfuOffers.Load(), m.offersTo(pid)
	ufrag := pat.remoteUfrag()

	pat.cut()
	var pres PresenceUpdate
	doc.expect(TypePresence, &pres)
	if pres.Status != PresenceDisconnected {
		t.Errorf("got presence %q, want %q", pres.Status, PresenceDisconnected)
	}
	waitPackets(t, doc, pid, 20, "doc receives pat's video while pat's WebSocket is down")

	again := resumeAs(t, pat, first.Resume)
	if again.Media != MediaKept {
		t.Fatalf("got media %q in joined, want %q", again.Media, MediaKept)
	}
	pat.offer(true)
	waitUntil(t, "the ICE restart is answered", func() bool { return pat.restarts.Load() == 1 })
	if got := pat.remoteUfrag(); got == ufrag || got == "" {
		t.Errorf("got SFU ufrag %q after the ICE restart, want a new one (was %q)", got, ufrag)
	}
	waitPackets(t, doc, pid, 20, "doc receives pat's video after the ICE restart")

	if n := doc.sfuOffers.Load() - docOffers; n != 0 {
		t.Errorf("doc got %d renegotiations, want 0", n)
	}
	if _, ended := doc.received(pid); ended != 0 {
		t.Errorf("%d of pat's tracks ended at doc, want 0", ended)
	}
	if n := doc.trackCount(pid); n != 1 {
		t.Errorf("doc got %d tracks from pat, want 1", n)
	}
	if n := m.offersTo(pid) - patOffers; n != 0 {
		t.Errorf("the SFU sent pat %d offers, want 0", n)
	}
	if n := pat.rejected.Load(); n != 0 {
		t.Errorf("%d of pat's offers were rejected, want 0", n)
	}
	if n := pat.mediaClosed.Load() + doc.mediaClosed.Load(); n != 0 {
		t.Errorf("got %d media-closed messages, want 0", n)
	}
	doc.expect(TypePresence, &pres)
	if pres.Status != PresenceActive {
		t.Errorf("got presence %q after the resume, want %q", pres.Status, PresenceActive)
	}
}

func TestReconnectResendsLostOffer(t *testing.T) {
	checkLeaks(t)
	e, m := newMediaEnv(t, nil)
	doc, pat, first := callPair(t, e)
	pid := first.Participant
	var docID string
	e.hub.mu.Lock()
	r := e.hub.rooms["c1"]
	e.hub.mu.Unlock()
	r.mu.Lock()
	for _, p := range r.participants {
		if p.userID == "doc" {
			docID = p.id
		}
	}
	r.mu.Unlock()

	// While pat is away, doc starts sending video: the SFU's offer of
	// that track to pat is lost.
	pat.cut()
	doc.expect(TypePresence, nil)
	before := m.offersTo(pid)
	doc.publish()
	doc.offer(false)
	waitUntil(t, "the SFU offers doc's video to pat", func() bool { return m.offersTo(pid) > before })
	docOffers := doc.sfuOffers.Load()

	again := resumeAs(t, pat, first.Resume)
	if again.Media != MediaKept {
		t.Fatalf("got media %q in joined, want %q", again.Media, MediaKept)
	}
	pat.offer(true)
	waitUntil(t, "the ICE restart is answered", func() bool { return pat.restarts.Load() == 1 })
	if n := pat.rejected.Load(); n != 1 {
		t.Errorf("%d of pat's offers were rejected, want the one that crossed the lost offer", n)
	}
	if n := pat.sfuOffers.Load(); n < 1 {
		t.Errorf("pat answered %d SFU offers, want the lost one sent again", n)
	}
	waitUntil(t, "pat receives doc's video", func() bool {
		n, _ := pat.received(docID)
		return n >= 20
	})
	waitPackets(t, doc, pid, 20, "doc receives pat's video after the resume")
	if n := doc.sfuOffers.Load() - docOffers; n != 0 {
		t.Errorf("doc got %d renegotiations, want 0", n)
	}
	if _, ended := doc.received(pid); ended != 0 {
		t.Errorf("%d of pat's tracks ended at doc, want 0", ended)
	}
}

func TestReconnectNewPeerConnection(t *testing.T) {
	checkLeaks(t)
	e, _ := newMediaEnv(t, nil)
	doc, pat, first := callPair(t, e)
	pid := first.Participant

	// A client unaware of kept media abandons its RTCPeerConnection and
	// starts a new one after the resume.
	pat.cut()
	doc.expect(TypePresence, nil)
	tracks := doc.trackCount(pid)
	fresh := newRTCClient(t, e, "pat", true)
	again := resumeAs(t, fresh, first.Resume)
	if again.Media != MediaKept {
		t.Fatalf("got media %q in joined, want %q", again.Media, MediaKept)
	}
	fresh.offer(false)
	waitUntil(t, "doc receives video from pat's new PeerConnection", func() bool {
		return doc.packetsSince(pid, tracks) >= 20
	})
	if n := fresh.rejected.Load(); n != 0 {
		t.Errorf("%d of the new PeerConnection's offers were rejected, want 0", n)
	}
	if n := doc.sfuOffers.Load(); n == 0 {
		t.Error("doc got no renegotiation for pat's new track")
	}
	waitUntil(t, "pat's old track ends at doc", func() bool {
		_, ended := doc.received(pid)
		return ended == tracks
	})
}

func TestReconnectGraceEnds(t *testing.T) {
	checkLeaks(t)
	e, _ := newMediaEnv(t, func(c *Config) { c.ResumeGrace = 500 * time.Millisecond })
	doc, pat, first := callPair(t, e)
	pid := first.Participant
	offers := doc.sfuOffers.Load()

	pat.cut()
	doc.expect(TypePresence, nil)
	var left ParticipantLeftMessage
	doc.expect(TypeParticipantLeft, &left)
	if left.Participant.Participant != pid || left.Reason != LeftReasonTimeout {
		t.Errorf("got %+v, want pat with reason timeout", left)
	}
	waitUntil(t, "pat's track ends at doc", func() bool {
		_, ended := doc.received(pid)
		return ended == 1
	})
	waitUntil(t, "doc renegotiates to remove pat's track", func() bool {
		return doc.sfuOffers.Load() > offers
	})
}
