package auth

import (
	"container/list"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// throttle tracks failed sign-in attempts per email address and per
// client address, and the request rate per client address, in two tables
// of bounded size. Unknown email addresses are tracked exactly like known
// ones, so throttling reveals nothing about which accounts exist.
//
// Failures older than LockoutDuration are forgotten. When a table is full,
// the least recently used entry is dropped. The account lock itself is
// also stored in the database, so evicting an email entry does not unlock
// an account.
type throttle struct {
	cfg Config
	now func() time.Time

	mu     sync.Mutex
	emails *lru[*failures]
	addrs  *lru[*addressState]
}

type failures struct {
	count    int
	last     time.Time
	inflight int // admitted attempts not yet settled; only email entries use it
}

type addressState struct {
	failures
	limiter *rate.Limiter
}

func newThrottle(cfg Config, now func() time.Time) *throttle {
	return &throttle{
		cfg:    cfg,
		now:    now,
		emails: newLRU[*failures](cfg.ThrottleEntries),
		addrs:  newLRU[*addressState](cfg.ThrottleEntries),
	}
}

// wait returns how long after the last failure the next attempt must
// wait, for count consecutive failures.
func (t *throttle) wait(count, backoffAfter int, lockout bool) time.Duration {
	switch {
	case lockout && count >= t.cfg.LockoutAfter:
		return t.cfg.LockoutDuration
	case count < backoffAfter:
		return 0
	}
	shift := count - backoffAfter
	if shift > 30 {
		return t.cfg.MaxBackoff
	}
	return min(t.cfg.BackoffBase<<shift, t.cfg.MaxBackoff)
}

// current returns f with stale failures forgotten.
func (t *throttle) current(f *failures, now time.Time) *failures {
	if f.count > 0 && now.Sub(f.last) >= t.cfg.LockoutDuration {
		f.count = 0
		f.last = time.Time{}
	}
	return f
}

// allowAddress admits one request from addr, or returns a
// *ThrottledError when the address exceeds its rate or is backing off
// after failures.
func (t *throttle) allowAddress(addr string) error {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	st := t.addressLocked(addr)
	f := t.current(&st.failures, now)
	if until := f.last.Add(t.wait(f.count, t.cfg.AddressBackoffAfter, false)); now.Before(until) {
		return &ThrottledError{RetryAfter: until.Sub(now)}
	}
	r := st.limiter.ReserveN(now, 1)
	if delay := r.DelayFrom(now); delay > 0 {
		r.CancelAt(now)
		return &ThrottledError{RetryAfter: delay}
	}
	return nil
}

// attempt is one admitted sign-in attempt for an email address. Exactly
// one of fail and succeed settles it; end releases it when neither ran,
// so callers defer end right after begin.
type attempt struct {
	t       *throttle
	email   string
	entry   *failures
	settled bool
}

// begin admits an attempt for email, or returns a *ThrottledError while
// attempts for email must wait. Attempts still in flight count as
// failures for the back-off, so parallel requests cannot slip past it.
func (t *throttle) begin(email string) (*attempt, error) {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	f, ok := t.emails.get(email)
	if !ok {
		f = &failures{}
		t.emails.put(email, f)
	}
	t.current(f, now)
	locked := f.count >= t.cfg.LockoutAfter
	until := f.last.Add(t.wait(f.count, t.cfg.BackoffAfter, true))
	if now.Before(until) {
		return nil, &ThrottledError{RetryAfter: until.Sub(now), Locked: locked}
	}
	if pending := f.count + f.inflight; f.inflight > 0 && pending >= t.cfg.BackoffAfter {
		return nil, &ThrottledError{RetryAfter: t.wait(pending, t.cfg.BackoffAfter, true)}
	}
	f.inflight++
	return &attempt{t: t, email: email, entry: f}, nil
}

// fail settles the attempt as failed, also counting a failure for the
// client address, and returns the consecutive failures for the email.
func (a *attempt) fail(addr string) int {
	now := a.t.now()
	a.t.mu.Lock()
	defer a.t.mu.Unlock()
	a.t.failAddressLocked(addr, now)
	if a.settled {
		return a.entry.count
	}
	a.settled = true
	a.entry.inflight--
	a.t.current(a.entry, now)
	a.entry.count++
	a.entry.last = now
	return a.entry.count
}

// succeed settles the attempt and clears the failures for its email.
func (a *attempt) succeed() {
	a.t.mu.Lock()
	defer a.t.mu.Unlock()
	if !a.settled {
		a.settled = true
		a.entry.inflight--
	}
	a.t.emails.remove(a.email)
}

// end releases an attempt that neither failed nor succeeded, such as one
// that stopped at a disabled account or a server error.
func (a *attempt) end() {
	a.t.mu.Lock()
	defer a.t.mu.Unlock()
	if !a.settled {
		a.settled = true
		a.entry.inflight--
	}
}

// failAddress counts a failure for a client address alone, for requests
// that name no account, such as a malformed email or an unknown token.
func (t *throttle) failAddress(addr string) {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.failAddressLocked(addr, now)
}

func (t *throttle) failAddressLocked(addr string, now time.Time) {
	st := t.addressLocked(addr)
	t.current(&st.failures, now)
	st.count++
	st.last = now
}

// reset clears the failures for email, after an administrator's unlock
// or a password reset.
func (t *throttle) reset(email string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.emails.remove(email)
}

func (t *throttle) addressLocked(addr string) *addressState {
	st, ok := t.addrs.get(addr)
	if !ok {
		st = &addressState{limiter: rate.NewLimiter(rate.Limit(t.cfg.AddressRate), t.cfg.AddressBurst)}
		t.addrs.put(addr, st)
	}
	return st
}

// lru is a map of bounded size that drops the least recently used entry
// when full. It is not safe for concurrent use.
type lru[V any] struct {
	max   int
	order *list.List // front is most recently used; values are *lruEntry[V]
	index map[string]*list.Element
}

type lruEntry[V any] struct {
	key   string
	value V
}

func newLRU[V any](max int) *lru[V] {
	return &lru[V]{max: max, order: list.New(), index: make(map[string]*list.Element)}
}

func (l *lru[V]) get(key string) (V, bool) {
	el, ok := l.index[key]
	if !ok {
		var zero V
		return zero, false
	}
	l.order.MoveToFront(el)
	return el.Value.(*lruEntry[V]).value, true
}

func (l *lru[V]) put(key string, v V) {
	if el, ok := l.index[key]; ok {
		el.Value.(*lruEntry[V]).value = v
		l.order.MoveToFront(el)
		return
	}
	l.index[key] = l.order.PushFront(&lruEntry[V]{key: key, value: v})
	if l.order.Len() > l.max {
		oldest := l.order.Back()
		l.order.Remove(oldest)
		delete(l.index, oldest.Value.(*lruEntry[V]).key)
	}
}

func (l *lru[V]) remove(key string) {
	if el, ok := l.index[key]; ok {
		l.order.Remove(el)
		delete(l.index, key)
	}
}

func (l *lru[V]) len() int { return l.order.Len() }
