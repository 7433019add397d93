package sfu

import "sync"

// room holds the participants of one consultation and the tracks they
// publish.
type room struct {
	s  *SFU
	id string

	mu sync.Mutex
	// peers maps participant IDs to peers. A nil value is a seat reserved by
	// a Join in progress.
	peers      map[string]*Peer
	forwarders map[*forwarder]struct{}
}

func newRoom(s *SFU, id string) *room {
	return &room{
		s:          s,
		id:         id,
		peers:      make(map[string]*Peer),
		forwarders: make(map[*forwarder]struct{}),
	}
}

// reserve takes a seat for participantID and returns the peer it replaces.
func (r *room) reserve(participantID string, maxPeers int) (*Peer, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	old, present := r.peers[participantID]
	if !present && len(r.peers) >= maxPeers {
		return nil, ErrRoomFull
	}
	r.peers[participantID] = nil
	return old, nil
}

// attach fills the seat reserved for p.
func (r *room) attach(p *Peer) {
	r.mu.Lock()
	r.peers[p.id] = p
	r.mu.Unlock()
}

// release frees participantID's seat if it is still held by p (nil for a
// reservation), then releases the room if it is empty.
func (r *room) release(participantID string, p *Peer) {
	r.mu.Lock()
	cur, present := r.peers[participantID]
	if present && cur == p {
		delete(r.peers, participantID)
	}
	r.mu.Unlock()
	r.s.releaseRoom(r)
}

func (r *room) empty() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.peers) == 0
}

func (r *room) peerList() []*Peer {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*Peer, 0, len(r.peers))
	for _, p := range r.peers {
		if p != nil {
			out = append(out, p)
		}
	}
	return out
}

// trackCount returns the number of tracks published by participants other
// than except.
func (r *room) trackCount(except *Peer) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for f := range r.forwarders {
		if f.pub != except {
			n++
		}
	}
	return n
}

// addForwarder registers f and returns the peers that must subscribe to it.
// It rejects a forwarder already stopped (its publisher left meanwhile), which
// stop could no longer remove.
func (r *room) addForwarder(f *forwarder, maxTracks int) ([]*Peer, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if f.stopped() {
		return nil, ErrClosed
	}
	if len(r.forwarders) >= maxTracks {
		return nil, ErrTooManyTracks
	}
	r.forwarders[f] = struct{}{}
	r.s.m.tracks.Add(1)
	var subs []*Peer
	for _, p := range r.peers {
		if p != nil && p != f.pub && p.subscribable {
			subs = append(subs, p)
		}
	}
	return subs, nil
}

func (r *room) removeForwarder(f *forwarder) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.forwarders[f]; ok {
		delete(r.forwarders, f)
		r.s.m.tracks.Add(-1)
	}
}

// markSubscribable lets p receive tracks from now on and returns the tracks
// of the other participants that p must subscribe to. A forwarder added
// concurrently is returned here, to addForwarder's caller, or to both;
// Peer.subscribe ignores the duplicate.
func (r *room) markSubscribable(p *Peer) []*forwarder {
	r.mu.Lock()
	defer r.mu.Unlock()
	p.subscribable = true
	var out []*forwarder
	for f := range r.forwarders {
		if f.pub != p {
			out = append(out, f)
		}
	}
	return out
}
