package signaling

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/bedside-health/bedside/policy"
)

// negotiatedPair returns admittedPair's clients after the patient's first
// offer created its media peer.
func negotiatedPair(t *testing.T, e *env) (doc, pat *client, cut func(), joined JoinedMessage, peer *fakePeer) {
	t.Helper()
	doc, pat, nc, joined := admittedPair(t, e)
	if joined.Media != "" {
		t.Errorf("waiting participant got media %q in joined, want none", joined.Media)
	}
	pat.send(OfferMessage{Header: Header{Type: TypeOffer, ID: "o1"}, SDP: "v=0 first"})
	pat.expect(TypeAnswer, nil)
	peer = e.media.peer(joined.Participant)
	return doc, pat, func() { nc.Close() }, joined, peer
}

// resume connects the patient again and resumes with token; media is the
// join's media field.
func resume(e *env, token, media string) (*client, JoinedMessage) {
	e.t.Helper()
	c := e.connectSession("pat", policy.RolePatient, "pat-session")
	c.send(JoinMessage{Header: Header{Type: TypeJoin}, Consultation: "c1", Resume: token, Media: media})
	var j JoinedMessage
	c.expect(TypeJoined, &j)
	if !j.Resumed {
		e.t.Fatalf("got %+v, want a resumed participant", j)
	}
	return c, j
}

func TestResumeKeepsMedia(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, nil)
	doc, _, cut, first, peer := negotiatedPair(t, e)

	cut()
	doc.expect(TypePresence, nil)
	// Messages of the SFU while the participant is away are dropped.
	peer.sig.SendCandidate(webrtc.ICECandidateInit{Candidate: "candidate:while-away"})
	if _, closed := peer.snapshot(); closed {
		t.Fatal("media peer closed when the connection dropped, want it kept for the grace period")
	}

	pat, again := resume(e, first.Resume, "")
	if again.Media != MediaKept {
		t.Errorf("got media %q in joined, want %q", again.Media, MediaKept)
	}
	doc.expect(TypePresence, nil)
	pat.send(OfferMessage{Header: Header{Type: TypeOffer, ID: "restart"}, SDP: "v=0 ice-restart"})
	var answer AnswerMessage
	pat.expect(TypeAnswer, &answer)
	if answer.SDP != "answer-to v=0 ice-restart" {
		t.Errorf("got answer %q, want the kept peer's answer to the restart", answer.SDP)
	}
	if got := e.media.peer(first.Participant); got != peer {
		t.Error("got a new media peer after the resume, want the kept one")
	}
	calls, closed := peer.snapshot()
	if closed {
		t.Error("kept media peer is closed")
	}
	if want := []string{"offer v=0 first", "offer v=0 ice-restart"}; fmt.Sprint(calls) != fmt.Sprint(want) {
		t.Errorf("SFU got %q, want %q", calls, want)
	}
	if got := counterValue(t, e.hub.metrics.resumes[MediaKept]); got != 1 {
		t.Errorf("got %v resumes with media kept, want 1", got)
	}

	// Resuming while the previous connection is still open keeps the
	// media too.
	third, last := resume(e, again.Resume, "")
	pat.expectClose(CloseSuperseded)
	if last.Media != MediaKept {
		t.Errorf("got media %q after resuming over an open connection, want %q", last.Media, MediaKept)
	}
	third.send(OfferMessage{Header: Header{Type: TypeOffer}, SDP: "v=0 second-restart"})
	third.expect(TypeAnswer, nil)
	if got := e.media.peer(first.Participant); got != peer {
		t.Error("got a new media peer after the second resume, want the kept one")
	}
	if e.media.joins != 1 {
		t.Errorf("got %d SFU joins, want 1", e.media.joins)
	}
}

