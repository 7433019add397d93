package signaling

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"

	"github.com/bedside-health/bedside/audit"
	"github.com/bedside-health/bedside/policy"
)

// maxDrainBytes bounds what a closing connection reads and discards while
// it waits for the client's close reply.
const maxDrainBytes = 1 << 20

// errStop ends a connection's read loop after a close was requested.
var errStop = errors.New("connection closing")

// closeRequest is a close frame to send, optionally after one last message.
// With flush set, the writer first sends what is already queued.
type closeRequest struct {
	code    int
	reason  string
	message []byte
	flush   bool
}

// conn is one WebSocket connection. Its reader goroutine (readLoop) reads,
// decodes and dispatches; its writer goroutine (writeLoop) is the only one
// that writes data frames. Other goroutines talk to it only through send,
// closeWith, requestClose and revoke, which never block.
type conn struct {
	h    *Hub
	ws   *websocket.Conn
	id   string
	addr string
	log  *slog.Logger

	out        chan []byte       // encoded messages for the writer
	ctrl       chan closeRequest // capacity 1, written once by requestClose
	closeOnce  sync.Once
	closed     atomic.Bool   // a close was requested
	revoked    atomic.Bool   // the session was revoked
	readerDone chan struct{} // closed when the reader stops
	writerDone chan struct{} // closed when the writer stops

	// actor and device are set by the reader before addActor and not
	// changed after it.
	actor  policy.Actor
	device string
	// part is the consultation participant this connection acts as, if
	// any. Room code swaps it under the room's lock.
	part atomic.Pointer[participant]

	// Reader goroutine only.
	limiter     *rate.Limiter
	errorCount  int
	errorWindow time.Time

	// mu orders read deadline changes: once closing is set, only the
	// close timeout applies.
	mu      sync.Mutex
	closing bool
}

func newConn(h *Hub, ws *websocket.Conn, addr string) *conn {
	id := rand.Text()
	return &conn{
		h:          h,
		ws:         ws,
		id:         id,
		addr:       addr,
		log:        h.log.With("conn", id),
		out:        make(chan []byte, h.cfg.QueueSize),
		ctrl:       make(chan closeRequest, 1),
		readerDone: make(chan struct{}),
		writerDone: make(chan struct{}),
		limiter:    rate.NewLimiter(h.cfg.MessageRate, h.cfg.MessageBurst),
	}
}

// send queues an encoded message without blocking. A full queue closes the
// connection as a slow consumer; b must not be modified afterwards.
func (c *conn) send(typ string, b []byte) {
	if b == nil || c.closed.Load() {
		c.h.metrics.dropped.Inc()
		return
	}
	select {
	case c.out <- b:
		c.h.metrics.countSent(typ)
	default:
		c.h.metrics.dropped.Inc()
		c.h.metrics.slowConsumers.Inc()
		c.log.Warn("closing slow consumer: outbound queue full", "queue", cap(c.out))
		c.requestClose(closeRequest{code: CloseSlowConsumer, reason: "slow consumer: outbound queue full"})
	}
}

// sendJSON encodes v and queues it.
func (c *conn) sendJSON(typ string, v any) { c.send(typ, encode(c.log, v)) }

// closeWith asks the writer to send the messages already queued, then a
// close frame. Only the first close request has an effect.
func (c *conn) closeWith(code int, reason string) {
	c.requestClose(closeRequest{code: code, reason: reason, flush: true})
}

// requestClose queues req for the writer. Only the first call has an
// effect; later messages are dropped.
func (c *conn) requestClose(req closeRequest) {
	c.closeOnce.Do(func() {
		c.closed.Store(true)
		c.ctrl <- req
	})
}

// revoke sends session-revoked and closes the connection, dropping what is
// queued: a revoked session receives nothing more.
func (c *conn) revoke() {
	c.revoked.Store(true)
	b := encode(c.log, SessionRevokedMessage{Header: Header{Type: TypeSessionRevoked}})
	c.requestClose(closeRequest{code: ClosePolicyViolation, reason: "session revoked", message: b})
}

