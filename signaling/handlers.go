package signaling

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"maps"

	"golang.org/x/time/rate"

	"github.com/bedside-health/bedside/audit"
)

// newID returns a random identifier of 128 bits: participant ids and
// resume tokens.
func newID() string { return rand.Text() }

// ack confirms a request that has no other reply, if it carried an id.
func (c *conn) ack(h Header) {
	if h.ID != "" {
		c.sendJSON(TypeOK, OKMessage{Header: Header{Type: TypeOK, ID: h.ID}, Request: h.Type})
	}
}

func (c *conn) handlePing(m *PingMessage) error {
	c.sendJSON(TypePong, PongMessage{Header: Header{Type: TypePong, ID: m.ID}})
	return nil
}

// handleJoin places the connection in a consultation: a host is admitted
// at once, anyone else waits. A valid resume token of the same user
// continues the participant it was issued to.
func (c *conn) handleJoin(m *JoinMessage) error {
	if c.part.Load() != nil {
		return errAlreadyJoined
	}
	// Every join is audited, so the limit also bounds what one connection
	// writes to the audit log.
	if c.joins == nil {
		c.joins = rate.NewLimiter(c.h.cfg.JoinRate, c.h.cfg.JoinBurst)
	}
	if !c.joins.Allow() {
		return errTooManyJoins
	}
	grant, state, err := c.authorizeJoin(m.Consultation)
	if err != nil {
		return c.joinDenied(m.Consultation, err)
	}
	r := c.h.lockRoom(m.Consultation)
	if r == nil {
		return c.joinDenied(m.Consultation, fmt.Errorf("consultation ended by a host: %w", ErrOutsideWindow))
	}
	r.startLocked(state)

	var p *participant
	if m.Resume != "" {
		p = r.findResumableLocked(m.Resume, c.actor.UserID)
		if p != nil && p.host != grant.Host {
			p = nil // the grant changed: join afresh
		}
	}
	resumed := p != nil
	var kept *signaler
	if resumed {
		kept = c.resumeLocked(p, m.Media == MediaNew)
	} else {
		p = r.addLocked(c, grant)
	}
	media := MediaNew
	if kept != nil {
		media = MediaKept
	}
	c.sendJoinedLocked(r, p, m.ID, resumed, media)
	if resumed {
		// Attached only now, so that nothing from a kept media peer reaches
		// the connection before joined.
		p.conn.Store(c)
	} else {
		r.announceLocked(p)
	}
	if kept != nil && kept.closed.Load() {
		kept.noticeClosed(c)
	}
	changed := r.updateStatusLocked()
	r.mu.Unlock()

	if resumed && media == MediaNew {
		c.h.closeMedia(p)
	}
	if changed {
		r.syncStatus()
	}
	c.logJoin(r, p, resumed, media)
	return nil
}

// authorizeJoin asks the clinic whether the actor may join the
// consultation now, and reads the consultation's status. A consultation
// that is completed or closed meanwhile is outside its window.
func (c *conn) authorizeJoin(id string) (Grant, ConsultationState, error) {
	rooms := c.h.cfg.Rooms
	grant, err := rooms.AuthorizeJoin(c.h.ctx, c.actor, id, c.h.cfg.Now())
	if err != nil {
		return Grant{}, ConsultationState{}, err
	}
	state, err := rooms.Consultation(c.h.ctx, id)
	if err != nil {
		return Grant{}, ConsultationState{}, fmt.Errorf("read consultation status: %w", err)
	}
	switch state.Status {
	case StatusScheduled, StatusWaiting, StatusInProgress:
		return grant, state, nil
	}
	return Grant{}, ConsultationState{}, fmt.Errorf("consultation is %s: %w", state.Status, ErrOutsideWindow)
}

// logJoin logs and audits a join or resume.
func (c *conn) logJoin(r *room, p *participant, resumed bool, media string) {
	state := StateWaiting
	if p.admitted.Load() {
		state = StateAdmitted
	}
	log := c.logger().With("consultation", r.id, "participant", p.id, "state", state, "resumed", resumed)
	if resumed && state == StateAdmitted {
		c.h.metrics.countResume(media)
		log = log.With("media", media)
	}
	log.Info("participant joined")
	c.h.recordRoom(c, audit.TypeConsultationJoin, r.id, p, map[string]string{"state": state, "resumed": boolString(resumed)})
}

