package signaling

import (
	"net"
	"slices"
	"testing"
	"time"

	"github.com/bedside-health/bedside/audit"
	"github.com/bedside-health/bedside/policy"
)

// inCall puts host doc and patient pat of consultation c1 in a call: the
// patient joins, waits and is admitted.
func inCall(t *testing.T, e *env) (doc, pat *client) {
	t.Helper()
	doc = e.connect("doc", policy.RoleClinician)
	doc.join("c1")
	pat = e.connect("pat", policy.RolePatient)
	j := pat.join("c1")
	doc.waitFor(TypeWaitingList, nil, TypeWaiting)
	doc.send(AdmitMessage{Header: Header{Type: TypeAdmit}, Participant: j.Participant})
	pat.expect(TypeAdmitted, nil)
	doc.waitFor(TypeWaitingList, nil, TypeParticipantJoined)
	return doc, pat
}

// leave sends leave with an id and waits for its ok, skipping events.
func (c *client) leave() {
	c.t.Helper()
	c.send(LeaveMessage{Header: Header{Type: TypeLeave, ID: "leave"}})
	c.waitFor(TypeOK, nil, TypePresence, TypeParticipantLeft, TypeParticipantJoined, TypeWaiting, TypeWaitingList)
}

func TestStatusFollowsClinic(t *testing.T) {
	tests := []struct {
		name  string
		start Status // the clinic's status when the first participant joins
		run   func(t *testing.T, e *env)
		want  []Status
	}{
		{"patient leaves the waiting room", StatusScheduled, func(t *testing.T, e *env) {
			pat := e.connect("pat", policy.RolePatient)
			pat.join("c1")
			pat.leave()
		}, []Status{StatusWaiting, StatusScheduled}},
		{"host alone", StatusScheduled, func(t *testing.T, e *env) {
			doc := e.connect("doc", policy.RoleClinician)
			doc.join("c1")
			doc.leave()
		}, nil},
		{"call then both leave", StatusScheduled, func(t *testing.T, e *env) {
			doc, pat := inCall(t, e)
			pat.leave()
			doc.leave()
		}, []Status{StatusWaiting, StatusInProgress}},
		{"restart during a call", StatusInProgress, func(t *testing.T, e *env) {
			// The patient rejoins the waiting room of a consultation in
			// progress: no waiting status, which the clinic would reject.
			doc, pat := inCall(t, e)
			pat.leave()
			doc.leave()
		}, nil},
		{"restart while patient waited", StatusWaiting, func(t *testing.T, e *env) {
			doc := e.connect("doc", policy.RoleClinician)
			doc.join("c1")
			doc.leave()
		}, []Status{StatusScheduled}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkLeaks(t)
			e := newEnv(t, nil)
			e.rooms.add("c1", []string{"doc"}, "pat")
			e.rooms.setStatus("c1", tt.start)
			tt.run(t, e)
			waitUntil(t, "the room is gone", func() bool { return e.roomCount() == 0 })
			if got := e.rooms.statusesOf("c1"); !slices.Equal(got, tt.want) {
				t.Errorf("got statuses %v, want %v", got, tt.want)
			}
			for _, s := range e.rooms.statusesOf("c1") {
				if s == StatusCompleted {
					t.Errorf("got status completed before the join window closed")
				}
			}
		})
	}
}

func TestJoinClosedConsultation(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, nil)
	e.rooms.add("c1", []string{"doc"}, "pat")
	for _, s := range []Status{StatusCompleted, StatusClosed} {
		e.rooms.setStatus("c1", s)
		c := e.connect("doc", policy.RoleClinician)
		c.send(JoinMessage{Header: Header{Type: TypeJoin}, Consultation: "c1"})
		c.expectError(CodeOutsideWindow)
	}
	if n := e.roomCount(); n != 0 {
		t.Errorf("got %d rooms, want 0", n)
	}
}

func TestEmptyRoomCompletesAtWindowEnd(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, nil)
	e.rooms.add("c1", []string{"doc"}, "pat")
	doc, pat := inCall(t, e)

	// The room empties while the join window is open: the consultation
	// stays in progress and the host may come back.
	pat.leave()
	doc.leave()
	doc.join("c1")
	doc.leave()
	if got, want := e.rooms.statusesOf("c1"), []Status{StatusWaiting, StatusInProgress}; !slices.Equal(got, want) {
		t.Fatalf("got statuses %v while the window is open, want %v", got, want)
	}

	// Once the window closes with the room still empty, it is completed.
	e.rooms.setEnd("c1", time.Now().Add(100*time.Millisecond))
	doc.join("c1")
	doc.leave()
	want := []Status{StatusWaiting, StatusInProgress, StatusCompleted}
	waitUntil(t, "the consultation is completed", func() bool {
		return slices.Equal(e.rooms.statusesOf("c1"), want)
	})
}

func TestRejoinCancelsCompletion(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, nil)
	e.rooms.add("c1", []string{"doc"}, "pat")
	end := time.Now().Add(time.Second)
	e.rooms.setEnd("c1", end)
	doc, pat := inCall(t, e)
	pat.leave()
	doc.leave()

	// The host is back before the window closes and stays after it.
	doc.join("c1")
	waitUntil(t, "the join window closes", func() bool { return time.Now().After(end.Add(200 * time.Millisecond)) })
	if got, want := e.rooms.statusesOf("c1"), []Status{StatusWaiting, StatusInProgress}; !slices.Equal(got, want) {
		t.Fatalf("got statuses %v with the host in the room, want %v", got, want)
	}
	doc.leave()
	want := []Status{StatusWaiting, StatusInProgress, StatusCompleted}
	if got := e.rooms.statusesOf("c1"); !slices.Equal(got, want) {
		t.Errorf("got statuses %v, want %v", got, want)
	}
}