// writeLoop writes queued messages and pings until a close request, a write
// error or the end of the reader.
func (c *conn) writeLoop() {
	defer c.h.wg.Done()
	defer close(c.writerDone)
	ticker := time.NewTicker(c.h.cfg.PingInterval)
	defer ticker.Stop()

	for {
		// A close request wins over queued messages.
		select {
		case req := <-c.ctrl:
			c.writeClose(req)
			return
		default:
		}

		var err error
		select {
		case b := <-c.out:
			err = c.write(b)
		case req := <-c.ctrl:
			c.writeClose(req)
			return
		case <-ticker.C:
			err = c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.h.cfg.WriteTimeout))
		case <-c.readerDone:
			select {
			case req := <-c.ctrl:
				c.writeClose(req)
			default:
			}
			return
		}
		if err != nil {
			c.log.Debug("websocket write failed", "err", err)
			c.ws.NetConn().Close() // wakes the reader
			return
		}
	}
}

func (c *conn) write(b []byte) error {
	if err := c.ws.SetWriteDeadline(time.Now().Add(c.h.cfg.WriteTimeout)); err != nil {
		return err
	}
	return c.ws.WriteMessage(websocket.TextMessage, b)
}

// writeClose sends the close request, then limits the reader to
// CloseTimeout for the client's close reply.
func (c *conn) writeClose(req closeRequest) {
	for req.flush && len(c.out) > 0 {
		if err := c.write(<-c.out); err != nil {
			c.ws.NetConn().Close()
			return
		}
	}
	if req.message != nil {
		if err := c.write(req.message); err != nil {
			c.ws.NetConn().Close()
			return
		}
	}
	msg := websocket.FormatCloseMessage(req.code, req.reason)
	if err := c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(c.h.cfg.WriteTimeout)); err != nil {
		c.ws.NetConn().Close()
		return
	}
	c.mu.Lock()
	c.closing = true
	c.ws.SetReadDeadline(time.Now().Add(c.h.cfg.CloseTimeout))
	c.mu.Unlock()
}

// extendReadDeadline allows PongTimeout of silence from now on, unless the
// connection is closing.
func (c *conn) extendReadDeadline() {
	c.mu.Lock()
	if !c.closing {
		c.ws.SetReadDeadline(time.Now().Add(c.h.cfg.PongTimeout))
	}
	c.mu.Unlock()
}

// readLoop authenticates the client, serves its messages and tears the
// connection down when reading ends.
func (c *conn) readLoop() {
	defer c.h.wg.Done()
	err := c.serve()
	if err != nil && !errors.Is(err, errStop) && !isExpectedClose(err) {
		c.log.Debug("websocket read ended", "err", err)
	}

	close(c.readerDone)
	<-c.writerDone
	c.h.disconnect(c)
	c.h.removeConn(c)
	if !isTimeout(err) {
		c.drain()
	}
	c.ws.Close()
}

func (c *conn) serve() error {
	c.ws.SetReadLimit(c.h.cfg.ReadLimit)
	if err := c.authenticate(); err != nil {
		return err
	}
	c.ws.SetPongHandler(func(string) error {
		c.extendReadDeadline()
		return nil
	})
	c.extendReadDeadline()
	for {
		typ, data, err := c.ws.ReadMessage()
		if err != nil {
			return err
		}
		if c.closed.Load() {
			return errStop
		}
		c.extendReadDeadline()
		if typ != websocket.TextMessage {
			err = c.reject("", "", newRequestError(CodeBadRequest, "binary messages are not accepted: send JSON text"))
		} else {
			err = c.handle(data)
		}
		if err != nil {
			return err
		}
	}
}

// drain reads and discards what the client still sends, up to
// maxDrainBytes or CloseTimeout, so that closing the socket does not reset
// the connection before the client has read the close frame.
func (c *conn) drain() {
	netConn := c.ws.NetConn()
	netConn.SetReadDeadline(time.Now().Add(c.h.cfg.CloseTimeout))
	io.Copy(io.Discard, io.LimitReader(netConn, maxDrainBytes))
}

