package signaling

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/goleak"

	"github.com/bedside-health/bedside/audit"
	"github.com/bedside-health/bedside/policy"
)

// testDeadline bounds every wait in a test.
const testDeadline = 10 * time.Second

// fakeAuth maps tokens to actors.
type fakeAuth struct {
	// entered, when not nil, receives a value when Authenticate starts,
	// which then waits for release.
	entered, release chan struct{}

	mu     sync.Mutex
	actors map[string]policy.Actor
	calls  map[string]int // Authenticate calls by token
	// script, while not empty, gives the outcome of the next call: its
	// first error is returned (nil: the call proceeds) and removed.
	script []error
}

func (a *fakeAuth) Authenticate(_ context.Context, token string) (policy.Actor, error) {
	if a.entered != nil {
		a.entered <- struct{}{}
		<-a.release
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.calls == nil {
		a.calls = make(map[string]int)
	}
	a.calls[token]++
	if len(a.script) > 0 {
		err := a.script[0]
		a.script = a.script[1:]
		if err != nil {
			return policy.Actor{}, err
		}
	}
	actor, ok := a.actors[token]
	if !ok {
		return policy.Actor{}, fmt.Errorf("unknown session token: %w", ErrSessionInvalid)
	}
	return actor, nil
}

// remove ends the session of token, as an expiry would.
func (a *fakeAuth) remove(token string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.actors, token)
}

// setScript sets the outcomes of the next calls (see fakeAuth.script).
func (a *fakeAuth) setScript(errs ...error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.script = errs
}

// callCount returns how often Authenticate was called with token.
func (a *fakeAuth) callCount(token string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.calls[token]
}

// add registers an actor whose token is "token-<user>-<session>".
func (a *fakeAuth) add(user string, role policy.Role, session string) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	token := fmt.Sprintf("token-%s-%s", user, session)
	a.actors[token] = policy.Actor{UserID: user, Role: role, SessionID: session, SecondFactor: role.IsStaff()}
	return token
}

type fakeConsultation struct {
	hosts      map[string]bool
	members    map[string]policy.Role
	start, end time.Time // the join window
	status     Status
}

// fakeRooms holds consultations and records status transitions. Like the
// clinic, it stores every status it is given, but it checks no
// transition: tests compare the recorded list.
type fakeRooms struct {
	mu            sync.Mutex
	consultations map[string]*fakeConsultation
	statuses      map[string][]Status
}

func (f *fakeRooms) AuthorizeJoin(_ context.Context, actor policy.Actor, id string, now time.Time) (Grant, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.consultations[id]
	if !ok {
		return Grant{}, fmt.Errorf("look up consultation: %w", ErrNotFound)
	}
	role, ok := c.members[actor.UserID]
	if !ok {
		return Grant{}, fmt.Errorf("check participant: %w", ErrNotFound)
	}
	if now.Before(c.start) || !now.Before(c.end) {
		return Grant{}, fmt.Errorf("check window: %w", ErrOutsideWindow)
	}
	return Grant{Host: c.hosts[actor.UserID], Role: role}, nil
}

func (f *fakeRooms) Consultation(_ context.Context, id string) (ConsultationState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.consultations[id]
	if !ok {
		return ConsultationState{}, fmt.Errorf("look up consultation: %w", ErrNotFound)
	}
	return ConsultationState{Status: c.status, JoinUntil: c.end}, nil
}

func (f *fakeRooms) SetStatus(_ context.Context, id string, s Status) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.statuses[id] = append(f.statuses[id], s)
	if c, ok := f.consultations[id]; ok {
		c.status = s
	}
	return nil
}

// setStatus sets the stored status of a consultation, as the clinic
// would have it after a server restart.
func (f *fakeRooms) setStatus(id string, s Status) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.consultations[id].status = s
}

// setEnd moves the end of a consultation's join window.
func (f *fakeRooms) setEnd(id string, end time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.consultations[id].end = end
}

// add creates a consultation open for an hour around now.
func (f *fakeRooms) add(id string, hosts []string, others ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := &fakeConsultation{
		hosts:   make(map[string]bool),
		members: make(map[string]policy.Role),
		start:   time.Now().Add(-time.Hour),
		end:     time.Now().Add(time.Hour),
		status:  StatusScheduled,
	}
	for _, h := range hosts {
		c.hosts[h] = true
		c.members[h] = policy.RoleClinician
	}
	for _, o := range others {
		c.members[o] = policy.RolePatient
	}
	f.consultations[id] = c
}

func (f *fakeRooms) statusesOf(id string) []Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Status(nil), f.statuses[id]...)
}

// fakeMedia returns a fixed answer to each offer and records calls.
type fakeMedia struct {
	mu      sync.Mutex
	joins   int
	peers   map[string]*fakePeer // by participant id, the latest peer
	joinErr error
}

type fakePeer struct {
	mu     sync.Mutex
	sig    MediaSignaler
	calls  []string
	closed bool
	// pending is the SFU offer sent with offer and not yet answered; like
	// the SFU, the peer rejects a client offer while one is pending.
	pending string
	// failNext, when set, is the error of the next HandleOffer.
	failNext error
	resends  int
}

