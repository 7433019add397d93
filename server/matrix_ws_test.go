package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/webrtc/v4"

	"github.com/bedside-health/bedside/api"
	"github.com/bedside-health/bedside/clinic"
	"github.com/bedside-health/bedside/policy"
	"github.com/bedside-health/bedside/policy/policytest"
	"github.com/bedside-health/bedside/signaling"
	"github.com/bedside-health/bedside/store"
)

// wsTimeout bounds every WebSocket step of a test.
const wsTimeout = 5 * time.Second

// wsClient is one test connection to the server's /ws.
type wsClient struct {
	t    *testing.T
	ws   *websocket.Conn
	next int
}

// wsFrame is a message from the server: its type, request id, and for
// errors the code.
type wsFrame struct {
	Type    string `json:"type"`
	ID      string `json:"id"`
	Code    string `json:"code"`
	Message string `json:"message"`
	State   string `json:"state"`
	// Participant is a participant id in joined, and a roster entry in
	// the broadcasts.
	Participant json.RawMessage `json:"participant"`
	raw         []byte
}

// participantID returns the participant id of a joined message.
func (f wsFrame) participantID() string {
	var id string
	json.Unmarshal(f.Participant, &id)
	return id
}

// closedError reports that the server closed the connection.
type closedError struct{ code int }

func (e *closedError) Error() string { return fmt.Sprintf("connection closed with code %d", e.code) }

// dialWS connects to the server's /ws and authenticates with token; an
// empty token sends an empty auth message. It returns the close error
// when the server rejects the authentication.
func (tc *testClinic) dialWS(t *testing.T, token string) (*wsClient, error) {
	t.Helper()
	d := websocket.Dialer{Subprotocols: []string{signaling.Subprotocol}, HandshakeTimeout: wsTimeout}
	ws, resp, err := d.Dial("ws://"+tc.addr+"/ws", nil)
	if err != nil {
		t.Fatalf("dial /ws: %v", err)
	}
	resp.Body.Close()
	c := &wsClient{t: t, ws: ws}
	t.Cleanup(func() { ws.Close() })
	c.send(map[string]string{"type": signaling.TypeAuth, "token": token})
	f, err := c.read()
	if err != nil {
		ws.Close()
		return nil, err
	}
	if f.Type != signaling.TypeAuthOK {
		t.Fatalf("auth: got %s, want auth-ok", f.raw)
	}
	return c, nil
}

func (c *wsClient) send(v any) {
	c.t.Helper()
	c.ws.SetWriteDeadline(time.Now().Add(wsTimeout))
	if err := c.ws.WriteJSON(v); err != nil {
		c.t.Fatalf("send %v: %v", v, err)
	}
}

// read returns the next message, or a *closedError when the server closed
// the connection.
func (c *wsClient) read() (wsFrame, error) {
	c.t.Helper()
	c.ws.SetReadDeadline(time.Now().Add(wsTimeout))
	_, raw, err := c.ws.ReadMessage()
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		return wsFrame{}, &closedError{code: ce.Code}
	}
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	f := wsFrame{raw: raw}
	if err := json.Unmarshal(raw, &f); err != nil {
		c.t.Fatalf("decode %s: %v", raw, err)
	}
	return f, nil
}

// request sends msg with a fresh request id and returns the reply that
// carries the id, skipping broadcasts.
func (c *wsClient) request(msg map[string]any) wsFrame {
	c.t.Helper()
	c.next++
	id := fmt.Sprintf("r%d", c.next)
	msg["id"] = id
	c.send(msg)
	for {
		f, err := c.read()
		if err != nil {
			c.t.Fatalf("reply to %v: %v", msg, err)
		}
		if f.ID == id {
			return f
		}
	}
}

// waitFor returns the next message of type typ.
func (c *wsClient) waitFor(typ string) wsFrame {
	c.t.Helper()
	for {
		f, err := c.read()
		if err != nil {
			c.t.Fatalf("wait for %s: %v", typ, err)
		}
		if f.Type == typ {
			return f
		}
	}
}

// leave leaves the room at once, without the reconnect grace period, and
// closes the connection.
func (c *wsClient) leave() {
	c.t.Helper()
	c.send(map[string]string{"type": signaling.TypeLeave})
	c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""),
		time.Now().Add(wsTimeout))
	c.ws.Close()
}

