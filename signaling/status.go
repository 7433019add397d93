package signaling

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/bedside-health/bedside/audit"
)

// endedRetention is how long the hub rejects joins to a consultation that
// a host ended. It covers joins already past Rooms.AuthorizeJoin when the
// end was recorded; later joins are rejected by the clinic, for which the
// consultation is completed.
const endedRetention = 10 * time.Minute

// pendingCompletion is the timer that completes a consultation whose room
// emptied while it was in progress, once its join window closes.
type pendingCompletion struct {
	timer *time.Timer
}

// canTransition reports whether StatusTransitions lists from-to.
func canTransition(from, to Status) bool {
	return slices.Contains(StatusTransitions(), [2]Status{from, to})
}

// startLocked sets the status of a room's first join from the clinic's
// record, and the end of the join window at every join.
func (r *room) startLocked(state ConsultationState) {
	if r.status == "" {
		r.status = state.Status
	}
	r.joinUntil = state.JoinUntil
}

// nextStatusLocked returns the status that the room's participants call
// for, following StatusTransitions from the current one.
func (r *room) nextStatusLocked(now time.Time) Status {
	var host, guest, waiting bool
	for _, p := range r.participants {
		switch {
		case !p.admitted.Load():
			waiting = true
		case p.host:
			host = true
		default:
			guest = true
		}
	}
	switch r.status {
	case StatusScheduled, StatusWaiting:
		switch {
		case host && guest:
			return StatusInProgress
		case waiting:
			return StatusWaiting
		default:
			return StatusScheduled
		}
	case StatusInProgress:
		// An empty room keeps the consultation in progress, so that the
		// participants can rejoin, until the join window closes.
		if r.ended || len(r.participants) == 0 && !now.Before(r.joinUntil) {
			return StatusCompleted
		}
	}
	return r.status
}

// updateStatusLocked recomputes the consultation status and reports
// whether it changed.
func (r *room) updateStatusLocked() bool {
	next := r.nextStatusLocked(r.h.cfg.Now())
	if next == r.status || !canTransition(r.status, next) {
		return false
	}
	r.status = next
	return true
}

// syncStatus records the room's latest status through Rooms.SetStatus.
// Calls are serialized per room, so the last recorded status is the latest.
func (r *room) syncStatus() {
	r.statusMu.Lock()
	defer r.statusMu.Unlock()
	r.mu.Lock()
	s := r.status
	r.mu.Unlock()
	if s == r.recorded || s == "" {
		return
	}
	if err := r.h.cfg.Rooms.SetStatus(r.h.ctx, r.id, s); err != nil {
		r.h.log.Error("record consultation status", "consultation", r.id, "status", s, "err", err)
		return
	}
	r.recorded = s
}

// completeLaterLocked arranges for the consultation to be completed at
// joinUntil, unless a room opens for it before. The caller holds h.mu and
// has checked that the hub is not shutting down.
//
// The timer lives in memory; consultations that a stop or crash leaves in
// progress are completed by clinic.Service.CompleteAbandoned when the
// server starts again.
func (h *Hub) completeLaterLocked(id string, joinUntil time.Time) {
	h.cancelCompletionLocked(id)
	pc := &pendingCompletion{}
	// The caller saw closing unset under h.mu, so Shutdown has not yet
	// cancelled the pending completions and will wait for this one.
	h.wg.Add(1)
	pc.timer = time.AfterFunc(max(joinUntil.Sub(h.cfg.Now()), 0), func() {
		defer h.wg.Done()
		h.completeEmpty(id, pc)
	})
	h.completions[id] = pc
}

// cancelCompletionLocked stops a pending completion of the consultation.
func (h *Hub) cancelCompletionLocked(id string) {
	pc := h.completions[id]
	if pc == nil {
		return
	}
	if pc.timer.Stop() {
		h.wg.Done() // the timer's function will not run
	}
	delete(h.completions, id)
}

// completeEmpty completes a consultation whose room stayed empty until its
// join window closed.
func (h *Hub) completeEmpty(id string, pc *pendingCompletion) {
	h.mu.Lock()
	if h.completions[id] != pc || h.closing.Load() {
		h.mu.Unlock()
		return
	}
	delete(h.completions, id)
	h.mu.Unlock()

	if err := h.cfg.Rooms.SetStatus(h.ctx, id, StatusCompleted); err != nil {
		h.log.Error("record consultation status", "consultation", id, "status", StatusCompleted, "err", err)
		return
	}
	h.log.Info("consultation completed: its room was empty when the join window closed", "consultation", id)
}

// rememberEndedLocked records that a host ended the consultation and
// drops the records older than endedRetention.
func (h *Hub) rememberEndedLocked(id string) {
	now := time.Now()
	for k, t := range h.ended {
		if now.Sub(t) > endedRetention {
			delete(h.ended, k)
		}
	}
	h.ended[id] = now
}

// handleEnd ends a consultation in progress: every participant, waiting,
// admitted or within its grace period, gets ended and leaves the room, and
// the consultation is recorded as completed.
func (c *conn) handleEnd(m *EndMessage) error {
	host := c.part.Load()
	if host == nil {
		return errNotJoined
	}
	r := host.room
	r.mu.Lock()
	switch {
	case host.gone.Load():
		r.mu.Unlock()
		return errNotJoined
	case !host.host:
		r.mu.Unlock()
		return errNotHost
	case r.status != StatusInProgress:
		r.mu.Unlock()
		return errNotStarted
	}
	r.ended = true
	gone := r.endLocked()
	r.updateStatusLocked()
	r.closeIfEmptyLocked()
	r.mu.Unlock()

	for _, p := range gone {
		c.h.closeMedia(p)
	}
	r.syncStatus()
	c.h.deleteRoom(r)
	c.logger().Info("consultation ended by a host", "consultation", r.id, "participants", len(gone))
	c.h.recordRoom(c, audit.TypeConsultationEnd, r.id, host, map[string]string{"participants": fmt.Sprint(len(gone))})
	for _, p := range gone {
		c.h.record(context.Background(), roomEvent(audit.TypeConsultationLeave, p.userID, r.id, "", p,
			map[string]string{"reason": LeftReasonEnded}))
	}
	c.ack(m.Header)
	return nil
}

// endLocked takes every participant out of the room and sends ended to
// those connected. It returns the participants removed.
func (r *room) endLocked() []*participant {
	msg := &outbound{typ: TypeEnded, data: encode(r.h.log, EndedMessage{
		Header:       Header{Type: TypeEnded},
		Consultation: r.id,
	})}
	gone := make([]*participant, 0, len(r.participants))
	for _, p := range r.participants {
		if pc := p.conn.Load(); pc != nil {
			pc.send(msg)
		}
		gone = append(gone, p)
	}
	for _, p := range gone {
		r.detachLocked(p)
	}
	return gone
}
