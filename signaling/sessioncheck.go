package signaling

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/bedside-health/bedside/policy"
)

// maxSessionCheckFaults is how many session re-checks in a row may fail
// with a server fault, such as an unavailable database, before the hub
// closes the connection, because it can no longer tell whether the
// session is valid.
const maxSessionCheckFaults = 3

// Results of a session re-check, the label of the session_checks_total
// metric.
const (
	sessionValid = "valid"
	sessionEnded = "ended"
	sessionFault = "fault"
)

// sessionCheckDelay returns a random wait between half of SessionCheck and
// all of it, so that connections opened together spread their checks.
func (h *Hub) sessionCheckDelay() time.Duration {
	half := h.cfg.SessionCheck / 2
	return half + rand.N(h.cfg.SessionCheck-half+1)
}

// checkSession is the session timer's function. It authenticates the
// connection's token again, which also refreshes the session's idle
// timer. A session that ended closes every connection of the session as
// RevokeSession does; repeated server faults close this connection with
// CloseInternalError.
func (c *conn) checkSession() {
	c.mu.Lock()
	if c.finished || c.closed.Load() {
		c.mu.Unlock()
		return
	}
	token := c.token
	c.h.wg.Add(1) // the reader's count is still held, so Shutdown cannot have returned
	c.mu.Unlock()
	defer c.h.wg.Done()

	ctx, cancel := context.WithTimeout(c.h.ctx, c.h.cfg.AuthTimeout)
	actor, err := c.h.cfg.Authenticator.Authenticate(ctx, token)
	cancel()

	switch {
	case err == nil && sameSession(actor, c.actor):
		c.h.metrics.countSessionCheck(sessionValid)
		c.scheduleSessionCheck(false)
	case err == nil || errors.Is(err, ErrSessionInvalid):
		c.h.metrics.countSessionCheck(sessionEnded)
		c.writerLogger().Info("session ended: closing its connections", "user", c.actor.UserID)
		c.h.RevokeSession(c.actor.SessionID)
	default:
		c.h.metrics.countSessionCheck(sessionFault)
		if c.scheduleSessionCheck(true) {
			c.h.logClient(c.writerLogger(), slog.LevelWarn, "session check failed: retrying", "err", err)
			return
		}
		c.writerLogger().Error("session check failed repeatedly: closing the connection",
			"user", c.actor.UserID, "faults", maxSessionCheckFaults, "err", err)
		c.closeWith(CloseInternalError, "session check failed: reconnect")
	}
}

// scheduleSessionCheck arms the next check unless the connection ended.
// A fault counts towards maxSessionCheckFaults, a valid check resets the
// count. It returns false when the faults reached the maximum.
func (c *conn) scheduleSessionCheck(fault bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !fault {
		c.sessionFaults = 0
	} else if c.sessionFaults++; c.sessionFaults >= maxSessionCheckFaults {
		return false
	}
	if !c.finished {
		c.sessionTimer.Reset(c.h.sessionCheckDelay())
	}
	return true
}

// sameSession reports whether a re-check returned the actor that the
// connection authenticated as. A changed role or a staff session without
// its second factor counts as a different session.
func sameSession(got, want policy.Actor) bool {
	return got.UserID == want.UserID && got.SessionID == want.SessionID && got.Role == want.Role &&
		(got.SecondFactor || !got.Role.IsStaff())
}
