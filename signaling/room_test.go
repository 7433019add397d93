package signaling

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/bedside-health/bedside/audit"
	"github.com/bedside-health/bedside/policy"
)

func TestJoinDenied(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, nil)
	e.rooms.add("c1", []string{"doc"}, "pat")
	e.rooms.add("closed", []string{"doc"}, "pat")
	e.rooms.consultations["closed"].end = time.Now().Add(-time.Minute)
	stranger := e.connect("stranger", policy.RolePatient)
	pat := e.connect("pat", policy.RolePatient)

	stranger.send(JoinMessage{Header: Header{Type: TypeJoin, ID: "j1"}, Consultation: "nope"})
	notFound := stranger.expectError(CodeNotFound)
	stranger.send(JoinMessage{Header: Header{Type: TypeJoin, ID: "j1"}, Consultation: "c1"})
	notListed := stranger.expectError(CodeNotFound)
	if notFound != notListed {
		t.Errorf("got %+v for a missing consultation and %+v for one not listed, want identical", notFound, notListed)
	}

	pat.send(JoinMessage{Header: Header{Type: TypeJoin}, Consultation: "closed"})
	pat.expectError(CodeOutsideWindow)

	events := e.audit.ofType("consultation.join")
	if len(events) != 3 {
		t.Fatalf("got %d room.join events, want 3", len(events))
	}
	for _, ev := range events {
		if ev.Outcome != audit.OutcomeDenied {
			t.Errorf("got outcome %q for %+v, want denied", ev.Outcome, ev)
		}
	}
	if n := e.roomCount(); n != 0 {
		t.Errorf("got %d rooms, want 0", n)
	}
}

