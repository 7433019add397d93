package signaling

import (
	"cmp"
	"context"
	"crypto/subtle"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bedside-health/bedside/audit"
	"github.com/bedside-health/bedside/policy"
)

// room is the live state of one consultation. It exists while it has at
// least one participant, connected or within its reconnect grace period.
type room struct {
	id string
	h  *Hub

	// statusMu serializes Rooms.SetStatus calls; recorded is the last status
	// stored.
	statusMu sync.Mutex
	recorded Status

	mu           sync.Mutex
	closed       bool // removed from Hub.rooms; joiners must look up again
	participants map[string]*participant
	seq          uint64    // orders participants by arrival
	status       Status    // latest status, recorded by syncStatus, or empty before the first join
	joinUntil    time.Time // end of the join window, from the latest join
	ended        bool      // a host ended the consultation
}

// participant is one connection's place in a room. It outlives its
// connection for the reconnect grace period. Fields written under room.mu
// that the media code reads without that lock are atomic.
type participant struct {
	id     string
	userID string
	device string
	role   policy.Role
	host   bool
	seq    uint64
	room   *room
	media  mediaSlot

	conn     atomic.Pointer[conn] // nil while disconnected
	admitted atomic.Bool
	gone     atomic.Bool // removed from the room

	// Guarded by room.mu.
	presence  string
	resume    string
	grace     *time.Timer
	sessionID string // of the connection that joined or last resumed
}

func (p *participant) entry() RosterEntry {
	return RosterEntry{
		Participant: p.id,
		User:        p.userID,
		Device:      p.device,
		Role:        p.role,
		Host:        p.host,
		Presence:    p.presence,
	}
}

// lockRoom returns the room of a consultation, created if needed, with its
// lock held. It returns nil when a host ended the consultation within
// endedRetention, because the clinic may not have recorded the end yet.
// Creating a room cancels a pending completion of the consultation.
func (h *Hub) lockRoom(id string) *room {
	for {
		h.mu.Lock()
		r := h.rooms[id]
		if r == nil {
			if _, ended := h.ended[id]; ended {
				h.mu.Unlock()
				return nil
			}
			h.cancelCompletionLocked(id)
			r = &room{id: id, h: h, participants: make(map[string]*participant)}
			h.rooms[id] = r
			h.metrics.rooms.Inc()
		}
		h.mu.Unlock()

		r.mu.Lock()
		if !r.closed {
			return r
		}
		r.mu.Unlock()
	}
}

// closeIfEmptyLocked marks an empty room closed and reports whether the
// caller must call deleteRoom after unlocking.
func (r *room) closeIfEmptyLocked() bool {
	if len(r.participants) > 0 || r.closed {
		return false
	}
	r.closed = true
	return true
}

// deleteRoom removes a closed room from the hub. A consultation that a
// host ended is remembered for endedRetention. One still in progress is
// completed when its join window closes, unless a room opens again first.
func (h *Hub) deleteRoom(r *room) {
	r.mu.Lock()
	ended, status, joinUntil := r.ended, r.status, r.joinUntil
	r.mu.Unlock()

	h.mu.Lock()
	defer h.mu.Unlock()
	if h.rooms[r.id] == r {
		delete(h.rooms, r.id)
		h.metrics.rooms.Dec()
	}
	switch {
	case ended:
		h.rememberEndedLocked(r.id)
	case status == StatusInProgress && !h.closing.Load():
		h.completeLaterLocked(r.id, joinUntil)
	}
}

// addLocked creates a participant for c with a fresh resume token.
func (r *room) addLocked(c *conn, g Grant) *participant {
	r.seq++
	p := &participant{
		id:        newID(),
		userID:    c.actor.UserID,
		device:    c.device,
		role:      g.Role,
		host:      g.Host,
		seq:       r.seq,
		room:      r,
		presence:  PresenceActive,
		resume:    newID(),
		sessionID: c.actor.SessionID,
	}
	p.admitted.Store(g.Host)
	p.conn.Store(c)
	c.part.Store(p)
	r.participants[p.id] = p
	return p
}

// findResumableLocked returns the participant of userID whose resume
// token equals token, or nil. Every token is compared in constant time.
func (r *room) findResumableLocked(token, userID string) *participant {
	var found *participant
	for _, p := range r.participants {
		if subtle.ConstantTimeCompare([]byte(p.resume), []byte(token)) == 1 && p.userID == userID {
			found = p
		}
	}
	return found
}

