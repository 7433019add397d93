package signaling

import (
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/webrtc/v4"

	"github.com/bedside-health/bedside/policy"
)

// admittedPair returns a host and an admitted patient in consultation c1,
// the patient's TCP connection, and its joined message.
func admittedPair(t *testing.T, e *env) (doc, pat *client, patConn net.Conn, joined JoinedMessage) {
	t.Helper()
	e.rooms.add("c1", []string{"doc"}, "pat")
	doc = e.connect("doc", policy.RoleClinician)
	doc.join("c1")

	var nc net.Conn
	d := rawDialer(&nc)
	ws, _, err := d.Dial(e.url(), nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { ws.Close() })
	pat = &client{t: t, ws: ws}
	pat.send(AuthMessage{Header: Header{Type: TypeAuth}, Token: e.auth.add("pat", policy.RolePatient, "pat-session")})
	pat.expect(TypeAuthOK, nil)
	joined = pat.join("c1")
	doc.send(AdmitMessage{Header: Header{Type: TypeAdmit}, Participant: joined.Participant})
	pat.expect(TypeAdmitted, nil)
	doc.waitFor(TypeParticipantJoined, nil, TypeWaiting, TypeWaitingList)
	doc.expect(TypeWaitingList, nil)
	return doc, pat, nc, joined
}

func TestVanishedClient(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, func(c *Config) { c.ResumeGrace = 200 * time.Millisecond })
	doc, pat, nc, joined := admittedPair(t, e)
	pat.send(OfferMessage{Header: Header{Type: TypeOffer}, SDP: "v=0"})
	pat.expect(TypeAnswer, nil)

	nc.Close() // no close frame
	var pres PresenceUpdate
	doc.expect(TypePresence, &pres)
	if pres.Participant != joined.Participant || pres.Status != PresenceDisconnected {
		t.Errorf("host got presence %+v, want the patient disconnected", pres)
	}
	var left ParticipantLeftMessage
	doc.expect(TypeParticipantLeft, &left)
	if left.Participant.Participant != joined.Participant || left.Reason != LeftReasonTimeout {
		t.Errorf("host got %+v, want the patient with reason timeout", left)
	}
	waitUntil(t, "the vanished patient's media peer is closed", func() bool {
		_, closed := e.media.peer(joined.Participant).snapshot()
		return closed
	})

	doc.send(LeaveMessage{Header: Header{Type: TypeLeave}})
	waitUntil(t, "the room is gone", func() bool { return e.roomCount() == 0 })
}

func TestResume(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, nil)
	doc, _, nc, first := admittedPair(t, e)

	nc.Close()
	doc.expect(TypePresence, nil)

	pat := e.connectSession("pat", policy.RolePatient, "pat-session")
	pat.send(JoinMessage{Header: Header{Type: TypeJoin}, Consultation: "c1", Resume: first.Resume})
	var again JoinedMessage
	pat.expect(TypeJoined, &again)
	if !again.Resumed || again.Participant != first.Participant || again.State != StateAdmitted {
		t.Fatalf("got %+v, want participant %s resumed and admitted", again, first.Participant)
	}
	if again.Resume == first.Resume {
		t.Error("got the same resume token after resuming, want a new one")
	}
	if len(again.Roster) != 2 {
		t.Errorf("got roster %+v, want the host and the patient once each", again.Roster)
	}
	var pres PresenceUpdate
	doc.expect(TypePresence, &pres)
	if pres.Participant != first.Participant || pres.Status != PresenceActive {
		t.Errorf("host got presence %+v, want the patient active", pres)
	}

	// The old token is spent: it yields a new participant in the waiting room.
	other := e.connectSession("pat", policy.RolePatient, "pat-session")
	other.send(JoinMessage{Header: Header{Type: TypeJoin}, Consultation: "c1", Resume: first.Resume})
	var fresh JoinedMessage
	other.expect(TypeJoined, &fresh)
	if fresh.Resumed || fresh.Participant == first.Participant || fresh.State != StateWaiting {
		t.Errorf("got %+v with a spent token, want a new waiting participant", fresh)
	}
	doc.waitFor(TypeWaitingList, nil, TypeWaiting)

	// Resuming while the old connection is still open supersedes it.
	third := e.connectSession("pat", policy.RolePatient, "pat-session")
	third.send(JoinMessage{Header: Header{Type: TypeJoin}, Consultation: "c1", Resume: again.Resume})
	var last JoinedMessage
	third.expect(TypeJoined, &last)
	if !last.Resumed || last.Participant != first.Participant {
		t.Errorf("got %+v, want participant %s resumed", last, first.Participant)
	}
	pat.expectClose(CloseSuperseded)

	// Another user cannot use a token.
	mallory := e.connectSession("pat2", policy.RolePatient, "m")
	e.rooms.mu.Lock()
	e.rooms.consultations["c1"].members["pat2"] = policy.RolePatient
	e.rooms.mu.Unlock()
	mallory.send(JoinMessage{Header: Header{Type: TypeJoin}, Consultation: "c1", Resume: last.Resume})
	var stolen JoinedMessage
	mallory.expect(TypeJoined, &stolen)
	if stolen.Resumed || stolen.State != StateWaiting {
		t.Errorf("another user's resume got %+v, want a new waiting participant", stolen)
	}

	// The host saw exactly one participant join: no duplicate, no ghost.
	e.hub.mu.Lock()
	r := e.hub.rooms["c1"]
	e.hub.mu.Unlock()
	r.mu.Lock()
	roster := r.rosterLocked()
	r.mu.Unlock()
	if len(roster) != 2 {
		t.Errorf("got roster %+v, want 2 admitted participants", roster)
	}
}