func TestResumeResendsLostOffer(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, nil)
	doc, _, cut, first, peer := negotiatedPair(t, e)

	cut()
	doc.expect(TypePresence, nil)
	peer.offer("v=0 sfu-while-away") // lost: the participant is disconnected

	pat, again := resume(e, first.Resume, "")
	if again.Media != MediaKept {
		t.Fatalf("got media %q in joined, want %q", again.Media, MediaKept)
	}
	// The restart offer crosses the lost SFU offer, which the hub has the
	// SFU send again ahead of the error reply.
	pat.send(OfferMessage{Header: Header{Type: TypeOffer, ID: "restart"}, SDP: "v=0 ice-restart"})
	var offer OfferMessage
	pat.expect(TypeOffer, &offer)
	if offer.SDP != "v=0 sfu-while-away" {
		t.Errorf("got offer %q, want the lost SFU offer again", offer.SDP)
	}
	if m := pat.expectError(CodeMediaFailed); m.ID != "restart" {
		t.Errorf("got error for request %q, want the restart offer", m.ID)
	}
	pat.send(AnswerMessage{Header: Header{Type: TypeAnswer, ID: "a"}, SDP: "v=0 answer"})
	pat.expect(TypeOK, nil)
	pat.send(OfferMessage{Header: Header{Type: TypeOffer, ID: "restart-2"}, SDP: "v=0 ice-restart"})
	pat.expect(TypeAnswer, nil)

	// An SFU offer that reached this connection is not sent twice when
	// offers cross.
	peer.offer("v=0 sfu-delivered")
	pat.expect(TypeOffer, nil)
	pat.send(OfferMessage{Header: Header{Type: TypeOffer, ID: "glare"}, SDP: "v=0 crossing"})
	if m := pat.expectError(CodeMediaFailed); m.ID != "glare" {
		t.Errorf("got error for request %q, want the crossing offer", m.ID)
	}
	if n := peer.resendCount(); n != 1 {
		t.Errorf("the SFU sent %d offers again, want 1", n)
	}
}

func TestResumeNewSessionFallback(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, nil)
	doc, _, cut, first, peer := negotiatedPair(t, e)
	cut()
	doc.expect(TypePresence, nil)
	peer.offer("v=0 sfu-while-away")

	// A client unaware of kept media starts a new RTCPeerConnection: the
	// kept peer rejects its offer, and the hub replaces the peer and
	// retries once, without sending the lost offer of the old session.
	pat, again := resume(e, first.Resume, "")
	if again.Media != MediaKept {
		t.Fatalf("got media %q in joined, want %q", again.Media, MediaKept)
	}
	peer.failNextOffer(fmt.Errorf("fingerprint changed: %w", ErrNewMediaSession))
	pat.send(OfferMessage{Header: Header{Type: TypeOffer, ID: "new-pc"}, SDP: "v=0 new-pc"})
	var answer AnswerMessage
	pat.expect(TypeAnswer, &answer)
	if answer.ID != "new-pc" || answer.SDP != "answer-to v=0 new-pc" {
		t.Errorf("got answer %+v, want the new peer's answer to request new-pc", answer)
	}
	if _, closed := peer.snapshot(); !closed {
		t.Error("the old media peer is open, want it closed")
	}
	next := e.media.peer(first.Participant)
	if next == peer {
		t.Fatal("got the old media peer, want a new one")
	}
	if calls, _ := next.snapshot(); fmt.Sprint(calls) != "[offer v=0 new-pc]" {
		t.Errorf("new peer got %q, want only the offer", calls)
	}
	if n := peer.resendCount(); n != 0 {
		t.Errorf("the old peer sent %d offers again, want 0", n)
	}

	// The new peer's offers reach the client.
	next.offer("v=0 sfu-new-peer")
	var offer OfferMessage
	pat.expect(TypeOffer, &offer)
	if offer.SDP != "v=0 sfu-new-peer" {
		t.Errorf("got offer %q, want the new peer's", offer.SDP)
	}
}

