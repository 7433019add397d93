package server

import (
	"bytes"
	"log/slog"
	"testing"
	"time"

	"github.com/bedside-health/bedside/clinic"
	"github.com/bedside-health/bedside/policy"
	"github.com/bedside-health/bedside/signaling"
)

func TestHubTransitionsAllowedByClinic(t *testing.T) {
	for _, tr := range signaling.StatusTransitions() {
		from, err := clinicStatus(tr[0])
		if err != nil {
			t.Fatalf("map %s: %v", tr[0], err)
		}
		to, err := clinicStatus(tr[1])
		if err != nil {
			t.Fatalf("map %s: %v", tr[1], err)
		}
		if !clinic.CanTransition(from, to, clinic.TriggerHub) {
			t.Errorf("the hub reports %s to %s, which the clinic rejects", from, to)
		}
		if back := hubStatus(from); back != tr[0] {
			t.Errorf("got hub status %s for clinic status %s, want %s", back, from, tr[0])
		}
	}
	for _, st := range []clinic.Status{clinic.StatusRequested, clinic.StatusCancelled, clinic.StatusNoShow} {
		if got := hubStatus(st); got != signaling.StatusClosed {
			t.Errorf("got hub status %s for clinic status %s, want %s", got, st, signaling.StatusClosed)
		}
	}
}

// consultationStatus returns a consultation's status as stored.
func (tc *testClinic) consultationStatus(t *testing.T, id string) clinic.Status {
	t.Helper()
	c, err := tc.srv.DB().Consultation(id)
	if err != nil {
		t.Fatalf("read consultation %s: %v", id, err)
	}
	return clinic.Status(c.Status)
}

// restart stops the server and starts a new one on the same data
// directory, as an operator's restart would.
func (tc *testClinic) restart(t *testing.T, log *slog.Logger) {
	t.Helper()
	cfg := tc.srv.cfg
	tc.stop()
	srv, err := New(cfg, log)
	if err != nil {
		t.Fatalf("New after restart: %v", err)
	}
	srv.DB().Bolt().NoSync = true
	tc.srv = srv
	tc.addr, tc.stop = serve(t, srv)
}

// inCall connects the patient and the host to consultation id, the
// patient admitted by the host.
func (w *world) inCall(t *testing.T, patient, host policy.Actor, id string) (pat, doc *wsClient) {
	t.Helper()
	pat, err := w.tc.dialWS(t, w.tc.token(t, patient))
	if err != nil {
		t.Fatal(err)
	}
	joined := pat.join(id)
	if joined.State != signaling.StateWaiting {
		t.Fatalf("patient join: got %s, want joined in state waiting", joined.raw)
	}
	doc, err = w.wsSession(t, host)
	if err != nil {
		t.Fatal(err)
	}
	if f := doc.join(id); f.State != signaling.StateAdmitted {
		t.Fatalf("host join: got %s, want joined in state admitted", f.raw)
	}
	if f := doc.request(map[string]any{"type": signaling.TypeAdmit, "participant": joined.participantID()}); f.Type != signaling.TypeOK {
		t.Fatalf("admit: got %s, want ok", f.raw)
	}
	pat.waitFor(signaling.TypeAdmitted)
	return pat, doc
}

func TestCallAfterRestartKeepsStatus(t *testing.T) {
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	tc := newLoggedTestClinic(t, nil, log)
	w := newWorld(tc)
	_, patient := tc.newUser(t, policy.RolePatient)
	host := w.host(t)
	c, _, _ := w.consultation(t, patient, policy.RelOwner, clinic.StatusScheduled, time.Now(), host.UserID)
	w.inCall(t, patient, host, c.ID)
	if got := tc.consultationStatus(t, c.ID); got != clinic.StatusInProgress {
		t.Fatalf("got status %s during the call, want %s", got, clinic.StatusInProgress)
	}

	// After a restart the new room starts empty, and the patient comes
	// back through the waiting room of a consultation in progress.
	tc.restart(t, log)
	pat, doc := w.inCall(t, patient, host, c.ID)

	// Both leave the call before its end: it stays in progress.
	if f := pat.request(map[string]any{"type": signaling.TypeLeave}); f.Type != signaling.TypeOK {
		t.Fatalf("patient leave: got %s, want ok", f.raw)
	}
	if f := doc.request(map[string]any{"type": signaling.TypeLeave}); f.Type != signaling.TypeOK {
		t.Fatalf("host leave: got %s, want ok", f.raw)
	}
	if got := tc.consultationStatus(t, c.ID); got != clinic.StatusInProgress {
		t.Errorf("got status %s after everyone left, want %s", got, clinic.StatusInProgress)
	}

	// The host comes back and ends the consultation.
	if f := doc.join(c.ID); f.Type != signaling.TypeJoined {
		t.Fatalf("host rejoin: got %s, want joined", f.raw)
	}
	if f := doc.request(map[string]any{"type": signaling.TypeEnd}); f.Type != signaling.TypeOK {
		t.Fatalf("end: got %s, want ok", f.raw)
	}
	if got := tc.consultationStatus(t, c.ID); got != clinic.StatusCompleted {
		t.Errorf("got status %s after end, want %s", got, clinic.StatusCompleted)
	}
	if f := doc.join(c.ID); f.Code != string(signaling.CodeOutsideWindow) {
		t.Errorf("join after end: got %s, want error outside-window", f.raw)
	}
	if bytes.Contains(logs.Bytes(), []byte("record consultation status")) {
		t.Errorf("the hub failed to record a status:\n%s", logs.Bytes())
	}
}
