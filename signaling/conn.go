package signaling

import (
	"context"
	"crypto/rand"
	"errors"
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

// errStop ends a connection's read loop after a close was requested.
var errStop = errors.New("connection closing")

// conn is one WebSocket connection. Its reader (run, then serve on its own
// goroutine) reads, decodes and dispatches. Writing is done by at most one
// writer goroutine at a time (writeLoop, in writer.go), which runs while
// the outbound queue has messages and exits when it is empty, so an idle
// connection holds no writer stack. Other goroutines talk to a conn only
// through send, closeWith and revoke, which never wait on the network.
type conn struct {
	h    *Hub
	ws   *websocket.Conn
	id   string
	addr string

	out       chan *outbound // messages for the writer
	pingTimer *time.Timer    // queues a ping every PingInterval after auth
	closeOnce sync.Once
	closed    atomic.Bool // a close was requested
	revoked   atomic.Bool // the session was revoked

	// actor and device are set by the reader before addActor and not
	// changed after it.
	actor  policy.Actor
	device string
	// part is the consultation participant this connection acts as, if
	// any. Room code swaps it under the room's lock.
	part atomic.Pointer[participant]

	// Reader goroutine only.
	limiter     *rate.Limiter
	joins       *rate.Limiter // created at the first join
	errorCount  int
	errorWindow time.Time

	// mu guards the writer's lifecycle, read deadline changes and the
	// session re-checks.
	mu            sync.Mutex
	token         string        // the session token, for re-checks; cleared when the reader ends
	sessionTimer  *time.Timer   // re-checks the session every SessionCheck after auth
	sessionFaults int           // re-checks in a row that failed with a server fault
	writing       bool          // a writer goroutine is running
	finished      bool          // the reader ended; no writer starts any more
	writerExit    chan struct{} // closed by the writer that stops after finished was set
	closeReq      *closeRequest // pending close for the writer
	closeSent     bool          // a close frame was sent; nothing is written after it
	failed        bool          // a write failed
	closing       bool          // only the close timeout applies to reads
}

func newConn(h *Hub, ws *websocket.Conn, addr string) *conn {
	return &conn{
		h:       h,
		ws:      ws,
		id:      rand.Text(),
		addr:    addr,
		out:     make(chan *outbound, h.cfg.QueueSize),
		limiter: rate.NewLimiter(h.cfg.MessageRate, h.cfg.MessageBurst),
	}
}

// logger returns a logger with the connection's ids. It is built per call
// rather than stored, because log lines are rare and an idle connection
// should hold as little memory as possible. Only the reader may call it,
// because it reads the actor; other goroutines use writerLogger.
func (c *conn) logger() *slog.Logger {
	if c.actor.UserID == "" {
		return c.h.log.With("conn", c.id)
	}
	return c.h.log.With("conn", c.id, "user", c.actor.UserID)
}

// writerLogger returns a logger with the connection id, for goroutines
// other than the reader.
func (c *conn) writerLogger() *slog.Logger { return c.h.log.With("conn", c.id) }

// run authenticates the client on the calling goroutine, then hands
// reading to a new goroutine. The idle reader thus starts with a small
// stack instead of keeping the one that authentication grew.
func (c *conn) run() {
	c.ws.SetReadLimit(c.h.cfg.ReadLimit)
	if err := c.authenticate(); err != nil {
		c.finish(err)
		return
	}
	c.mu.Lock()
	if !c.finished {
		c.pingTimer = time.AfterFunc(c.h.cfg.PingInterval, c.queuePing)
		c.sessionTimer = time.AfterFunc(c.h.sessionCheckDelay(), c.checkSession)
	}
	c.mu.Unlock()
	go func() { c.finish(c.serve()) }()
}

// finish tears the connection down when reading ends: it waits for the
// writer, leaves the consultation, unregisters the connection and closes
// the socket.
func (c *conn) finish(err error) {
	defer c.h.wg.Done()
	if err != nil && !errors.Is(err, errStop) && !isExpectedClose(err) {
		c.logger().Debug("websocket read ended", "err", err)
	}

	c.mu.Lock()
	c.finished = true
	if c.pingTimer != nil {
		c.pingTimer.Stop()
	}
	if c.sessionTimer != nil {
		c.sessionTimer.Stop()
	}
	c.token = ""
	var wait chan struct{}
	if c.writing {
		c.writerExit = make(chan struct{})
		wait = c.writerExit
	}
	c.mu.Unlock()
	if wait != nil {
		<-wait
	}

	c.h.disconnect(c)
	c.h.removeConn(c)
	if !isTimeout(err) {
		c.drain()
	}
	c.ws.Close()
}

// serve reads, decodes and dispatches messages until the connection ends.
func (c *conn) serve() error {
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

// authenticate reads the auth message, which must come first and within
// AuthTimeout, and registers the actor.
func (c *conn) authenticate() error {
	start := time.Now()
	deadline := start.Add(c.h.cfg.AuthTimeout)
	c.ws.SetReadDeadline(deadline)
	_, data, err := c.ws.ReadMessage()
	if c.closed.Load() {
		return errStop // closed by Shutdown or a revocation while waiting
	}
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
	switch err := c.h.addActor(c, start); {
	case errors.Is(err, errRevokedDuringAuth):
		c.failAuth(actor.UserID, "session revoked")
		c.revoke()
		return errStop
	case errors.Is(err, errTooManyConnections):
		c.failAuth(actor.UserID, "connection limit")
		c.closeWith(CloseTooManyConnections, "too many connections for this user: close another tab or device")
		return errStop
	}
	// The token is kept for the session re-checks. Go strings cannot be
	// wiped, so clearing the field in finish only drops this reference.
	c.mu.Lock()
	c.token = m.Token
	c.mu.Unlock()
	c.logger().Debug("websocket authenticated", "role", actor.Role)
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
	c.h.logClient(c.logger(), slog.LevelInfo, "websocket authentication failed", "reason", reason)
	c.h.record(context.Background(), audit.Event{
		Type:    audit.TypeSignalingAuth,
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
	case *TURNMessage:
		return c.handleTURN(m)
	case *EndMessage:
		return c.handleEnd(m)
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
	c.h.logClient(c.logger(), slog.LevelWarn, "closing connection after repeated errors",
		"errors", c.errorCount, "last", re.code)
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