func TestResumeNewMediaRequested(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, nil)
	doc, _, cut, first, peer := negotiatedPair(t, e)
	cut()
	doc.expect(TypePresence, nil)

	pat, again := resume(e, first.Resume, MediaNew)
	if again.Media != MediaNew {
		t.Errorf("got media %q in joined, want %q", again.Media, MediaNew)
	}
	waitUntil(t, "the old media peer is closed", func() bool {
		_, closed := peer.snapshot()
		return closed
	})
	pat.send(OfferMessage{Header: Header{Type: TypeOffer}, SDP: "v=0 fresh"})
	pat.expect(TypeAnswer, nil)
	if e.media.peer(first.Participant) == peer {
		t.Error("got the old media peer, want a new one")
	}
	if got := counterValue(t, e.hub.metrics.resumes[MediaNew]); got != 1 {
		t.Errorf("got %v resumes with new media, want 1", got)
	}
}

func TestResumeAfterSFUClosedPeer(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, nil)
	doc, _, cut, first, peer := negotiatedPair(t, e)
	cut()
	doc.expect(TypePresence, nil)
	peer.sig.Closed(errors.New("ice failed")) // dropped: the participant is disconnected

	pat, again := resume(e, first.Resume, "")
	if again.Media != MediaNew {
		t.Errorf("got media %q after the SFU closed the peer, want %q", again.Media, MediaNew)
	}
	pat.send(OfferMessage{Header: Header{Type: TypeOffer}, SDP: "v=0 fresh"})
	var answer AnswerMessage
	pat.expect(TypeAnswer, &answer) // not media-closed: the hub dropped it
	if e.media.peer(first.Participant) == peer {
		t.Error("got the closed media peer, want a new one")
	}
	if _, closed := peer.snapshot(); !closed {
		t.Error("the SFU-closed peer was not closed by the hub")
	}
}

func TestGraceEndClosesKeptMedia(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, func(c *Config) { c.ResumeGrace = 300 * time.Millisecond })
	doc, _, cut, first, peer := negotiatedPair(t, e)
	cut()
	doc.expect(TypePresence, nil)
	if _, closed := peer.snapshot(); closed {
		t.Fatal("media peer closed when the connection dropped, want it kept for the grace period")
	}
	var left ParticipantLeftMessage
	doc.expect(TypeParticipantLeft, &left)
	if left.Reason != LeftReasonTimeout {
		t.Errorf("got reason %q, want %q", left.Reason, LeftReasonTimeout)
	}
	waitUntil(t, "the media peer is closed after the grace period", func() bool {
		_, closed := peer.snapshot()
		return closed
	})

	// The spent token joins afresh, without media.
	pat := e.connectSession("pat", policy.RolePatient, "pat-session")
	pat.send(JoinMessage{Header: Header{Type: TypeJoin}, Consultation: "c1", Resume: first.Resume})
	var j JoinedMessage
	pat.expect(TypeJoined, &j)
	if j.Resumed || j.State != StateWaiting || j.Media != "" {
		t.Errorf("got %+v after the grace period, want a new waiting participant without media", j)
	}
}

func TestRevokeEndsGracePeriod(t *testing.T) {
	for _, tc := range []struct {
		name   string
		revoke func(*Hub)
	}{
		{"session", func(h *Hub) { h.RevokeSession("pat-session") }},
		{"user", func(h *Hub) { h.RevokeUser("pat") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkLeaks(t)
			e := newEnv(t, nil)
			doc, _, cut, first, peer := negotiatedPair(t, e)
			cut()
			doc.expect(TypePresence, nil)

			tc.revoke(e.hub)
			var left ParticipantLeftMessage
			doc.expect(TypeParticipantLeft, &left)
			if left.Participant.Participant != first.Participant || left.Reason != LeftReasonRevoked {
				t.Errorf("host got %+v, want the patient with reason revoked", left)
			}
			waitUntil(t, "the revoked participant's media peer is closed", func() bool {
				_, closed := peer.snapshot()
				return closed
			})

			// The token no longer resumes, even from another session.
			pat := e.connectSession("pat", policy.RolePatient, "pat-phone")
			pat.send(JoinMessage{Header: Header{Type: TypeJoin}, Consultation: "c1", Resume: first.Resume})
			var j JoinedMessage
			pat.expect(TypeJoined, &j)
			if j.Resumed || j.State != StateWaiting {
				t.Errorf("got %+v after the revocation, want a new waiting participant", j)
			}
		})
	}
}
