package audit

import (
	"container/list"
	"time"
)

// windowSlots is the number of buckets a sliding window is divided into. A
// window sums the buckets that overlap the last width of time, so an
// event counts for between width*(59/60) and width after it happened.
const windowSlots = 60

type slot struct {
	epoch int64 // t.UnixNano() / slot width of the bucket's events
	sum   int64
}

// windowState is the sliding-window sum and alert cooldown of one key (an
// account or an address).
type windowState struct {
	key       string
	slots     [windowSlots]slot
	lastAlert time.Time
}

// windows keeps a windowState per key, at most max of them: the least
// recently used key is evicted when a new one arrives. It is not safe for
// concurrent use; the writer goroutine owns it.
type windows struct {
	slotWidth int64 // nanoseconds
	max       int
	items     map[string]*list.Element
	lru       *list.List // front is the most recently used
}

func newWindows(width time.Duration, limit int) *windows {
	return &windows{
		slotWidth: max(int64(width)/windowSlots, 1),
		max:       limit,
		items:     make(map[string]*list.Element),
		lru:       list.New(),
	}
}

// get returns the state of key, creating it when missing, and marks it as
// the most recently used.
func (w *windows) get(key string) *windowState {
	if el, ok := w.items[key]; ok {
		w.lru.MoveToFront(el)
		return el.Value.(*windowState)
	}
	if w.lru.Len() >= w.max {
		oldest := w.lru.Back()
		w.lru.Remove(oldest)
		delete(w.items, oldest.Value.(*windowState).key)
	}
	s := &windowState{key: key}
	w.items[key] = w.lru.PushFront(s)
	return s
}

// peek returns the state of key without creating it, or nil.
func (w *windows) peek(key string) *windowState {
	if el, ok := w.items[key]; ok {
		return el.Value.(*windowState)
	}
	return nil
}

func (w *windows) len() int { return w.lru.Len() }

// add counts n at time t and returns the window's sum at t. An event older
// than what its bucket already holds, more than a window late, is ignored.
func (w *windows) add(s *windowState, t time.Time, n int64) int64 {
	e := t.UnixNano() / w.slotWidth
	sl := &s.slots[uint64(e)%windowSlots]
	switch {
	case sl.epoch == e:
		sl.sum += n
	case sl.epoch < e:
		*sl = slot{epoch: e, sum: n}
	}
	return w.sum(s, t)
}

// sum returns the total counted within the window ending at t.
func (w *windows) sum(s *windowState, t time.Time) int64 {
	e := t.UnixNano() / w.slotWidth
	var total int64
	for _, sl := range s.slots {
		if sl.epoch > e-windowSlots && sl.epoch <= e {
			total += sl.sum
		}
	}
	return total
}

// reset clears the counted events of s, keeping its cooldown.
func (s *windowState) reset() { s.slots = [windowSlots]slot{} }

// cooled reports whether an alert for s may be raised at t: none was
// raised within cooldown before t.
func (s *windowState) cooled(t time.Time, cooldown time.Duration) bool {
	return s.lastAlert.IsZero() || t.Sub(s.lastAlert) >= cooldown
}