// authenticate reads the auth message, which must come first and within
// AuthTimeout, and registers the actor.
func (c *conn) authenticate() error {
	start := time.Now()
	deadline := start.Add(c.h.cfg.AuthTimeout)
	c.ws.SetReadDeadline(deadline)
	_, data, err := c.ws.ReadMessage()
	if isTimeout(err) {
		c.failAuth("", "timeout")
		c.closeWith(CloseAuthTimeout, "authentication timed out")
		return errStop
	}
	if err != nil {
		return err
	}

	req, err := Decode(data)
	m, ok := req.(*AuthMessage)
	if err != nil || !ok {
		c.h.metrics.receivedOther.Inc()
		c.failAuth("", "first message not auth")
		c.closeWith(CloseAuthFailed, "authentication required: the first message must be auth")
		return errStop
	}
	c.h.metrics.countReceived(TypeAuth)

	ctx, cancel := context.WithDeadline(c.h.ctx, deadline)
	actor, err := c.h.cfg.Authenticator.Authenticate(ctx, m.Token)
	cancel()
	switch {
	case err != nil || actor.Anonymous():
		c.failAuth("", "token rejected")
		c.closeWith(CloseAuthFailed, "authentication failed")
		return errStop
	case actor.Role.IsStaff() && !actor.SecondFactor:
		c.failAuth(actor.UserID, "second factor missing")
		c.closeWith(CloseAuthFailed, "authentication failed")
		return errStop
	}

	c.actor, c.device = actor, m.Device
	if !c.h.addActor(c, start) {
		c.failAuth(actor.UserID, "session revoked")
		c.revoke()
		return errStop
	}
	c.log = c.log.With("user", actor.UserID)
	c.log.Debug("websocket authenticated", "role", actor.Role)
	c.sendJSON(TypeAuthOK, AuthOKMessage{
		Header:     Header{Type: TypeAuthOK, ID: m.ID},
		User:       actor.UserID,
		Role:       actor.Role,
		Connection: c.id,
	})
	return nil
}

func (c *conn) failAuth(userID, reason string) {
	c.h.metrics.authFailures.Inc()
	c.log.Info("websocket authentication failed", "reason", reason)
	c.h.record(context.Background(), audit.Event{
		Type:    "signaling.auth",
		ActorID: userID,
		Address: c.addr,
		Outcome: audit.OutcomeFailure,
		Detail:  map[string]string{"reason": reason, "connection": c.id},
	})
}

// handle rate-limits, decodes and dispatches one message. It returns an
// error only to end the connection.
func (c *conn) handle(data []byte) error {
	if !c.limiter.Allow() {
		c.h.metrics.receivedOther.Inc()
		return c.reject("", "", errRateLimited)
	}
	req, err := Decode(data)
	if err != nil {
		c.h.metrics.receivedOther.Inc()
		var de *DecodeError
		errors.As(err, &de)
		code := CodeBadRequest
		if errors.Is(err, ErrUnknownType) {
			code = CodeUnknownType
		}
		return c.reject(de.Type, de.ID, newRequestError(code, err.Error()))
	}

	head := req.header()
	c.h.metrics.countReceived(head.Type)
	err = c.dispatch(req)
	var re *requestError
	if errors.As(err, &re) {
		return c.reject(head.Type, head.ID, re)
	}
	return err
}

// dispatch calls the handler of the message's type.
func (c *conn) dispatch(req Request) error {
	switch m := req.(type) {
	case *AuthMessage:
		return errAlreadyAuthenticated
	case *JoinMessage:
		return c.handleJoin(m)
	case *LeaveMessage:
		return c.handleLeave(m)
	case *AdmitMessage:
		return c.handleAdmit(m)
	case *DenyMessage:
		return c.handleDeny(m)
	case *RemoveMessage:
		return c.handleRemove(m)
	case *OfferMessage:
		return c.handleOffer(m)
	case *AnswerMessage:
		return c.handleAnswer(m)
	case *CandidateMessage:
		return c.handleCandidate(m)
	case *PingMessage:
		return c.handlePing(m)
	case *PresenceMessage:
		return c.handlePresence(m)
	}
	panic("signaling: Decode returned a message type without a handler")
}

// reject sends an error message and closes the connection once the client
// has caused more than ErrorLimit errors within ErrorWindow. Server-side
// failures (internal, media-failed) do not count.
func (c *conn) reject(typ, id string, re *requestError) error {
	c.sendJSON(TypeError, ErrorMessage{
		Header:  Header{Type: TypeError, ID: id},
		Request: typ,
		Code:    re.code,
		Message: re.message,
	})
	if re.code == CodeInternal || re.code == CodeMediaFailed {
		return nil
	}

	now := time.Now()
	if now.Sub(c.errorWindow) > c.h.cfg.ErrorWindow {
		c.errorWindow, c.errorCount = now, 0
	}
	c.errorCount++
	if c.errorCount <= c.h.cfg.ErrorLimit {
		return nil
	}
	c.log.Warn("closing connection after repeated errors", "errors", c.errorCount, "last", re.code)
	if re.code == CodeRateLimited {
		c.closeWith(CloseRateLimited, "message rate limit exceeded")
	} else {
		c.closeWith(CloseTooManyErrors, "too many invalid messages")
	}
	return errStop
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func isExpectedClose(err error) bool {
	return websocket.IsCloseError(err, CloseNormal, CloseGoingAway) || errors.Is(err, net.ErrClosed)
}
