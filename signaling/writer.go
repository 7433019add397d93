package signaling

import (
	"io"
	"log/slog"
	"time"

	"github.com/gorilla/websocket"
)

// maxDrainBytes bounds what a closing connection reads and discards while
// it waits for the client's close reply.
const maxDrainBytes = 1 << 20

// outbound is an encoded server message. One outbound is shared by every
// recipient of a broadcast and must not be modified once queued.
type outbound struct {
	typ  string
	data []byte
}

// pingOutbound in the queue makes the writer send a WebSocket ping.
var pingOutbound = &outbound{}

// closeRequest is a close frame to send, optionally after one last message.
// With flush set, the writer first sends what is already queued.
type closeRequest struct {
	code    int
	reason  string
	message []byte
	flush   bool
}

func newOutbound(c *conn, typ string, v any) *outbound {
	b := encode(c.h.log, v)
	if b == nil {
		return nil
	}
	return &outbound{typ: typ, data: b}
}

// send queues m without blocking and makes sure a writer runs. A full
// queue closes the connection as a slow consumer.
func (c *conn) send(m *outbound) {
	if m == nil || c.closed.Load() {
		c.h.metrics.dropped.Inc()
		return
	}
	select {
	case c.out <- m:
		c.h.metrics.countSent(m.typ)
	default:
		c.h.metrics.dropped.Inc()
		c.h.metrics.slowConsumers.Inc()
		c.h.logClient(c.writerLogger(), slog.LevelWarn, "closing slow consumer: outbound queue full",
			"queue", cap(c.out))
		c.requestClose(closeRequest{code: CloseSlowConsumer, reason: "slow consumer: outbound queue full"})
		return
	}
	c.startWriter()
}

// sendJSON encodes v and queues it.
func (c *conn) sendJSON(typ string, v any) { c.send(newOutbound(c, typ, v)) }

// startWriter starts a writer goroutine unless one runs or the reader has
// ended.
func (c *conn) startWriter() {
	c.mu.Lock()
	start := !c.writing && !c.finished
	if start {
		c.writing = true
		c.h.wg.Add(1) // the reader's count is still held, so Shutdown cannot have returned
	}
	c.mu.Unlock()
	if start {
		go c.writeLoop()
	}
}

// closeWith requests a close: the writer sends the messages already queued,
// then a close frame. Only the first close request has an effect.
func (c *conn) closeWith(code int, reason string) {
	c.requestClose(closeRequest{code: code, reason: reason, flush: true})
}

// requestClose records req for the writer and reports whether it did.
// Only the first call has an effect; messages sent after it are dropped. A
// request made after the reader ended is not sent, because the connection
// is being torn down.
func (c *conn) requestClose(req closeRequest) bool {
	first := false
	c.closeOnce.Do(func() {
		first = true
		c.closed.Store(true)
		c.mu.Lock()
		c.closeReq = &req
		c.mu.Unlock()
		c.startWriter()
	})
	return first
}

// revoke sends session-revoked and closes the connection, dropping what is
// queued: a revoked session receives nothing more.
func (c *conn) revoke() {
	c.revoked.Store(true)
	b := encode(c.h.log, SessionRevokedMessage{Header: Header{Type: TypeSessionRevoked}})
	if c.requestClose(closeRequest{code: ClosePolicyViolation, reason: "session revoked", message: b}) {
		c.h.metrics.countSent(TypeSessionRevoked)
	}
}

// queuePing is the ping timer's function: it queues a ping unless the
// queue is full, which means the writer is busy anyway.
func (c *conn) queuePing() {
	select {
	case c.out <- pingOutbound:
		c.startWriter()
	default:
	}
	c.mu.Lock()
	if !c.finished {
		c.pingTimer.Reset(c.h.cfg.PingInterval)
	}
	c.mu.Unlock()
}

// writeLoop writes until the queue is empty, then exits. A close request
// is written first; nothing is written after it or after a failed write.
func (c *conn) writeLoop() {
	defer c.h.wg.Done()
	for {
		m, req, ok := c.nextWrite()
		switch {
		case !ok:
			return
		case req != nil:
			c.writeClose(req)
		default:
			if err := c.writeOutbound(m); err != nil {
				c.writeFailed(err)
			}
		}
	}
}

// nextWrite returns the close request or message to write next. It returns
// false, after marking the writer stopped, when there is nothing to write.
func (c *conn) nextWrite() (*outbound, *closeRequest, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if req := c.closeReq; req != nil && !c.closeSent && !c.failed {
		c.closeReq, c.closeSent = nil, true
		return nil, req, true
	}
	if !c.closeSent && !c.failed && !c.finished {
		select {
		case m := <-c.out:
			return m, nil, true
		default:
		}
	}
	c.writing = false
	if c.writerExit != nil {
		close(c.writerExit)
		c.writerExit = nil
	}
	return nil, nil, false
}

func (c *conn) writeOutbound(m *outbound) error {
	deadline := time.Now().Add(c.h.cfg.WriteTimeout)
	if m == pingOutbound {
		return c.ws.WriteControl(websocket.PingMessage, nil, deadline)
	}
	if err := c.ws.SetWriteDeadline(deadline); err != nil {
		return err
	}
	return c.ws.WriteMessage(websocket.TextMessage, m.data)
}

// writeFailed stops all writing and closes the socket, which wakes the
// reader. A write that timed out means the client does not read: it counts
// as a slow consumer unless a close was already requested.
func (c *conn) writeFailed(err error) {
	if isTimeout(err) && !c.closed.Load() {
		c.h.metrics.slowConsumers.Inc()
		c.h.logClient(c.writerLogger(), slog.LevelWarn, "closing slow consumer: write timed out",
			"timeout", c.h.cfg.WriteTimeout)
	} else {
		c.writerLogger().Debug("websocket write failed", "err", err)
	}
	c.mu.Lock()
	c.failed = true
	c.mu.Unlock()
	c.ws.NetConn().Close()
}

// writeClose sends the close request, then limits the reader to
// CloseTimeout for the client's close reply.
func (c *conn) writeClose(req *closeRequest) {
	for flushing := req.flush; flushing; {
		select {
		case m := <-c.out:
			if err := c.writeOutbound(m); err != nil {
				c.writeFailed(err)
				return
			}
		default:
			flushing = false
		}
	}
	if req.message != nil {
		if err := c.writeOutbound(&outbound{data: req.message}); err != nil {
			c.writeFailed(err)
			return
		}
	}
	msg := websocket.FormatCloseMessage(req.code, req.reason)
	if err := c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(c.h.cfg.WriteTimeout)); err != nil {
		c.writeFailed(err)
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

// drain reads and discards what the client still sends, up to
// maxDrainBytes or CloseTimeout, so that closing the socket does not reset
// the connection before the client has read the close frame.
func (c *conn) drain() {
	netConn := c.ws.NetConn()
	netConn.SetReadDeadline(time.Now().Add(c.h.cfg.CloseTimeout))
	io.Copy(io.Discard, io.LimitReader(netConn, maxDrainBytes))
}
