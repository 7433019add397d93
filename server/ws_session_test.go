package server

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/bedside-health/bedside/clinic"
	"github.com/bedside-health/bedside/policy"
	"github.com/bedside-health/bedside/signaling"
)

// testClock is a clock that tests move forward by hand.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func newTestClock() *testClock { return &testClock{now: time.Now().Truncate(time.Second)} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// waitUntil polls cond until it is true, failing the test after wsTimeout.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wsTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// sessionLastSeen returns when the session was last used, as stored.
func (tc *testClinic) sessionLastSeen(t *testing.T, actor policy.Actor) time.Time {
	t.Helper()
	list, err := tc.srv.DB().UserSessions(actor.UserID)
	if err != nil {
		t.Fatalf("list sessions: %v", err)
	}
	for _, s := range list {
		if s.ID == actor.SessionID {
			return s.LastSeen
		}
	}
	return time.Time{}
}

func TestWebSocketSessionExpiry(t *testing.T) {
	clock := newTestClock()
	tc := newTestClinic(t, func(c *Config) {
		c.Now = clock.Now
		c.Auth.SessionIdle = time.Minute
		c.Auth.SessionMax = time.Minute
		c.Signaling.SessionCheck = 50 * time.Millisecond
	})
	_, actor := tc.newUser(t, policy.RolePatient)
	ws, err := tc.dialWS(t, tc.token(t, actor))
	if err != nil {
		t.Fatal(err)
	}

	// Nobody else signs in, so only the socket's own re-check can notice
	// the expiry.
	clock.Advance(2 * time.Minute)
	f, err := ws.read()
	if err != nil || f.Type != signaling.TypeSessionRevoked {
		t.Fatalf("got %s, %v, want session-revoked", f.raw, err)
	}
	_, err = ws.read()
	if ce, ok := err.(*closedError); !ok || ce.code != signaling.ClosePolicyViolation {
		t.Fatalf("got %v, want close code %d", err, signaling.ClosePolicyViolation)
	}
}

func TestWebSocketKeepsSessionAlive(t *testing.T) {
	clock := newTestClock()
	tc := newTestClinic(t, func(c *Config) {
		c.Now = clock.Now
		c.Auth.SessionIdle = time.Minute
		c.Auth.SessionMax = time.Hour
		c.Signaling.SessionCheck = 50 * time.Millisecond
	})
	_, actor := tc.newUser(t, policy.RolePatient)
	token := tc.token(t, actor)
	w := newWorld(tc)
	c, _, _ := w.consultation(t, actor, policy.RelOwner, clinic.StatusScheduled, clock.Now(), w.host(t).UserID)
	ws, err := tc.dialWS(t, token)
	if err != nil {
		t.Fatal(err)
	}
	if f := ws.join(c.ID); f.Type != signaling.TypeJoined {
		t.Fatalf("join: got %s, want joined", f.raw)
	}

	// Two minutes pass, twice the idle limit, without an HTTP request:
	// each re-check of the socket refreshes the session's idle timer.
	for range 6 {
		clock.Advance(20 * time.Second)
		now := clock.Now()
		waitUntil(t, "a session check refreshes the idle timer", func() bool {
			return tc.sessionLastSeen(t, actor).Equal(now)
		})
	}
	if f := ws.request(map[string]any{"type": signaling.TypePing}); f.Type != signaling.TypePong {
		t.Errorf("ping: got %s, want pong", f.raw)
	}
	if res := tc.call(t, token, "GET", "/api/v1/me", nil); res.Status != http.StatusOK {
		t.Errorf("GET /api/v1/me after two minutes of socket activity: got %d %s, want 200", res.Status, res.Body)
	}
}