func TestRevokeSession(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, nil)
	doc, pat, _, joined := admittedPair(t, e)
	otherDevice := e.connectSession("pat", policy.RolePatient, "pat-phone")

	start := time.Now()
	e.hub.RevokeSession("pat-session")
	pat.ws.SetReadDeadline(time.Now().Add(time.Second))
	if _, _, err := pat.ws.ReadMessage(); err != nil {
		t.Fatalf("read session-revoked within a second: %v", err)
	}
	_, _, err := pat.ws.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != ClosePolicyViolation || ce.Text != "session revoked" {
		t.Fatalf("got %v, want close %d \"session revoked\"", err, ClosePolicyViolation)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("revoked connection closed after %v, want within 1s", d)
	}

	var left ParticipantLeftMessage
	doc.expect(TypeParticipantLeft, &left)
	if left.Participant.Participant != joined.Participant || left.Reason != LeftReasonRevoked {
		t.Errorf("host got %+v, want the patient with reason revoked", left)
	}

	// The user's other session is untouched until the user is revoked.
	otherDevice.send(PingMessage{Header: Header{Type: TypePing}})
	otherDevice.expect(TypePong, nil)
	e.hub.RevokeUser("pat")
	otherDevice.expect(TypeSessionRevoked, nil)
	otherDevice.expectClose(ClosePolicyViolation)
	doc.send(PingMessage{Header: Header{Type: TypePing}})
	doc.expect(TypePong, nil)
}

func TestRevokeDuringAuthentication(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, nil)
	token := e.auth.add("pat", policy.RolePatient, "s1")
	e.auth.entered = make(chan struct{})
	e.auth.release = make(chan struct{})
	c := e.open()
	c.send(AuthMessage{Header: Header{Type: TypeAuth}, Token: token})

	// The revocation lands while Authenticate runs: the token was still
	// valid when checked, and the hub must close the connection anyway.
	<-e.auth.entered
	e.hub.RevokeSession("s1")
	close(e.auth.release)
	c.expect(TypeSessionRevoked, nil)
	c.expectClose(ClosePolicyViolation)
}

func TestNotify(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, nil)
	phone := e.connectSession("pat", policy.RolePatient, "phone")
	laptop := e.connectSession("pat", policy.RolePatient, "laptop")
	admin := e.connect("root", policy.RoleAdmin)
	doc := e.connect("doc", policy.RoleClinician)

	e.hub.NotifyMessage([]string{"pat", "offline"}, "conv1", "msg1")
	for _, c := range []*client{phone, laptop} {
		var n NewMessageNotification
		c.expect(TypeMessage, &n)
		if n.Conversation != "conv1" || n.Message != "msg1" {
			t.Errorf("got %+v, want conversation conv1 message msg1", n)
		}
	}

	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	e.hub.NotifyAdmins(Alert{ID: "a1", Severity: "high", Type: "auth.brute_force", Time: at})
	var a AlertMessage
	admin.expect(TypeAlert, &a)
	if a.Alert.ID != "a1" || !a.Alert.Time.Equal(at) {
		t.Errorf("got alert %+v, want a1 at %v", a.Alert, at)
	}

	// No other connection received a message: the next one each reads is its pong.
	for _, c := range []*client{phone, laptop, doc} {
		c.send(PingMessage{Header: Header{Type: TypePing}})
		c.expect(TypePong, nil)
	}
}