// removeLocked takes p out of the room and notifies the others. The caller
// must then call finishRemoval.
func (r *room) removeLocked(p *participant, reason string) {
	if p.gone.Load() {
		return
	}
	r.detachLocked(p)
	if p.admitted.Load() {
		r.broadcastLocked(TypeParticipantLeft, ParticipantLeftMessage{
			Header:       Header{Type: TypeParticipantLeft},
			Consultation: r.id,
			Participant:  p.entry(),
			Reason:       reason,
		}, nil, isAdmitted)
	} else {
		r.sendWaitingListLocked()
	}
}

// detachLocked takes p out of the room and off its connection, without
// notifying anyone.
func (r *room) detachLocked(p *participant) {
	p.gone.Store(true)
	delete(r.participants, p.id)
	r.stopGraceLocked(p)
	if c := p.conn.Load(); c != nil {
		c.part.CompareAndSwap(p, nil)
		p.conn.Store(nil)
	}
}

// finishRemoval closes p's media, records the status and deletes an empty
// room. The caller must not hold r.mu.
func (h *Hub) finishRemoval(r *room, p *participant, statusChanged, empty bool) {
	h.closeMedia(p)
	if statusChanged {
		r.syncStatus()
	}
	if empty {
		h.deleteRoom(r)
	}
}

// settleLocked updates the status and closes an empty room. It returns
// whether the status changed and whether the room must be deleted.
func (r *room) settleLocked() (statusChanged, empty bool) {
	statusChanged = r.updateStatusLocked()
	return statusChanged, r.closeIfEmptyLocked()
}

func (r *room) stopGraceLocked(p *participant) {
	if p.grace != nil && p.grace.Stop() {
		r.h.wg.Done() // the timer's function will not run
	}
	p.grace = nil
}

// disconnect handles the end of a connection. A participant keeps its
// place and its media peer for ResumeGrace, unless the session was revoked
// or the hub is shutting down. The SFU keeps forwarding meanwhile, so the
// others see no change while ICE holds.
func (h *Hub) disconnect(c *conn) {
	p := c.part.Swap(nil)
	if p == nil {
		return
	}
	r := p.room
	r.mu.Lock()
	if p.conn.Load() != c || p.gone.Load() {
		r.mu.Unlock()
		return
	}
	if c.revoked.Load() || h.closing.Load() {
		r.removeLocked(p, LeftReasonRevoked)
		changed, empty := r.settleLocked()
		r.mu.Unlock()
		h.finishRemoval(r, p, changed && !h.closing.Load(), empty)
		h.recordRoom(c, audit.TypeConsultationLeave, r.id, p, map[string]string{"reason": LeftReasonRevoked})
		return
	}

	p.conn.Store(nil)
	p.presence = PresenceDisconnected
	r.presenceChangedLocked(p)
	h.wg.Add(1)
	p.grace = time.AfterFunc(h.cfg.ResumeGrace, func() {
		defer h.wg.Done()
		h.expire(p)
	})
	r.mu.Unlock()
	c.logger().Info("participant disconnected: waiting for resume", "consultation", r.id, "participant", p.id)
}

// expire removes a participant whose grace period ended without a resume.
func (h *Hub) expire(p *participant) {
	r := p.room
	r.mu.Lock()
	p.grace = nil
	if p.gone.Load() || p.conn.Load() != nil {
		r.mu.Unlock()
		return
	}
	r.removeLocked(p, LeftReasonTimeout)
	changed, empty := r.settleLocked()
	r.mu.Unlock()
	h.finishRemoval(r, p, changed, empty)
	h.log.Info("participant removed after grace period", "consultation", r.id, "participant", p.id)
	h.record(context.Background(), roomEvent(audit.TypeConsultationLeave, p.userID, r.id, "", p,
		map[string]string{"reason": LeftReasonTimeout}))
}