// wsAnswer turns a signaling reply into the HTTP response a route would
// give, so the matrix compares both alike: not-found is api.NotFound and
// forbidden is policy.ForbiddenError. Each code has one fixed message, so
// comparing codes compares the whole reply. Any other code is shown as
// it is and differs from every expectation.
func wsAnswer(f wsFrame) error {
	switch {
	case f.Type != signaling.TypeError:
		return nil
	case f.Code == string(signaling.CodeNotFound):
		return api.NotFound()
	case f.Code == string(signaling.CodeForbidden):
		return policy.ForbiddenError()
	}
	return &api.Error{Status: http.StatusConflict, Code: "ws_" + f.Code, Message: f.Message}
}

// wsSession opens an authenticated connection for actor. A rejected
// authentication becomes the response a route gives: 401 for an anonymous
// actor, second_factor_required for a staff actor without it.
func (w *world) wsSession(t *testing.T, actor policy.Actor) (*wsClient, error) {
	t.Helper()
	token := ""
	if !actor.Anonymous() {
		token = w.tc.token(t, actor)
	}
	c, err := w.tc.dialWS(t, token)
	var ce *closedError
	switch {
	case err == nil:
		return c, nil
	case !errors.As(err, &ce) || ce.code != signaling.CloseAuthFailed:
		return nil, err
	case actor.Anonymous():
		return nil, api.Unauthorized()
	case actor.Role.IsStaff() && !actor.SecondFactor:
		return nil, policy.SecondFactorError()
	}
	return nil, fmt.Errorf("authentication of %s %s rejected", actor.Role, actor.UserID)
}

// join sends join for consultation id and returns the reply.
func (c *wsClient) join(id string) wsFrame {
	return c.request(map[string]any{"type": signaling.TypeJoin, "consultation": id})
}

// host returns the clinician who hosts the consultations of the
// signaling cases, created once.
func (w *world) host(t *testing.T) policy.Actor {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.hostActor.Anonymous() {
		w.hostActor = w.tc.newActor(t, policy.RoleClinician)
	}
	return w.hostActor
}

// roomConsultation stores a scheduled consultation that opens now, hosted
// by the world's host, with actor in relation rel.
func (w *world) roomConsultation(t *testing.T, actor policy.Actor, rel policy.Relation) (*store.Consultation, policy.Relation, bool) {
	return w.consultation(t, actor, rel, clinic.StatusScheduled, time.Now().Truncate(time.Minute), w.host(t).UserID)
}

// joinable reports whether a role holding held may join at all.
func joinable(role policy.Role, held policy.Relation) bool {
	return policy.Grant(role, policy.ActionConsultationJoin)&held != 0
}

// hostCommand builds a case for admit, deny or remove: a guest waits in
// the room, the actor joins and sends the command naming the guest. Only
// a host may, which the table expresses as consultation.admit. An actor
// who holds a relation but may not join gets not-found from the join
// already, which the join case checks, so those cells are left out.
func hostCommand(w *world, typ string) policytest.Case {
	return policytest.Case{
		Name: "WS " + typ, Action: policy.ActionConsultationAdmit,
		Build: func(t *testing.T, actor policy.Actor, rel policy.Relation) (policytest.Attempt, policy.Relation, bool) {
			c, held, ok := w.roomConsultation(t, actor, rel)
			if !ok || (held != policy.RelNone && !joinable(actor.Role, held)) {
				return policytest.Attempt{}, 0, false
			}
			guest := w.waitingGuest(t, c)
			res := policy.Consultation(c.ID)
			return policytest.Attempt{Resource: &res, Call: func(_ context.Context, actor policy.Actor) error {
				defer guest.conn.leave()
				return w.inRoom(t, actor, c.ID, func(conn *wsClient, _ wsFrame) error {
					return wsAnswer(conn.request(map[string]any{"type": typ, "participant": guest.participant}))
				})
			}}, held, true
		},
	}
}

// guestInRoom is a guest's connection waiting in a consultation's room.
type guestInRoom struct {
	conn        *wsClient
	participant string
}