func TestWaitingRoom(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, nil)
	e.rooms.add("c1", []string{"doc"}, "pat")
	doc := e.connect("doc", policy.RoleClinician)
	pat := e.connect("pat", policy.RolePatient)

	hostJoined := doc.join("c1")
	if hostJoined.State != StateAdmitted || !hostJoined.Host || hostJoined.TURN == nil || len(hostJoined.Roster) != 1 {
		t.Fatalf("host got %+v, want admitted host with TURN credentials and itself in the roster", hostJoined)
	}

	waiting := pat.join("c1")
	if waiting.State != StateWaiting || waiting.Host {
		t.Errorf("patient got state %q host %v, want waiting, not host", waiting.State, waiting.Host)
	}
	if waiting.Roster != nil || waiting.Waiting != nil || waiting.TURN != nil || waiting.ICEServers != nil {
		t.Errorf("waiting patient got %+v, want no roster, waiting list or ICE servers", waiting)
	}
	var w WaitingMessage
	doc.expect(TypeWaiting, &w)
	if w.Participant.Participant != waiting.Participant || w.Participant.User != "pat" {
		t.Errorf("host got waiting %+v, want participant %s of pat", w, waiting.Participant)
	}
	var wl WaitingListMessage
	doc.expect(TypeWaitingList, &wl)
	if len(wl.Waiting) != 1 || wl.Waiting[0].Participant != waiting.Participant {
		t.Errorf("host got waiting list %+v, want the patient only", wl.Waiting)
	}

	// A waiting patient cannot reach the SFU or the roster.
	pat.send(OfferMessage{Header: Header{Type: TypeOffer, ID: "skip"}, SDP: "v=0 skip"})
	if m := pat.expectError(CodeNotAdmitted); m.ID != "skip" {
		t.Errorf("got error id %q, want skip", m.ID)
	}
	pat.send(CandidateMessage{Header: Header{Type: TypeCandidate}, Candidate: webrtc.ICECandidateInit{Candidate: "candidate:1"}})
	pat.expectError(CodeNotAdmitted)
	pat.send(AnswerMessage{Header: Header{Type: TypeAnswer}, SDP: "v=0"})
	pat.expectError(CodeNotAdmitted)
	pat.send(PresenceMessage{Header: Header{Type: TypePresence}, Status: PresenceAway})
	pat.expectError(CodeNotAdmitted)
	pat.send(TURNMessage{Header: Header{Type: TypeTURN}})
	pat.expectError(CodeNotAdmitted)
	pat.send(AdmitMessage{Header: Header{Type: TypeAdmit}, Participant: waiting.Participant})
	pat.expectError(CodeForbidden)
	if e.media.peer(waiting.Participant) != nil {
		t.Fatal("got a media peer for a waiting patient, want none")
	}

	doc.send(AdmitMessage{Header: Header{Type: TypeAdmit, ID: "a1"}, Participant: waiting.Participant})
	var admitted AdmittedMessage
	pat.expect(TypeAdmitted, &admitted)
	if len(admitted.Roster) != 2 || admitted.TURN == nil || len(admitted.ICEServers) != 1 {
		t.Errorf("patient got %+v, want a roster of 2, TURN credentials and 1 ICE server", admitted)
	}
	var pj ParticipantJoinedMessage
	doc.expect(TypeParticipantJoined, &pj)
	if pj.Participant.Participant != waiting.Participant || pj.Participant.Role != policy.RolePatient {
		t.Errorf("host got %+v, want the admitted patient", pj.Participant)
	}
	doc.expect(TypeWaitingList, &wl)
	if len(wl.Waiting) != 0 {
		t.Errorf("host got waiting list %+v, want empty", wl.Waiting)
	}
	var ok OKMessage
	doc.expect(TypeOK, &ok)
	if ok.ID != "a1" || ok.Request != TypeAdmit {
		t.Errorf("host got %+v, want ok for admit a1", ok)
	}

	// Admitted, the patient negotiates with the SFU.
	pat.send(CandidateMessage{Header: Header{Type: TypeCandidate}, Candidate: webrtc.ICECandidateInit{Candidate: "candidate:early"}})
	pat.send(OfferMessage{Header: Header{Type: TypeOffer, ID: "o1"}, SDP: "v=0 patient"})
	var answer AnswerMessage
	pat.expect(TypeAnswer, &answer)
	if answer.ID != "o1" || answer.SDP != "answer-to v=0 patient" {
		t.Errorf("got answer %+v, want id o1 and the fake SFU's answer", answer)
	}
	calls, _ := e.media.peer(waiting.Participant).snapshot()
	if want := []string{"candidate candidate:early", "offer v=0 patient"}; !slices.Equal(calls, want) {
		t.Errorf("SFU got calls %q, want %q", calls, want)
	}

	pat.send(TURNMessage{Header: Header{Type: TypeTURN, ID: "t1"}})
	var turn TURNReplyMessage
	pat.expect(TypeTURN, &turn)
	if turn.ID != "t1" || turn.TURN == nil || turn.TURN.Credential == "" || turn.TURN.TTL != 600 {
		t.Errorf("got %+v, want id t1 and credentials valid for 600 s", turn)
	}

	pat.send(PresenceMessage{Header: Header{Type: TypePresence}, Status: PresenceAway})
	var pres PresenceUpdate
	doc.expect(TypePresence, &pres)
	if pres.Participant != waiting.Participant || pres.Status != PresenceAway {
		t.Errorf("host got presence %+v, want away from the patient", pres)
	}

	pat.send(LeaveMessage{Header: Header{Type: TypeLeave, ID: "bye"}})
	pat.expect(TypeOK, nil)
	var left ParticipantLeftMessage
	doc.expect(TypeParticipantLeft, &left)
	if left.Participant.Participant != waiting.Participant || left.Reason != LeftReasonLeft {
		t.Errorf("host got %+v, want the patient with reason left", left)
	}
	if _, closed := e.media.peer(waiting.Participant).snapshot(); !closed {
		t.Error("the patient's media peer is open after leave, want closed")
	}
	doc.send(LeaveMessage{Header: Header{Type: TypeLeave, ID: "bye"}})
	doc.expect(TypeOK, nil)

	waitUntil(t, "the room is gone", func() bool { return e.roomCount() == 0 })
	// The room emptied before the join window closed, so the consultation
	// stays in progress: its participants may still rejoin.
	want := []Status{StatusWaiting, StatusInProgress}
	if got := e.rooms.statusesOf("c1"); !slices.Equal(got, want) {
		t.Errorf("got statuses %v, want %v", got, want)
	}
	for _, typ := range []string{"consultation.join", "consultation.admit", "consultation.leave"} {
		if len(e.audit.ofType(typ)) == 0 {
			t.Errorf("got no %s audit event", typ)
		}
	}
}

