package keyframe

import "time"

// DefaultInterval is the minimum time between two keyframe requests for one
// track. Browsers answer a PLI within a round trip plus one frame, so 500 ms
// keeps a late subscriber's wait short while capping requests at two a second.
const DefaultInterval = 500 * time.Millisecond

// Decision is the outcome of Limiter.Request.
type Decision struct {
	// Send is true when the caller must send a keyframe request now.
	Send bool
	// RetryAfter is non-zero when the request was folded into a trailing one:
	// the caller must call Limiter.Flush after this delay. It is set only for
	// the first request of a folded batch, so the caller arms one timer.
	RetryAfter time.Duration
}

// Limiter decides when keyframe requests for one track go out. The zero value
// uses DefaultInterval. A Limiter is not safe for concurrent use: the caller
// holds its own lock around Request and Flush.
type Limiter struct {
	// Interval is the minimum time between two requests that are sent.
	Interval time.Duration

	last    time.Time
	sent    bool
	pending bool
}

func (l *Limiter) interval() time.Duration {
	if l.Interval <= 0 {
		return DefaultInterval
	}
	return l.Interval
}

// Request records a wish for a keyframe at time now.
func (l *Limiter) Request(now time.Time) Decision {
	if !l.sent || now.Sub(l.last) >= l.interval() {
		l.markSent(now)
		return Decision{Send: true}
	}
	if l.pending {
		return Decision{}
	}
	l.pending = true
	return Decision{RetryAfter: l.last.Add(l.interval()).Sub(now)}
}

// Flush sends the folded trailing request once the interval since the last
// sent request has passed. It returns Send false when nothing is pending. When
// a timer fires early, Flush returns a new RetryAfter and keeps the request
// pending.
func (l *Limiter) Flush(now time.Time) Decision {
	if !l.pending {
		return Decision{}
	}
	wait := l.last.Add(l.interval()).Sub(now)
	if wait > 0 {
		return Decision{RetryAfter: wait}
	}
	l.markSent(now)
	return Decision{Send: true}
}

// Pending reports whether a folded request waits for Flush.
func (l *Limiter) Pending() bool {
	return l.pending
}

func (l *Limiter) markSent(now time.Time) {
	l.last = now
	l.sent = true
	l.pending = false
}
