package signaling

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/bedside-health/bedside/policy"
)

func TestUpgradeRejects(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, func(c *Config) { c.AllowedOrigins = []string{"https://clinic.example"} })
	same := newEnv(t, nil)

	tests := []struct {
		name      string
		env       *env
		query     string
		origin    string
		protocols []string
		want      int
	}{
		{"token in query", e, "?token=secret", "", []string{Subprotocol}, http.StatusBadRequest},
		{"any query", e, "?v=1", "", []string{Subprotocol}, http.StatusBadRequest},
		{"origin not listed", e, "", "https://evil.example", []string{Subprotocol}, http.StatusForbidden},
		{"origin other port", e, "", "https://clinic.example:8443", []string{Subprotocol}, http.StatusForbidden},
		{"origin malformed", e, "", "clinic.example", []string{Subprotocol}, http.StatusForbidden},
		{"missing subprotocol", e, "", "", nil, http.StatusBadRequest},
		{"unknown subprotocol", e, "", "", []string{"bedside.v0"}, http.StatusBadRequest},
		{"origin listed", e, "", "https://clinic.example", []string{Subprotocol}, http.StatusSwitchingProtocols},
		{"origin listed upper case", e, "", "HTTPS://Clinic.Example", []string{Subprotocol}, http.StatusSwitchingProtocols},
		{"no origin", e, "", "", []string{"bedside.v0", Subprotocol}, http.StatusSwitchingProtocols},
		{"same origin by default", same, "", "", []string{Subprotocol}, http.StatusSwitchingProtocols},
		{"same origin with a list", e, "", "", []string{Subprotocol}, http.StatusSwitchingProtocols},
		{"cross origin by default", same, "", "http://evil.example", []string{Subprotocol}, http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			header := http.Header{}
			origin := tt.origin
			if strings.HasPrefix(tt.name, "same origin") {
				origin = tt.env.srv.URL
			}
			if origin != "" {
				header.Set("Origin", origin)
			}
			ws, resp, err := tt.env.dial(tt.env.url()+tt.query, tt.protocols, header)
			if resp == nil {
				t.Fatalf("dial: no response: %v", err)
			}
			if resp.StatusCode != tt.want {
				t.Fatalf("got status %d, want %d", resp.StatusCode, tt.want)
			}
			if ws != nil {
				if got := ws.Subprotocol(); got != Subprotocol {
					t.Errorf("got subprotocol %q, want %q", got, Subprotocol)
				}
				ws.Close()
			}
		})
	}
}

func TestAuthTimeout(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, func(c *Config) { c.AuthTimeout = 100 * time.Millisecond })
	c := e.open()
	ce := c.expectClose(CloseAuthTimeout)
	if ce.Text != "authentication timed out" {
		t.Errorf("got close reason %q, want %q", ce.Text, "authentication timed out")
	}
	waitUntil(t, "the connection is gone", func() bool { return e.connCount() == 0 })
	if got := len(e.audit.ofType("signaling.auth")); got != 1 {
		t.Errorf("got %d signaling.auth events, want 1", got)
	}
}