// resumeLocked moves p to c and returns the signaler of p's media peer
// when the media session survives, nil otherwise. The caller sends joined
// and then attaches c with p.conn.Store, and closes p's media after
// unlocking the room when it does not survive. An older connection still
// attached to p is closed with CloseSuperseded. The participant keeps its
// device label and role from its first join.
func (c *conn) resumeLocked(p *participant, wantNewMedia bool) *signaler {
	r := p.room
	r.stopGraceLocked(p)
	if old := p.conn.Load(); old != nil {
		old.part.CompareAndSwap(p, nil)
		old.closeWith(CloseSuperseded, "resumed on another connection")
	}
	c.part.Store(p)
	p.presence = PresenceActive
	p.resume = newID()
	p.sessionID = c.actor.SessionID
	r.presenceChangedLocked(p)
	return p.resumeMediaLocked(wantNewMedia)
}

func (c *conn) sendJoinedLocked(r *room, p *participant, id string, resumed bool, media string) {
	msg := JoinedMessage{
		Header:       Header{Type: TypeJoined, ID: id},
		Consultation: r.id,
		Participant:  p.id,
		State:        StateWaiting,
		Host:         p.host,
		Resumed:      resumed,
		Resume:       p.resume,
	}
	if p.admitted.Load() {
		msg.State = StateAdmitted
		msg.Media = media
		msg.Roster = r.rosterLocked()
		msg.TURN = r.turn(p)
		msg.ICEServers = c.h.cfg.ICEServers
	}
	if p.host {
		msg.Waiting = r.waitingLocked()
	}
	c.sendJSON(TypeJoined, msg)
}

// announceLocked notifies the room of a new participant: the admitted
// participants of an admitted one, the hosts of a waiting one.
func (r *room) announceLocked(p *participant) {
	if p.admitted.Load() {
		r.broadcastLocked(TypeParticipantJoined, ParticipantJoinedMessage{
			Header:       Header{Type: TypeParticipantJoined},
			Consultation: r.id,
			Participant:  p.entry(),
		}, p, isAdmitted)
		return
	}
	r.broadcastLocked(TypeWaiting, WaitingMessage{
		Header:       Header{Type: TypeWaiting},
		Consultation: r.id,
		Participant:  p.entry(),
	}, nil, isHost)
	r.sendWaitingListLocked()
}

// joinDenied maps an AuthorizeJoin error to the client's error. Not found
// and not a participant are reported identically.
func (c *conn) joinDenied(consultation string, err error) error {
	reason, outcome, re := "not-found", audit.OutcomeDenied, errNotFound
	switch {
	case errors.Is(err, ErrOutsideWindow):
		reason, re = "outside-window", errOutsideWindow
	case errors.Is(err, ErrNotFound):
	default:
		c.logger().Error("authorize consultation join", "consultation", consultation, "err", err)
		reason, outcome, re = "error", audit.OutcomeFailure, errInternal
	}
	c.h.record(context.Background(), audit.Event{
		Type:     audit.TypeConsultationJoin,
		ActorID:  c.actor.UserID,
		TargetID: consultation,
		Address:  c.addr,
		Outcome:  outcome,
		Detail:   map[string]string{"reason": reason, "connection": c.id},
	})
	return re
}

// handleLeave leaves the consultation at once.
func (c *conn) handleLeave(m *LeaveMessage) error {
	p := c.part.Load()
	if p == nil {
		return errNotJoined
	}
	r := p.room
	r.mu.Lock()
	if p.gone.Load() {
		r.mu.Unlock()
		return errNotJoined
	}
	r.removeLocked(p, LeftReasonLeft)
	changed, empty := r.settleLocked()
	r.mu.Unlock()

	c.h.finishRemoval(r, p, changed, empty)
	c.logger().Info("participant left", "consultation", r.id, "participant", p.id)
	c.h.recordRoom(c, audit.TypeConsultationLeave, r.id, p, map[string]string{"reason": LeftReasonLeft})
	c.ack(m.Header)
	return nil
}

// lockTarget checks that c is a host and returns its room, locked, with
// the participant named by id.
func (c *conn) lockTarget(id string) (*room, *participant, error) {
	host := c.part.Load()
	if host == nil {
		return nil, nil, errNotJoined
	}
	r := host.room
	r.mu.Lock()
	var err error
	switch target := r.participants[id]; {
	case host.gone.Load():
		err = errNotJoined
	case !host.host:
		err = errNotHost
	case target == nil:
		err = errUnknownParticipant
	default:
		return r, target, nil
	}
	r.mu.Unlock()
	return nil, nil, err
}

