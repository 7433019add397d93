package signaling

import (
	"errors"
	"testing"
	"time"

	"github.com/bedside-health/bedside/policy"
)

func TestSessionCheckEndedSession(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, func(c *Config) { c.SessionCheck = 100 * time.Millisecond })
	doc, pat, _, joined := admittedPair(t, e)
	patToken := e.auth.add("pat", policy.RolePatient, "pat-session")

	// The session expires without anyone revoking it: only the re-check
	// can notice.
	e.auth.remove(patToken)
	pat.waitFor(TypeSessionRevoked, nil, TypePresence)
	pat.expectClose(ClosePolicyViolation)

	var left ParticipantLeftMessage
	doc.waitFor(TypeParticipantLeft, &left, TypePresence)
	if left.Participant.Participant != joined.Participant || left.Reason != LeftReasonRevoked {
		t.Errorf("host got %+v, want the patient with reason revoked", left)
	}
	if got := counterValue(t, e.hub.metrics.sessionChecks[sessionEnded]); got != 1 {
		t.Errorf("got %v ended session checks, want 1", got)
	}

	// The host's valid session stays connected through its checks.
	docToken := e.auth.add("doc", policy.RoleClinician, "doc-session")
	before := e.auth.callCount(docToken)
	waitUntil(t, "the host's session is checked twice more", func() bool {
		return e.auth.callCount(docToken) >= before+2
	})
	doc.send(PingMessage{Header: Header{Type: TypePing}})
	doc.waitFor(TypePong, nil, TypePresence)
}

func TestSessionCheckKeepsSession(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, func(c *Config) { c.SessionCheck = 50 * time.Millisecond })
	c := e.connect("u1", policy.RolePatient)
	token := e.auth.add("u1", policy.RolePatient, "u1-session")

	waitUntil(t, "the session is checked three times", func() bool { return e.auth.callCount(token) >= 4 })
	c.send(PingMessage{Header: Header{Type: TypePing}})
	c.expect(TypePong, nil)
	if got := counterValue(t, e.hub.metrics.sessionChecks[sessionValid]); got < 3 {
		t.Errorf("got %v valid session checks, want at least 3", got)
	}
}

func TestSessionCheckFaults(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, func(c *Config) { c.SessionCheck = 20 * time.Millisecond })
	token := e.auth.add("u1", policy.RolePatient, "u1-session")

	// After the auth message, two faults, a valid check that resets the
	// count, then three faults in a row: only the last one closes the
	// connection.
	fault := errors.New("database unavailable")
	e.auth.setScript(nil, fault, fault, nil, fault, fault, fault)
	c := e.connect("u1", policy.RolePatient)
	c.expectClose(CloseInternalError)
	waitUntil(t, "the connection is gone", func() bool { return e.connCount() == 0 })
	if got := e.auth.callCount(token); got != 7 {
		t.Errorf("got %d Authenticate calls, want 7 (the auth message and 6 checks)", got)
	}
	if got := counterValue(t, e.hub.metrics.sessionChecks[sessionFault]); got != 5 {
		t.Errorf("got %v failed session checks, want 5", got)
	}
	if got := counterValue(t, e.hub.metrics.sessionChecks[sessionEnded]); got != 0 {
		t.Errorf("got %v ended session checks, want 0: a fault is not an ended session", got)
	}
}