func (m *fakeMedia) Join(roomID, participantID string, sig MediaSignaler) (MediaPeer, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.joinErr != nil {
		return nil, m.joinErr
	}
	m.joins++
	p := &fakePeer{sig: sig}
	m.peers[participantID] = p
	return p, nil
}

func (m *fakeMedia) TURNCredentials(participantID string) (TURNCredentials, bool) {
	return TURNCredentials{
		URLs:       []string{"turn:127.0.0.1:3478?transport=udp"},
		Username:   "1700000000:" + participantID,
		Credential: "credential-" + participantID,
		TTL:        10 * time.Minute,
	}, true
}

func (m *fakeMedia) peer(participantID string) *fakePeer {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.peers[participantID]
}

func (p *fakePeer) record(call string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, call)
}

func (p *fakePeer) HandleOffer(sdp string) (string, error) {
	p.record("offer " + sdp)
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.failNext; err != nil {
		p.failNext = nil
		return "", err
	}
	if p.pending != "" {
		return "", errors.New("offer collision")
	}
	return "answer-to " + sdp, nil
}

func (p *fakePeer) HandleAnswer(sdp string) error {
	p.record("answer " + sdp)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pending = ""
	return nil
}

func (p *fakePeer) ResendOffer() bool {
	p.mu.Lock()
	pending := p.pending
	if pending != "" {
		p.resends++
	}
	p.mu.Unlock()
	if pending == "" {
		return false
	}
	p.sig.SendOffer(pending)
	return true
}

// offer sends an SFU offer that waits for an answer.
func (p *fakePeer) offer(sdp string) {
	p.mu.Lock()
	p.pending = sdp
	p.mu.Unlock()
	p.sig.SendOffer(sdp)
}

// failNextOffer makes the next HandleOffer return err.
func (p *fakePeer) failNextOffer(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failNext = err
}

func (p *fakePeer) resendCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.resends
}

func (p *fakePeer) AddICECandidate(c webrtc.ICECandidateInit) error {
	p.record("candidate " + c.Candidate)
	return nil
}

func (p *fakePeer) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	return nil
}

func (p *fakePeer) snapshot() (calls []string, closed bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.calls...), p.closed
}

// auditLog collects audit events.
type auditLog struct {
	mu     sync.Mutex
	events []audit.Event
}

func (l *auditLog) Record(_ context.Context, e audit.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
}

func (l *auditLog) all() []audit.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]audit.Event(nil), l.events...)
}

func (l *auditLog) ofType(typ string) []audit.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []audit.Event
	for _, e := range l.events {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// env is a hub behind an httptest server with fake ports.
type env struct {
	t        testing.TB
	hub      *Hub
	srv      *httptest.Server
	auth     *fakeAuth
	rooms    *fakeRooms
	media    *fakeMedia
	audit    *auditLog
	registry *prometheus.Registry
}

// checkLeaks registers a goroutine leak check that runs after every other
// cleanup of the test.
func checkLeaks(t *testing.T) {
	t.Helper()
	t.Cleanup(func() { goleak.VerifyNone(t) })
}

// newEnv starts a hub with short timeouts; configure may change the config.
func newEnv(t testing.TB, configure func(*Config)) *env {
	t.Helper()
	e := &env{
		t:        t,
		auth:     &fakeAuth{actors: make(map[string]policy.Actor)},
		rooms:    &fakeRooms{consultations: make(map[string]*fakeConsultation), statuses: make(map[string][]Status)},
		media:    &fakeMedia{peers: make(map[string]*fakePeer)},
		audit:    &auditLog{},
		registry: prometheus.NewRegistry(),
	}
	cfg := Config{
		Authenticator: e.auth,
		Rooms:         e.rooms,
		Media:         e.media,
		Audit:         e.audit,
		Registerer:    e.registry,
		ICEServers:    []ICEServer{{URLs: []string{"stun:127.0.0.1:3478"}}},
		AuthTimeout:   2 * time.Second,
		ResumeGrace:   2 * time.Second,
		CloseTimeout:  200 * time.Millisecond,
	}
	if configure != nil {
		configure(&cfg)
	}
	hub, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	e.hub = hub
	e.srv = httptest.NewServer(hub)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
		defer cancel()
		if err := hub.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		e.srv.Close()
	})
	return e
}

func (e *env) url() string { return "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/ws" }

// dial opens a WebSocket with the given subprotocols and extra headers.
func (e *env) dial(url string, protocols []string, header http.Header) (*websocket.Conn, *http.Response, error) {
	d := websocket.Dialer{Subprotocols: protocols, HandshakeTimeout: testDeadline}
	return d.Dial(url, header)
}

// client is a test WebSocket client.
type client struct {
	t  testing.TB
	ws *websocket.Conn
}

// open connects without authenticating.
func (e *env) open() *client {
	e.t.Helper()
	ws, resp, err := e.dial(e.url(), []string{Subprotocol}, nil)
	if err != nil {
		e.t.Fatalf("dial: %v (response %v)", err, resp)
	}
	c := &client{t: e.t, ws: ws}
	e.t.Cleanup(func() { ws.Close() })
	return c
}