// handleAdmit lets a participant out of the waiting room.
func (c *conn) handleAdmit(m *AdmitMessage) error {
	r, p, err := c.lockTarget(m.Participant)
	if err != nil {
		return err
	}
	if p.admitted.Load() {
		r.mu.Unlock()
		return errNotWaiting
	}
	p.admitted.Store(true)
	if pc := p.conn.Load(); pc != nil {
		pc.sendJSON(TypeAdmitted, AdmittedMessage{
			Header:       Header{Type: TypeAdmitted},
			Consultation: r.id,
			Roster:       r.rosterLocked(),
			TURN:         r.turn(p),
			ICEServers:   c.h.cfg.ICEServers,
		})
	}
	r.announceLocked(p)
	r.sendWaitingListLocked()
	changed := r.updateStatusLocked()
	r.mu.Unlock()

	if changed {
		r.syncStatus()
	}
	c.logger().Info("participant admitted", "consultation", r.id, "participant", p.id)
	c.h.recordRoom(c, audit.TypeConsultationAdmit, r.id, p, map[string]string{"user": p.userID})
	c.ack(m.Header)
	return nil
}

// handleDeny turns a participant away from the waiting room.
func (c *conn) handleDeny(m *DenyMessage) error {
	r, p, err := c.lockTarget(m.Participant)
	if err != nil {
		return err
	}
	if p.admitted.Load() {
		r.mu.Unlock()
		return errNotWaiting
	}
	if pc := p.conn.Load(); pc != nil {
		pc.sendJSON(TypeDenied, DeniedMessage{Header: Header{Type: TypeDenied}, Consultation: r.id})
	}
	r.removeLocked(p, LeftReasonRemoved)
	changed, empty := r.settleLocked()
	r.mu.Unlock()

	c.h.finishRemoval(r, p, changed, empty)
	c.logger().Info("participant denied", "consultation", r.id, "participant", p.id)
	c.h.recordRoom(c, audit.TypeConsultationDeny, r.id, p, map[string]string{"user": p.userID})
	c.ack(m.Header)
	return nil
}

// handleRemove removes a participant who is not a host, waiting or
// admitted.
func (c *conn) handleRemove(m *RemoveMessage) error {
	r, p, err := c.lockTarget(m.Participant)
	if err != nil {
		return err
	}
	if p.host {
		r.mu.Unlock()
		return errHostTarget
	}
	if pc := p.conn.Load(); pc != nil {
		pc.sendJSON(TypeRemoved, RemovedMessage{Header: Header{Type: TypeRemoved}, Consultation: r.id})
	}
	r.removeLocked(p, LeftReasonRemoved)
	changed, empty := r.settleLocked()
	r.mu.Unlock()

	c.h.finishRemoval(r, p, changed, empty)
	c.logger().Info("participant removed", "consultation", r.id, "participant", p.id)
	c.h.recordRoom(c, audit.TypeConsultationRemove, r.id, p, map[string]string{"user": p.userID})
	c.ack(m.Header)
	return nil
}

// handlePresence sets an admitted participant's presence.
func (c *conn) handlePresence(m *PresenceMessage) error {
	p := c.part.Load()
	if p == nil {
		return errNotJoined
	}
	r := p.room
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case p.gone.Load():
		return errNotJoined
	case !p.admitted.Load():
		return errNotAdmitted
	}
	p.presence = m.Status
	r.presenceChangedLocked(p)
	c.ack(m.Header)
	return nil
}

// handleTURN returns fresh TURN credentials to an admitted participant.
func (c *conn) handleTURN(m *TURNMessage) error {
	p := c.part.Load()
	switch {
	case p == nil || p.gone.Load():
		return errNotJoined
	case !p.admitted.Load():
		return errNotAdmitted
	}
	c.sendJSON(TypeTURN, TURNReplyMessage{
		Header:     Header{Type: TypeTURN, ID: m.ID},
		TURN:       p.room.turn(p),
		ICEServers: c.h.cfg.ICEServers,
	})
	return nil
}

// recordRoom records a room event acted by c on participant p.
func (h *Hub) recordRoom(c *conn, typ, consultation string, p *participant, detail map[string]string) {
	h.record(context.Background(), roomEvent(typ, c.actor.UserID, consultation, c.addr, p, detail))
}

func roomEvent(typ, actorID, consultation, addr string, p *participant, detail map[string]string) audit.Event {
	d := map[string]string{"participant": p.id, "role": string(p.role)}
	if p.device != "" {
		d["device"] = p.device
	}
	maps.Copy(d, detail)
	return audit.Event{
		Type:     typ,
		ActorID:  actorID,
		TargetID: consultation,
		Address:  addr,
		Outcome:  audit.OutcomeSuccess,
		Detail:   d,
	}
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