// dropRevoked removes the participants in their grace period that match,
// those of a revoked session or user: they cannot resume, and their media
// peers, kept for the resume, must stop forwarding at once. Connected
// participants leave through their revoked connections instead.
func (h *Hub) dropRevoked(match func(*participant) bool) {
	h.mu.Lock()
	rooms := make([]*room, 0, len(h.rooms))
	for _, r := range h.rooms {
		rooms = append(rooms, r)
	}
	h.mu.Unlock()

	for _, r := range rooms {
		r.mu.Lock()
		var gone []*participant
		for _, p := range r.participants {
			if p.conn.Load() == nil && match(p) {
				r.removeLocked(p, LeftReasonRevoked)
				gone = append(gone, p)
			}
		}
		changed, empty := r.settleLocked()
		r.mu.Unlock()
		for _, p := range gone {
			h.closeMedia(p)
			h.log.Info("participant in grace period removed: session revoked", "consultation", r.id, "participant", p.id)
			h.record(context.Background(), roomEvent(audit.TypeConsultationLeave, p.userID, r.id, "", p,
				map[string]string{"reason": LeftReasonRevoked}))
		}
		if changed && !h.closing.Load() {
			r.syncStatus()
		}
		if empty {
			h.deleteRoom(r)
		}
	}
}

// expireAll ends the grace periods of a room's disconnected participants;
// Shutdown calls it.
func (h *Hub) expireAll(r *room) {
	r.mu.Lock()
	var gone []*participant
	for _, p := range r.participants {
		if p.conn.Load() == nil {
			r.removeLocked(p, LeftReasonTimeout)
			gone = append(gone, p)
		}
	}
	_, empty := r.settleLocked()
	r.mu.Unlock()
	for _, p := range gone {
		h.closeMedia(p)
	}
	if empty {
		h.deleteRoom(r)
	}
}

// presenceChangedLocked notifies the others of p's presence: admitted
// participants through a presence message, hosts through the waiting list.
func (r *room) presenceChangedLocked(p *participant) {
	if !p.admitted.Load() {
		r.sendWaitingListLocked()
		return
	}
	r.broadcastLocked(TypePresence, PresenceUpdate{
		Header:       Header{Type: TypePresence},
		Consultation: r.id,
		Participant:  p.id,
		Status:       p.presence,
	}, p, isAdmitted)
}

func isAdmitted(p *participant) bool { return p.admitted.Load() }
func isHost(p *participant) bool     { return p.host && p.admitted.Load() }

// broadcastLocked encodes v once and queues it to every connected
// participant that match accepts, except skip.
func (r *room) broadcastLocked(typ string, v any, skip *participant, match func(*participant) bool) {
	var m *outbound
	for _, p := range r.participants {
		c := p.conn.Load()
		if p == skip || c == nil || !match(p) {
			continue
		}
		if m == nil {
			m = &outbound{typ: typ, data: encode(r.h.log, v)}
		}
		c.send(m)
	}
}

// rosterLocked lists the admitted participants in arrival order.
func (r *room) rosterLocked() []RosterEntry {
	return r.listLocked(isAdmitted)
}

// waitingLocked lists the waiting room in arrival order.
func (r *room) waitingLocked() []RosterEntry {
	return r.listLocked(func(p *participant) bool { return !p.admitted.Load() })
}

func (r *room) listLocked(match func(*participant) bool) []RosterEntry {
	ps := make([]*participant, 0, len(r.participants))
	for _, p := range r.participants {
		if match(p) {
			ps = append(ps, p)
		}
	}
	slices.SortFunc(ps, func(a, b *participant) int { return cmp.Compare(a.seq, b.seq) })
	entries := make([]RosterEntry, len(ps))
	for i, p := range ps {
		entries[i] = p.entry()
	}
	return entries
}

func (r *room) sendWaitingListLocked() {
	r.broadcastLocked(TypeWaitingList, WaitingListMessage{
		Header:       Header{Type: TypeWaitingList},
		Consultation: r.id,
		Waiting:      r.waitingLocked(),
	}, nil, isHost)
}

// turn returns the TURN part of joined and admitted messages. Callers hold
// r.mu, so Media.TURNCredentials must not call back into the hub.
func (r *room) turn(p *participant) *TURNMessagePart {
	t, ok := r.h.cfg.Media.TURNCredentials(p.id)
	if !ok {
		return nil
	}
	return &TURNMessagePart{
		URLs:       t.URLs,
		Username:   t.Username,
		Credential: t.Credential,
		TTL:        int64(t.TTL / time.Second),
	}
}