func TestLastLeaveAfterWindowCompletes(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, nil)
	e.rooms.add("c1", []string{"doc"}, "pat")
	end := time.Now().Add(time.Second)
	e.rooms.setEnd("c1", end)
	doc, pat := inCall(t, e)

	// The call goes on past the join window: leaving does not end it
	// while someone is still in the room.
	waitUntil(t, "the join window closes", func() bool { return time.Now().After(end) })
	doc.leave()
	if got, want := e.rooms.statusesOf("c1"), []Status{StatusWaiting, StatusInProgress}; !slices.Equal(got, want) {
		t.Fatalf("got statuses %v while the patient is in the room, want %v", got, want)
	}
	pat.leave()
	want := []Status{StatusWaiting, StatusInProgress, StatusCompleted}
	if got := e.rooms.statusesOf("c1"); !slices.Equal(got, want) {
		t.Errorf("got statuses %v, want %v", got, want)
	}
}

func TestEnd(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, func(c *Config) { c.ResumeGrace = 5 * time.Second })
	e.rooms.add("c1", []string{"doc"}, "pat", "kin")
	doc, pat := inCall(t, e)

	// A second patient device waits and then drops: it is in its grace
	// period when the call ends.
	var nc net.Conn
	d := rawDialer(&nc)
	ws, _, err := d.Dial(e.url(), nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { ws.Close() })
	kin := &client{t: t, ws: ws}
	kin.send(AuthMessage{Header: Header{Type: TypeAuth}, Token: e.auth.add("kin", policy.RolePatient, "kin-session")})
	kin.expect(TypeAuthOK, nil)
	kinJoined := kin.join("c1")
	doc.waitFor(TypeWaitingList, nil, TypeWaiting)
	nc.Close()
	doc.waitFor(TypeWaitingList, nil)

	pat.send(EndMessage{Header: Header{Type: TypeEnd, ID: "e0"}})
	pat.expectError(CodeForbidden)

	doc.send(EndMessage{Header: Header{Type: TypeEnd, ID: "e1"}})
	var ended EndedMessage
	doc.expect(TypeEnded, &ended)
	if ended.Consultation != "c1" {
		t.Errorf("host got ended for %q, want c1", ended.Consultation)
	}
	var ok OKMessage
	doc.expect(TypeOK, &ok)
	if ok.ID != "e1" || ok.Request != TypeEnd {
		t.Errorf("host got %+v, want ok for end e1", ok)
	}
	pat.expect(TypeEnded, nil)

	waitUntil(t, "the room is gone", func() bool { return e.roomCount() == 0 })
	want := []Status{StatusWaiting, StatusInProgress, StatusCompleted}
	if got := e.rooms.statusesOf("c1"); !slices.Equal(got, want) {
		t.Errorf("got statuses %v, want %v", got, want)
	}
	ends := e.audit.ofType(audit.TypeConsultationEnd)
	if len(ends) != 1 || ends[0].ActorID != "doc" || ends[0].TargetID != "c1" || ends[0].Detail["participants"] != "3" {
		t.Errorf("got end audit events %+v, want one by doc on c1 with 3 participants", ends)
	}
	var endedLeaves []string
	for _, ev := range e.audit.ofType(audit.TypeConsultationLeave) {
		if ev.Detail["reason"] == LeftReasonEnded {
			endedLeaves = append(endedLeaves, ev.ActorID)
		}
	}
	slices.Sort(endedLeaves)
	if want := []string{"doc", "kin", "pat"}; !slices.Equal(endedLeaves, want) {
		t.Errorf("got leave events with reason ended for %v, want %v", endedLeaves, want)
	}
	for _, p := range []string{kinJoined.Participant} {
		if e.media.peer(p) != nil {
			t.Errorf("got a media peer for waiting participant %s", p)
		}
	}

	// Nobody may join again, whether the clinic has recorded the end yet
	// or not, and a resume of the dropped device is no exception.
	e.rooms.setStatus("c1", StatusInProgress)
	doc.send(JoinMessage{Header: Header{Type: TypeJoin}, Consultation: "c1"})
	doc.expectError(CodeOutsideWindow)
	kin2 := e.connectSession("kin", policy.RolePatient, "kin-session")
	kin2.send(JoinMessage{Header: Header{Type: TypeJoin}, Consultation: "c1", Resume: kinJoined.Resume})
	kin2.expectError(CodeOutsideWindow)
	if n := e.roomCount(); n != 0 {
		t.Errorf("got %d rooms after the end, want 0", n)
	}
}

func TestEndBeforeStart(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, nil)
	e.rooms.add("c1", []string{"doc"}, "pat")
	doc := e.connect("doc", policy.RoleClinician)
	doc.send(EndMessage{Header: Header{Type: TypeEnd}})
	doc.expectError(CodeNotJoined)
	doc.join("c1")
	doc.send(EndMessage{Header: Header{Type: TypeEnd}})
	doc.expectError(CodeNotStarted)
	doc.leave()
	if got := e.rooms.statusesOf("c1"); len(got) != 0 {
		t.Errorf("got statuses %v, want none", got)
	}
	if got := e.audit.ofType(audit.TypeConsultationEnd); len(got) != 0 {
		t.Errorf("got end audit events %+v, want none", got)
	}
}