func TestSlowConsumer(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, func(c *Config) {
		c.QueueSize = 8
		c.MessageBurst = 4 // QueueSize must hold a burst's replies and the error replies
		c.ErrorLimit = 3
		c.WriteTimeout = 200 * time.Millisecond
	})
	slow := e.connect("slow", policy.RolePatient)
	fast := e.connect("fast", policy.RolePatient)
	_ = slow // never reads again

	// Large ids fill the slow client's socket buffers quickly.
	id := strings.Repeat("m", 60<<10)
	// The fast client reads each message before the next is sent, until
	// the hub has dropped the slow one.
	for i := 0; e.connCount() > 1; i++ {
		if i == 2000 {
			t.Fatal("the slow consumer is still connected after 2000 messages of 60 KiB")
		}
		e.hub.NotifyMessage([]string{"slow", "fast"}, "conv", id)
		var msg NewMessageNotification
		fast.expect(TypeMessage, &msg)
	}

	if got := counterValue(t, e.hub.metrics.slowConsumers); got != 1 {
		t.Errorf("got slow consumer metric %v, want 1", got)
	}
	fast.send(PingMessage{Header: Header{Type: TypePing}})
	fast.expect(TypePong, nil)
}

func TestMediaSignaling(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, nil)
	_, pat, _, joined := admittedPair(t, e)

	// A candidate before any description joins the SFU and passes through.
	pat.send(CandidateMessage{Header: Header{Type: TypeCandidate, ID: "c1"}, Candidate: webrtc.ICECandidateInit{Candidate: "candidate:first"}})
	pat.expect(TypeOK, nil)
	peer := e.media.peer(joined.Participant)
	if peer == nil {
		t.Fatal("got no media peer after a candidate")
	}

	peer.sig.SendOffer("v=0 server")
	var offer OfferMessage
	pat.expect(TypeOffer, &offer)
	if offer.SDP != "v=0 server" {
		t.Errorf("got offer %q, want the SFU's", offer.SDP)
	}
	mid := "0"
	peer.sig.SendCandidate(webrtc.ICECandidateInit{Candidate: "candidate:server", SDPMid: &mid})
	var cand CandidateMessage
	pat.expect(TypeCandidate, &cand)
	if cand.Candidate.Candidate != "candidate:server" || cand.Candidate.SDPMid == nil || *cand.Candidate.SDPMid != "0" {
		t.Errorf("got candidate %+v, want the SFU's", cand.Candidate)
	}
	pat.send(AnswerMessage{Header: Header{Type: TypeAnswer, ID: "a1"}, SDP: "v=0 client"})
	pat.expect(TypeOK, nil)
	calls, _ := peer.snapshot()
	if len(calls) != 2 || calls[1] != "answer v=0 client" {
		t.Errorf("SFU got %q, want the candidate then the answer", calls)
	}

	// After the SFU closes the peer, the next offer joins again.
	peer.sig.Closed(errors.New("ice failed"))
	pat.expect(TypeMediaClosed, nil)
	pat.send(OfferMessage{Header: Header{Type: TypeOffer}, SDP: "v=0 again"})
	pat.expect(TypeAnswer, nil)
	if next := e.media.peer(joined.Participant); next == peer {
		t.Error("got the closed peer reused, want a new one")
	}
	if _, closed := peer.snapshot(); !closed {
		t.Error("the SFU-closed peer was not closed by the hub")
	}

	// A failing SFU yields media-failed without closing the connection.
	e.media.mu.Lock()
	e.media.joinErr = errors.New("no capacity")
	e.media.mu.Unlock()
	peer = e.media.peer(joined.Participant)
	peer.sig.Closed(errors.New("ice failed"))
	pat.expect(TypeMediaClosed, nil)
	pat.send(OfferMessage{Header: Header{Type: TypeOffer}, SDP: "v=0 third"})
	pat.expectError(CodeMediaFailed)
}

func TestWaitingParticipantVanishes(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, func(c *Config) { c.ResumeGrace = 100 * time.Millisecond })
	e.rooms.add("c1", []string{"doc"}, "pat")
	doc := e.connect("doc", policy.RoleClinician)
	doc.join("c1")

	var nc net.Conn
	d := rawDialer(&nc)
	ws, _, err := d.Dial(e.url(), nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { ws.Close() })
	pat := &client{t: t, ws: ws}
	pat.send(AuthMessage{Header: Header{Type: TypeAuth}, Token: e.auth.add("pat", policy.RolePatient, "s")})
	pat.expect(TypeAuthOK, nil)
	j := pat.join("c1")
	doc.expect(TypeWaiting, nil)
	doc.expect(TypeWaitingList, nil)

	nc.Close()
	var list WaitingListMessage
	doc.expect(TypeWaitingList, &list)
	if len(list.Waiting) != 1 || list.Waiting[0].Participant != j.Participant || list.Waiting[0].Presence != PresenceDisconnected {
		t.Errorf("host got waiting list %+v, want the patient disconnected", list.Waiting)
	}
	doc.expect(TypeWaitingList, &list)
	if len(list.Waiting) != 0 {
		t.Errorf("host got waiting list %+v after the grace period, want empty", list.Waiting)
	}
	if e.media.peer(j.Participant) != nil {
		t.Error("got a media peer for a participant who only waited, want none")
	}
}
