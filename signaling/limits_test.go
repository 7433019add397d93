package signaling

import (
	"net"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/bedside-health/bedside/audit"
	"github.com/bedside-health/bedside/policy"
)

// gatedListener wraps the connections it accepts so that a test can hold
// back every write of the server: while gate is locked, the server's
// writer blocks as it would on a client that stops reading.
type gatedListener struct {
	net.Listener
	gate *sync.RWMutex
}

func (l gatedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return gatedConn{Conn: c, gate: l.gate}, nil
}

type gatedConn struct {
	net.Conn
	gate *sync.RWMutex
}

func (c gatedConn) Write(b []byte) (int, error) {
	c.gate.RLock()
	defer c.gate.RUnlock()
	return c.Conn.Write(b)
}

// gatedURL serves the hub on a second listener whose writes gate holds
// back, and returns its WebSocket URL.
func (e *env) gatedURL(gate *sync.RWMutex) string {
	srv := httptest.NewUnstartedServer(e.hub)
	srv.Listener = gatedListener{Listener: srv.Listener, gate: gate}
	srv.Start()
	e.t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws"
}

func TestBurstGetsAllReplies(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, nil) // default QueueSize, MessageBurst and ErrorLimit
	var gate sync.RWMutex
	ws, _, err := e.dial(e.gatedURL(&gate), []string{Subprotocol}, nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { ws.Close() })
	c := &client{t: t, ws: ws}
	c.send(AuthMessage{Header: Header{Type: TypeAuth}, Token: e.auth.add("u1", policy.RolePatient, "s1")})
	c.expect(TypeAuthOK, nil)

	// The server queues every pong while it can write none of them.
	burst := e.hub.cfg.MessageBurst
	gate.Lock()
	for i := range burst {
		c.send(PingMessage{Header: Header{Type: TypePing, ID: "p" + strconv.Itoa(i)}})
	}
	pongs := e.hub.metrics.sent[TypePong]
	waitUntil(t, "the server queued a pong for every ping", func() bool {
		return counterValue(t, pongs) == float64(burst)
	})
	gate.Unlock()

	for i := range burst {
		var pong PongMessage
		c.expect(TypePong, &pong)
		if want := "p" + strconv.Itoa(i); pong.ID != want {
			t.Fatalf("got pong %q, want %q", pong.ID, want)
		}
	}
	if got := counterValue(t, e.hub.metrics.slowConsumers); got != 0 {
		t.Errorf("got %v slow consumer disconnects, want 0", got)
	}
	if got := e.connCount(); got != 1 {
		t.Errorf("got %d open connections after the burst, want 1", got)
	}
}

func TestUserConnectionLimit(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, func(c *Config) { c.MaxUserConnections = 3 })
	var first *client
	for i := range 3 {
		c := e.connectSession("u1", policy.RolePatient, "s"+string(rune('1'+i)))
		if first == nil {
			first = c
		}
	}

	extra := e.open()
	extra.send(AuthMessage{Header: Header{Type: TypeAuth}, Token: e.auth.add("u1", policy.RolePatient, "s9")})
	ce := extra.expectClose(CloseTooManyConnections)
	if !strings.Contains(ce.Text, "too many connections") {
		t.Errorf("got close reason %q, want it to name the limit", ce.Text)
	}
	var limited []audit.Event
	for _, ev := range e.audit.ofType(audit.TypeSignalingAuth) {
		if ev.Detail["reason"] == "connection limit" {
			limited = append(limited, ev)
		}
	}
	if len(limited) != 1 || limited[0].ActorID != "u1" {
		t.Errorf("got connection limit audit events %+v, want one for u1", limited)
	}

	// Other users are not limited by u1's connections.
	e.connect("u2", policy.RolePatient)

	// A closed connection frees its place.
	first.ws.Close()
	waitUntil(t, "the closed connection is gone", func() bool { return e.connCount() == 3 })
	e.connectSession("u1", policy.RolePatient, "s4")
}

func TestJoinRateLimit(t *testing.T) {
	checkLeaks(t)
	e := newEnv(t, func(c *Config) {
		c.JoinRate = rate.Every(time.Hour)
		c.JoinBurst = 3
	})
	e.rooms.add("c1", []string{"doc"}, "pat")
	doc := e.connect("doc", policy.RoleClinician)
	for range 3 {
		doc.join("c1")
		doc.send(LeaveMessage{Header: Header{Type: TypeLeave, ID: "l"}})
		doc.expect(TypeOK, nil)
	}

	doc.send(JoinMessage{Header: Header{Type: TypeJoin, ID: "j4"}, Consultation: "c1"})
	m := doc.expectError(CodeTooManyJoins)
	if m.ID != "j4" || m.Request != TypeJoin {
		t.Errorf("got error %+v, want it to name join j4", m)
	}
	if got := len(e.audit.ofType(audit.TypeConsultationJoin)); got != 3 {
		t.Errorf("got %d join audit events, want 3 (the rejected join is not recorded)", got)
	}
	if got := len(e.audit.ofType(audit.TypeConsultationLeave)); got != 3 {
		t.Errorf("got %d leave audit events, want 3", got)
	}

	// The limit is per connection: another connection of the user joins.
	again := e.connectSession("doc", policy.RoleClinician, "doc-session-2")
	if j := again.join("c1"); j.State != StateAdmitted {
		t.Errorf("got state %q on a new connection, want admitted", j.State)
	}
}