// waitingGuest lists a new patient as a guest of c and puts him in the
// waiting room.
func (w *world) waitingGuest(t *testing.T, c *store.Consultation) guestInRoom {
	t.Helper()
	guest := w.tc.newActor(t, policy.RolePatient)
	_, err := w.tc.srv.DB().UpdateConsultation(c.ID, func(c *store.Consultation) error {
		c.Participants = append(c.Participants, store.Participant{UserID: guest.UserID, Kind: clinic.KindGuest,
			Role: string(policy.RolePatient)})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := w.wsSession(t, guest)
	if err != nil {
		t.Fatal(err)
	}
	joined := conn.join(c.ID)
	if joined.Type != signaling.TypeJoined || joined.State != signaling.StateWaiting {
		t.Fatalf("guest join: got %s, want joined in state waiting", joined.raw)
	}
	return guestInRoom{conn: conn, participant: joined.participantID()}
}

// inRoom connects actor, joins consultation id and runs then with the
// connection and the joined message. A rejected authentication or join is
// the answer.
func (w *world) inRoom(t *testing.T, actor policy.Actor, id string, then func(*wsClient, wsFrame) error) error {
	conn, err := w.wsSession(t, actor)
	if err != nil {
		return err
	}
	defer conn.leave()
	joined := conn.join(id)
	if joined.Type != signaling.TypeJoined {
		return wsAnswer(joined)
	}
	return then(conn, joined)
}

// signalingCases covers the signaling messages that act on a
// consultation, over a real WebSocket to the server.
func signalingCases(w *world) []matrixCase {
	offer := sampleOffer(w)
	cases := []policytest.Case{
		{Name: "WS join", Action: policy.ActionConsultationJoin, HideAll: true,
			Build: func(t *testing.T, actor policy.Actor, rel policy.Relation) (policytest.Attempt, policy.Relation, bool) {
				c, held, ok := w.roomConsultation(t, actor, rel)
				if !ok {
					return policytest.Attempt{}, 0, false
				}
				res := policy.Consultation(c.ID)
				return policytest.Attempt{Resource: &res, Call: func(_ context.Context, actor policy.Actor) error {
					return w.inRoom(t, actor, c.ID, func(*wsClient, wsFrame) error { return nil })
				}}, held, true
			}},
		hostCommand(w, signaling.TypeAdmit),
		hostCommand(w, signaling.TypeDeny),
		hostCommand(w, signaling.TypeRemove),
		{Name: "WS offer", Action: policy.ActionConsultationJoin, HideAll: true,
			Build: func(t *testing.T, actor policy.Actor, rel policy.Relation) (policytest.Attempt, policy.Relation, bool) {
				c, held, ok := w.roomConsultation(t, actor, rel)
				if !ok {
					return policytest.Attempt{}, 0, false
				}
				res := policy.Consultation(c.ID)
				return policytest.Attempt{Resource: &res, Call: func(_ context.Context, actor policy.Actor) error {
					return w.offerInRoom(t, actor, c.ID, offer(t))
				}}, held, true
			}},
	}
	out := make([]matrixCase, len(cases))
	for i, c := range cases {
		out[i] = matrixCase{Case: c}
	}
	return out
}

// offerInRoom joins actor to consultation id, has the host admit him if he
// waits, and sends an SDP offer, which an answer accepts.
func (w *world) offerInRoom(t *testing.T, actor policy.Actor, id, sdp string) error {
	t.Helper()
	host, err := w.wsSession(t, w.host(t))
	if err != nil {
		t.Fatal(err)
	}
	defer host.leave()
	if f := host.join(id); f.Type != signaling.TypeJoined || f.State != signaling.StateAdmitted {
		t.Fatalf("host join: got %s, want joined in state admitted", f.raw)
	}
	return w.inRoom(t, actor, id, func(conn *wsClient, joined wsFrame) error {
		if joined.State == signaling.StateWaiting {
			if f := host.request(map[string]any{"type": signaling.TypeAdmit, "participant": joined.participantID()}); f.Type == signaling.TypeError {
				t.Fatalf("host admits: got %s", f.raw)
			}
			conn.waitFor(signaling.TypeAdmitted)
		}
		reply := conn.request(map[string]any{"type": signaling.TypeOffer, "sdp": sdp})
		if reply.Type != signaling.TypeAnswer && reply.Type != signaling.TypeError {
			t.Fatalf("offer: got %s, want answer or error", reply.raw)
		}
		return wsAnswer(reply)
	})
}

// sampleOffer returns a function that creates, once, an SDP offer of a
// Pion peer that receives audio and video, as a browser joining a call
// would send.
func sampleOffer(w *world) func(t *testing.T) string {
	var once sync.Once
	var sdp string
	return func(t *testing.T) string {
		t.Helper()
		once.Do(func() {
			pc, err := webrtc.NewPeerConnection(webrtc.Configuration{})
			if err != nil {
				t.Fatal(err)
			}
			defer pc.Close()
			for _, kind := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
				if _, err := pc.AddTransceiverFromKind(kind, webrtc.RTPTransceiverInit{
					Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
					t.Fatal(err)
				}
			}
			offer, err := pc.CreateOffer(nil)
			if err != nil {
				t.Fatal(err)
			}
			sdp = offer.SDP
		})
		if sdp == "" {
			t.Fatal("no sample offer")
		}
		return sdp
	}
}
