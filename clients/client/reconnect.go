package client

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gorilla/websocket"
)

// Close codes after which the call does not reconnect (docs/signaling.md):
// the session was revoked or rejected, the client broke the protocol, or
// the participant resumed on another connection.
var finalCloseCodes = map[int]bool{
	websocket.ClosePolicyViolation: true, // 1008, session revoked
	4001:                           true, // authentication failed
	4002:                           true, // authentication timed out
	4009:                           true, // too many invalid messages
	4010:                           true, // resumed on another connection
	4029:                           true, // message rate limit exceeded
}

// join sends join, with the resume token after a reconnect, and acts on
// joined: it restarts ICE on the kept media session, starts a new one, or
// waits for admission.
func (cl *callLoop) join(ctx context.Context) error {
	msg := map[string]string{"type": "join", "id": cl.s.NewID(), "consultation": cl.opts.ConsultationID}
	if cl.resume != "" {
		msg["resume"] = cl.resume
		if cl.media == nil {
			msg["media"] = "new" // nothing to keep
		}
	}
	if err := cl.s.Send(msg); err != nil {
		return err
	}

	m, err := cl.s.Expect(ctx, "joined")
	if err != nil {
		return fmt.Errorf("join consultation %s: %w", cl.opts.ConsultationID, err)
	}
	var j joinedMessage
	if err := m.Decode(&j); err != nil {
		return fmt.Errorf("joined: %w", err)
	}
	previous := cl.participant
	cl.participant, cl.host, cl.resume = j.Participant, j.Host, j.Resume
	admitted := j.State == "admitted"

	switch {
	case j.Resumed && admitted && j.Media == "kept" && cl.media != nil:
		cl.reconnects++
		cl.event("resumed participant %s: restarting ICE on the kept media session", j.Participant)
		cl.rejected = 0
		if err := cl.media.offer(cl.s.NewID(), true); err != nil {
			return fmt.Errorf("call: ICE restart: %w", err)
		}
	case j.Resumed:
		cl.reconnects++
		cl.event("resumed participant %s in state %s with a new media session", j.Participant, j.State)
		if err := cl.restartMedia(admitted, j); err != nil {
			return err
		}
	default:
		if previous != "" {
			cl.event("participant %s was not resumed: joined again as %s", previous, j.Participant)
		}
		cl.event("joined consultation %s as participant %s (host %t)", cl.opts.ConsultationID, j.Participant, j.Host)
		if err := cl.restartMedia(admitted, j); err != nil {
			return err
		}
		if !admitted {
			cl.event("waiting for a host to admit participant %s", j.Participant)
		}
	}
	return cl.admitWaiting(j.Waiting)
}

// restartMedia closes the media session, if any, and starts a new one
// when the participant is admitted.
func (cl *callLoop) restartMedia(admitted bool, j joinedMessage) error {
	cl.stopMedia()
	if !admitted {
		return nil
	}
	return cl.startMedia(iceServers(j.TURN, j.ICEServers))
}

// reconnect dials the signaling server again after the connection
// dropped and resumes the participant, retrying with backoff for
// ResumeWithin.
func (cl *callLoop) reconnect(ctx context.Context) error {
	cause := cl.s.Err()
	var ce *websocket.CloseError
	if errors.As(cl.s.readErr, &ce) && finalCloseCodes[ce.Code] {
		return fmt.Errorf("call: %w", cause)
	}
	cl.s.Close()
	cl.event("signaling connection lost (%v): reconnecting", cause)

	deadline := time.Now().Add(cl.opts.ResumeWithin)
	delay := 100 * time.Millisecond
	for {
		s, err := cl.c.DialSignaling(ctx, cl.opts.Label)
		if err == nil {
			cl.s = s
			if cl.media != nil {
				cl.media.setSignal(s)
			}
			return cl.join(ctx)
		}
		if errors.Is(err, ErrAuthRequired) || time.Now().Add(delay).After(deadline) {
			return fmt.Errorf("call: reconnect after %v: %w", cause, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("call: reconnect after %v: %w", cause, ctx.Err())
		case <-time.After(delay):
		}
		delay = min(2*delay, 2*time.Second)
	}
}