func TestDenyAndRemove(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, nil)
	e.rooms.add("c1", []string{"doc", "doc2"}, "pat", "kin")
	doc := e.connect("doc", policy.RoleClinician)
	doc2 := e.connect("doc2", policy.RoleClinician)
	pat := e.connect("pat", policy.RolePatient)
	kin := e.connect("kin", policy.RolePatient)
	doc.join("c1")
	host2 := doc2.join("c1")
	doc.expect(TypeParticipantJoined, nil)

	p := pat.join("c1")
	doc.expect(TypeWaiting, nil)
	doc.expect(TypeWaitingList, nil)
	doc2.expect(TypeWaiting, nil)
	doc2.expect(TypeWaitingList, nil)

	doc.send(DenyMessage{Header: Header{Type: TypeDeny}, Participant: p.Participant})
	var denied DeniedMessage
	pat.expect(TypeDenied, &denied)
	if denied.Consultation != "c1" {
		t.Errorf("got denied for %q, want c1", denied.Consultation)
	}
	doc.expect(TypeWaitingList, nil)
	doc2.expect(TypeWaitingList, nil)

	// A denied patient may knock again, and a host may not deny twice.
	doc.send(DenyMessage{Header: Header{Type: TypeDeny}, Participant: p.Participant})
	doc.expectError(CodeUnknownParticipant)
	p = pat.join("c1")
	doc.waitFor(TypeWaitingList, nil, TypeWaiting)
	doc2.waitFor(TypeWaitingList, nil, TypeWaiting)
	doc.send(AdmitMessage{Header: Header{Type: TypeAdmit}, Participant: p.Participant})
	pat.expect(TypeAdmitted, nil)
	doc.waitFor(TypeWaitingList, nil, TypeParticipantJoined)
	doc2.waitFor(TypeWaitingList, nil, TypeParticipantJoined)

	k := kin.join("c1")
	doc.waitFor(TypeWaitingList, nil, TypeWaiting)
	doc2.waitFor(TypeWaitingList, nil, TypeWaiting)

	tests := []struct {
		name    string
		from    *client
		message any
		code    Code
	}{
		{"patient removes", pat, RemoveMessage{Header: Header{Type: TypeRemove}, Participant: host2.Participant}, CodeForbidden},
		{"host removes host", doc, RemoveMessage{Header: Header{Type: TypeRemove}, Participant: host2.Participant}, CodeForbidden},
		{"host denies admitted", doc, DenyMessage{Header: Header{Type: TypeDeny}, Participant: p.Participant}, CodeUnknownParticipant},
		{"host admits admitted", doc, AdmitMessage{Header: Header{Type: TypeAdmit}, Participant: p.Participant}, CodeUnknownParticipant},
		{"unknown participant", doc, RemoveMessage{Header: Header{Type: TypeRemove}, Participant: "NOPE"}, CodeUnknownParticipant},
		{"waiting kin admits", kin, AdmitMessage{Header: Header{Type: TypeAdmit}, Participant: k.Participant}, CodeForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.from.send(tt.message)
			tt.from.expectError(tt.code)
		})
	}

	doc.send(RemoveMessage{Header: Header{Type: TypeRemove}, Participant: p.Participant})
	pat.expect(TypeRemoved, nil)
	var left ParticipantLeftMessage
	doc2.expect(TypeParticipantLeft, &left)
	if left.Reason != LeftReasonRemoved {
		t.Errorf("got reason %q, want removed", left.Reason)
	}
	pat.send(OfferMessage{Header: Header{Type: TypeOffer}, SDP: "v=0"})
	pat.expectError(CodeNotJoined)

	doc.send(RemoveMessage{Header: Header{Type: TypeRemove}, Participant: k.Participant})
	kin.expect(TypeRemoved, nil)
	for _, typ := range []string{"consultation.deny", "consultation.remove"} {
		if len(e.audit.ofType(typ)) == 0 {
			t.Errorf("got no %s audit event", typ)
		}
	}
}