func TestAuthFailures(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, nil)
	e.auth.actors["token-nurse-no2fa"] = policy.Actor{UserID: "nurse", Role: policy.RoleNurse, SessionID: "s1"}

	tests := []struct {
		name  string
		first string
	}{
		{"unknown token", `{"type":"auth","token":"no-such-token"}`},
		{"staff without second factor", `{"type":"auth","token":"token-nurse-no2fa"}`},
		{"join first", `{"type":"join","consultation":"c1"}`},
		{"malformed json", `{"type":"auth","token":`},
		{"token missing", `{"type":"auth"}`},
		{"token with space", `{"type":"auth","token":"a b"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := e.open()
			c.sendRaw(tt.first)
			c.expectClose(CloseAuthFailed)
		})
	}
	waitUntil(t, "every connection is gone", func() bool { return e.connCount() == 0 })
	if got, want := len(e.audit.ofType("signaling.auth")), len(tests); got != want {
		t.Errorf("got %d signaling.auth events, want %d", got, want)
	}
	if got := counterValue(t, e.hub.metrics.authFailures); got != float64(len(tests)) {
		t.Errorf("got auth failures metric %v, want %d", got, len(tests))
	}
}

func TestAuthOK(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, nil)
	token := e.auth.add("u1", policy.RolePatient, "s1")
	c := e.open()
	c.send(AuthMessage{Header: Header{Type: TypeAuth, ID: "r1"}, Token: token, Device: "phone"})
	var ok AuthOKMessage
	c.expect(TypeAuthOK, &ok)
	if ok.ID != "r1" || ok.User != "u1" || ok.Role != policy.RolePatient || ok.Connection == "" {
		t.Errorf("got %+v, want id r1, user u1, role patient and a connection id", ok)
	}
	c.send(AuthMessage{Header: Header{Type: TypeAuth, ID: "r2"}, Token: token})
	if m := c.expectError(CodeAlreadyAuthenticated); m.ID != "r2" {
		t.Errorf("got error id %q, want r2", m.ID)
	}
}

func TestInvalidMessages(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, nil)
	c := e.connect("u1", policy.RolePatient)

	tests := []struct {
		name    string
		message string
		code    Code
		id      string
	}{
		{"malformed json", `{"type":`, CodeBadRequest, ""},
		{"not an object", `[1,2]`, CodeBadRequest, ""},
		{"unknown type", `{"type":"dance","id":"q1"}`, CodeUnknownType, "q1"},
		{"server type", `{"type":"joined","id":"q2"}`, CodeUnknownType, "q2"},
		{"unknown field", `{"type":"ping","id":"q3","extra":1}`, CodeBadRequest, "q3"},
		{"wrong field type", `{"type":"join","id":"q4","consultation":7}`, CodeBadRequest, "q4"},
		{"invalid consultation", `{"type":"join","id":"q5","consultation":"a/b"}`, CodeBadRequest, "q5"},
		{"leave outside a room", `{"type":"leave","id":"q6"}`, CodeNotJoined, "q6"},
		{"offer outside a room", `{"type":"offer","id":"q7","sdp":"v=0"}`, CodeNotJoined, "q7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.sendRaw(tt.message)
			m := c.expectError(tt.code)
			if m.ID != tt.id {
				t.Errorf("got error id %q, want %q", m.ID, tt.id)
			}
			if m.Message == "" {
				t.Error("got an empty error message")
			}
		})
	}

	t.Run("binary frame", func(t *testing.T) {
		if err := c.ws.WriteMessage(websocket.BinaryMessage, []byte(`{"type":"ping"}`)); err != nil {
			t.Fatalf("write: %v", err)
		}
		c.expectError(CodeBadRequest)
	})

	// The connection survives the errors above (ErrorLimit is 10).
	c.send(PingMessage{Header: Header{Type: TypePing, ID: "alive"}})
	var pong PongMessage
	c.expect(TypePong, &pong)
	if pong.ID != "alive" {
		t.Errorf("got pong id %q, want alive", pong.ID)
	}
}

func TestTooManyErrors(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, func(c *Config) { c.ErrorLimit = 3 })
	c := e.connect("u1", policy.RolePatient)
	for range 4 {
		c.sendRaw(`{"type":"nonsense"}`)
	}
	for range 4 {
		c.expectError(CodeUnknownType)
	}
	c.expectClose(CloseTooManyErrors)
}

func TestOversizedFrame(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, func(c *Config) { c.ReadLimit = 1024 })
	c := e.connect("u1", policy.RolePatient)
	c.sendRaw(`{"type":"offer","sdp":"` + strings.Repeat("a", 4096) + `"}`)
	c.expectClose(websocket.CloseMessageTooBig)
	waitUntil(t, "the connection is gone", func() bool { return e.connCount() == 0 })
}

func TestFlood(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, func(c *Config) {
		c.MessageRate = 1
		c.MessageBurst = 5
		c.ErrorLimit = 5
	})
	c := e.connect("u1", policy.RolePatient)
	for range 20 {
		c.send(PingMessage{Header: Header{Type: TypePing}})
	}
	pongs, limited := 0, 0
	for {
		typ, data, err := c.next()
		if err != nil {
			ce, ok := err.(*websocket.CloseError)
			if !ok || ce.Code != CloseRateLimited {
				t.Fatalf("read: %v, want close code %d", err, CloseRateLimited)
			}
			break
		}
		switch typ {
		case TypePong:
			pongs++
		case TypeError:
			if !strings.Contains(string(data), string(CodeRateLimited)) {
				t.Fatalf("got %s, want a rate-limited error", data)
			}
			limited++
		}
	}
	if pongs != 5 {
		t.Errorf("got %d pongs, want 5 (the burst)", pongs)
	}
	if limited != 6 {
		t.Errorf("got %d rate-limited errors, want 6 (ErrorLimit + 1)", limited)
	}
}

func TestPongTimeout(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, func(c *Config) {
		c.PingInterval = 50 * time.Millisecond
		c.PongTimeout = 150 * time.Millisecond
	})
	c := e.connect("u1", policy.RolePatient)
	// The client reads nothing, so its library never replies to pings.
	_ = c
	waitUntil(t, "the silent connection is closed", func() bool { return e.connCount() == 0 })
}

func TestShutdown(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, nil)
	e.rooms.add("c1", []string{"doc"}, "pat")
	doc := e.connect("doc", policy.RoleClinician)
	doc.join("c1")
	pending := e.open()

	if err := e.hub.Shutdown(t.Context()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	doc.expectClose(CloseGoingAway)
	pending.expectClose(CloseGoingAway)
	if n := e.roomCount(); n != 0 {
		t.Errorf("got %d rooms after shutdown, want 0", n)
	}
	_, resp, err := e.dial(e.url(), []string{Subprotocol}, nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("dial after shutdown: got %v, %v, want status 503", resp, err)
	}
	if got := e.rooms.statusesOf("c1"); len(got) != 0 {
		t.Errorf("got statuses %v recorded, want none", got)
	}
}