// connect connects and authenticates as user with a fresh session.
func (e *env) connect(user string, role policy.Role) *client {
	e.t.Helper()
	return e.connectSession(user, role, user+"-session")
}

func (e *env) connectSession(user string, role policy.Role, session string) *client {
	e.t.Helper()
	token := e.auth.add(user, role, session)
	c := e.open()
	c.send(AuthMessage{Header: Header{Type: TypeAuth}, Token: token, Device: "dev-" + user})
	c.expect(TypeAuthOK, nil)
	return c
}

func (c *client) send(v any) {
	c.t.Helper()
	c.ws.SetWriteDeadline(time.Now().Add(testDeadline))
	if err := c.ws.WriteJSON(v); err != nil {
		c.t.Fatalf("write %T: %v", v, err)
	}
}

func (c *client) sendRaw(s string) {
	c.t.Helper()
	c.ws.SetWriteDeadline(time.Now().Add(testDeadline))
	if err := c.ws.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// next reads one message and returns its type and bytes.
func (c *client) next() (string, []byte, error) {
	c.ws.SetReadDeadline(time.Now().Add(testDeadline))
	_, data, err := c.ws.ReadMessage()
	if err != nil {
		return "", nil, err
	}
	var h Header
	if err := json.Unmarshal(data, &h); err != nil {
		return "", nil, fmt.Errorf("decode server message %q: %w", data, err)
	}
	return h.Type, data, nil
}

// expect reads the next message, which must have type typ, into v if not
// nil.
func (c *client) expect(typ string, v any) {
	c.t.Helper()
	got, data, err := c.next()
	if err != nil {
		c.t.Fatalf("read, want %s: %v", typ, err)
	}
	if got != typ {
		c.t.Fatalf("got message %s, want %s", data, typ)
	}
	if v != nil {
		if err := json.Unmarshal(data, v); err != nil {
			c.t.Fatalf("decode %s: %v", typ, err)
		}
	}
}

// waitFor reads until a message of type typ, skipping the types in skip,
// and fails on any other type.
func (c *client) waitFor(typ string, v any, skip ...string) {
	c.t.Helper()
	for {
		got, data, err := c.next()
		if err != nil {
			c.t.Fatalf("read, want %s: %v", typ, err)
		}
		if got == typ {
			if v != nil {
				if err := json.Unmarshal(data, v); err != nil {
					c.t.Fatalf("decode %s: %v", typ, err)
				}
			}
			return
		}
		skipped := false
		for _, s := range skip {
			skipped = skipped || s == got
		}
		if !skipped {
			c.t.Fatalf("got message %s, want %s", data, typ)
		}
	}
}

// expectError reads an error message and checks its code.
func (c *client) expectError(code Code) ErrorMessage {
	c.t.Helper()
	var m ErrorMessage
	c.expect(TypeError, &m)
	if m.Code != code {
		c.t.Fatalf("got error code %q (%s), want %q", m.Code, m.Message, code)
	}
	return m
}

// expectClose reads until the connection closes and checks the close code.
func (c *client) expectClose(code int) *websocket.CloseError {
	c.t.Helper()
	for {
		_, _, err := c.next()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) {
			c.t.Fatalf("read: %v, want close code %d", err, code)
		}
		if ce.Code != code {
			c.t.Fatalf("got close code %d %q, want %d", ce.Code, ce.Text, code)
		}
		return ce
	}
}

// join sends join and returns the joined message.
func (c *client) join(consultation string) JoinedMessage {
	c.t.Helper()
	c.send(JoinMessage{Header: Header{Type: TypeJoin}, Consultation: consultation})
	var j JoinedMessage
	c.expect(TypeJoined, &j)
	return j
}

// waitUntil polls cond until it is true or the test deadline passes.
func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testDeadline)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// connCount returns the hub's open connections.
func (e *env) connCount() int {
	e.hub.mu.Lock()
	defer e.hub.mu.Unlock()
	return len(e.hub.conns)
}

func (e *env) roomCount() int {
	e.hub.mu.Lock()
	defer e.hub.mu.Unlock()
	return len(e.hub.rooms)
}

// rawDialer returns a dialer that stores the TCP connection it opens, so a
// test can drop it without a close frame.
func rawDialer(store *net.Conn) websocket.Dialer {
	return websocket.Dialer{
		Subprotocols:     []string{Subprotocol},
		HandshakeTimeout: testDeadline,
		NetDial: func(network, addr string) (net.Conn, error) {
			nc, err := net.Dial(network, addr)
			*store = nc
			return nc, err
		},
	}
}

// counterValue returns the value of a counter or gauge.
func counterValue(t testing.TB, m prometheus.Metric) float64 {
	t.Helper()
	var out dto.Metric
	if err := m.Write(&out); err != nil {
		t.Fatalf("read metric: %v", err)
	}
	if out.Counter != nil {
		return out.Counter.GetValue()
	}
	return out.Gauge.GetValue()
}