func TestManyClients(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, func(c *Config) { c.QueueSize = 64 })
	const rooms, guests = 5, 9 // 50 clients: one host and nine guests per room

	t.Run("rooms", func(t *testing.T) {
		for r := range rooms {
			id := fmt.Sprintf("room%d", r)
			host := "host-" + id
			var users []string
			for g := range guests {
				users = append(users, fmt.Sprintf("guest%d-%s", g, id))
			}
			e.rooms.add(id, []string{host}, users...)
			t.Run(id, func(t *testing.T) {
				t.Parallel()
				view := *e
				view.t = t
				runRoom(t, &view, id, host, users)
			})
		}
	})
	waitUntil(t, "every room is gone", func() bool { return e.roomCount() == 0 })
	if got := counterValue(t, e.hub.metrics.rooms); got != 0 {
		t.Errorf("got rooms gauge %v, want 0", got)
	}
}

// runRoom lets every guest join concurrently, admits them, checks the
// host's view, then lets them leave concurrently.
func runRoom(t *testing.T, e *env, id, host string, users []string) {
	h := e.connect(host, policy.RoleClinician)
	h.join(id)
	guests := make([]*client, len(users))
	for i, u := range users {
		guests[i] = e.connect(u, policy.RolePatient)
	}

	var wg sync.WaitGroup
	joined := make([]JoinedMessage, len(guests))
	for _, g := range guests {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g.ws.WriteJSON(JoinMessage{Header: Header{Type: TypeJoin}, Consultation: id})
		}()
	}
	wg.Wait()
	for i, g := range guests {
		g.expect(TypeJoined, &joined[i])
	}
	var list WaitingListMessage
	for len(list.Waiting) != len(guests) {
		h.waitFor(TypeWaitingList, &list, TypeWaiting)
	}
	for _, j := range joined {
		h.send(AdmitMessage{Header: Header{Type: TypeAdmit}, Participant: j.Participant})
	}
	for _, g := range guests {
		g.waitFor(TypeAdmitted, nil)
	}
	seen := map[string]bool{}
	for len(seen) != len(guests) {
		var pj ParticipantJoinedMessage
		h.waitFor(TypeParticipantJoined, &pj, TypeWaitingList)
		if seen[pj.Participant.Participant] {
			t.Fatalf("participant %s joined twice", pj.Participant.Participant)
		}
		seen[pj.Participant.Participant] = true
	}

	for _, g := range guests {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g.ws.WriteJSON(LeaveMessage{Header: Header{Type: TypeLeave}})
		}()
	}
	wg.Wait()
	gone := map[string]bool{}
	for len(gone) != len(guests) {
		var left ParticipantLeftMessage
		h.waitFor(TypeParticipantLeft, &left, TypeWaitingList, TypeParticipantJoined)
		gone[left.Participant.Participant] = true
	}
	h.send(LeaveMessage{Header: Header{Type: TypeLeave, ID: "done"}})
	h.waitFor(TypeOK, nil)
}

func TestSeveralDevices(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, nil)
	e.rooms.add("c1", []string{"doc"}, "pat")
	token := e.auth.add("doc", policy.RoleClinician, "doc-session")
	devices := make([]*client, 2)
	for i, label := range []string{"laptop", "phone"} {
		devices[i] = e.open()
		devices[i].send(AuthMessage{Header: Header{Type: TypeAuth}, Token: token, Device: label})
		devices[i].expect(TypeAuthOK, nil)
	}

	first := devices[0].join("c1")
	second := devices[1].join("c1")
	if first.Participant == second.Participant {
		t.Fatalf("got participant %s for both devices, want one each", first.Participant)
	}
	if len(second.Roster) != 2 {
		t.Fatalf("got roster %+v, want both devices", second.Roster)
	}
	got := map[string]string{}
	for _, r := range second.Roster {
		got[r.Device] = r.User
	}
	if got["laptop"] != "doc" || got["phone"] != "doc" {
		t.Errorf("got roster devices %v, want laptop and phone of doc", got)
	}
	var pj ParticipantJoinedMessage
	devices[0].expect(TypeParticipantJoined, &pj)
	if pj.Participant.Participant != second.Participant || pj.Participant.Device != "phone" {
		t.Errorf("laptop got %+v, want the phone joining", pj.Participant)
	}

	devices[1].send(LeaveMessage{Header: Header{Type: TypeLeave}})
	var left ParticipantLeftMessage
	devices[0].expect(TypeParticipantLeft, &left)
	if left.Participant.Participant != second.Participant {
		t.Errorf("laptop got %+v leaving, want the phone", left.Participant)
	}
}
