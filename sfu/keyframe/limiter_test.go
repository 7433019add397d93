package keyframe

import (
	"testing"
	"time"
)

func TestLimiterSequence(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

	type step struct {
		op         string // "req" or "flush"
		ms         int
		wantSend   bool
		wantRetry  time.Duration
		wantPended bool
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{
			name:  "first request is sent",
			steps: []step{{"req", 0, true, 0, false}},
		},
		{
			name: "second request inside interval is folded",
			steps: []step{
				{"req", 0, true, 0, false},
				{"req", 100, false, 400 * time.Millisecond, true},
				{"req", 200, false, 0, true},
				{"req", 300, false, 0, true},
			},
		},
		{
			name: "flush sends the folded request after the interval",
			steps: []step{
				{"req", 0, true, 0, false},
				{"req", 100, false, 400 * time.Millisecond, true},
				{"flush", 500, true, 0, false},
				{"req", 600, false, 400 * time.Millisecond, true},
			},
		},
		{
			name: "early flush reports the remaining wait",
			steps: []step{
				{"req", 0, true, 0, false},
				{"req", 100, false, 400 * time.Millisecond, true},
				{"flush", 300, false, 200 * time.Millisecond, true},
				{"flush", 500, true, 0, false},
			},
		},
		{
			name: "flush without a pending request sends nothing",
			steps: []step{
				{"req", 0, true, 0, false},
				{"flush", 900, false, 0, false},
			},
		},
		{
			name: "request after the interval is sent at once",
			steps: []step{
				{"req", 0, true, 0, false},
				{"req", 500, true, 0, false},
				{"req", 1200, true, 0, false},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var l Limiter
			for i, s := range tt.steps {
				var d Decision
				if s.op == "req" {
					d = l.Request(at(s.ms))
				} else {
					d = l.Flush(at(s.ms))
				}
				if d.Send != s.wantSend {
					t.Errorf("step %d (%s at %d ms): got Send %v, want %v", i, s.op, s.ms, d.Send, s.wantSend)
				}
				if d.RetryAfter != s.wantRetry {
					t.Errorf("step %d (%s at %d ms): got RetryAfter %v, want %v", i, s.op, s.ms, d.RetryAfter, s.wantRetry)
				}
				if l.Pending() != s.wantPended {
					t.Errorf("step %d (%s at %d ms): got Pending %v, want %v", i, s.op, s.ms, l.Pending(), s.wantPended)
				}
			}
		})
	}
}

func TestLimiterCustomInterval(t *testing.T) {
	l := Limiter{Interval: 2 * time.Second}
	t0 := time.Unix(0, 0)
	if d := l.Request(t0); !d.Send {
		t.Fatalf("first request: got Send false, want true")
	}
	if d := l.Request(t0.Add(time.Second)); d.Send || d.RetryAfter != time.Second {
		t.Errorf("request at 1 s: got %+v, want Send false and RetryAfter 1s", d)
	}
}

// TestLimiterStormBound checks that a storm of requests, one per millisecond
// for ten seconds, sends at most one request per interval.
func TestLimiterStormBound(t *testing.T) {
	var l Limiter
	t0 := time.Unix(0, 0)
	sent := 0
	var flushAt time.Time
	for ms := 0; ms < 10000; ms++ {
		now := t0.Add(time.Duration(ms) * time.Millisecond)
		if !flushAt.IsZero() && !now.Before(flushAt) {
			flushAt = time.Time{}
			if d := l.Flush(now); d.Send {
				sent++
			}
		}
		d := l.Request(now)
		if d.Send {
			sent++
		}
		if d.RetryAfter > 0 {
			flushAt = now.Add(d.RetryAfter)
		}
	}
	if max := 10000/int(DefaultInterval/time.Millisecond) + 1; sent > max {
		t.Errorf("got %d requests sent, want at most %d", sent, max)
	}
	if sent < 10 {
		t.Errorf("got %d requests sent, want at least 10", sent)
	}
}
