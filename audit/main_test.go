package audit

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/goleak"

	"github.com/bedside-health/bedside/store"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testDeadline bounds every wait in these tests.
const testDeadline = 10 * time.Second

// fakeClock is a settable clock for Deps.Now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *fakeClock { return &fakeClock{t: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *fakeClock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

// wednesday10 is a Wednesday, 10:00 UTC: inside default clinic hours.
var wednesday10 = time.Date(2025, 3, 12, 10, 0, 0, 0, time.UTC)

func testSigningKey() ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
}

func openDB(t *testing.T) *store.DB {
	t.Helper()
	db, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// newTestLog starts a Log on db and closes it at cleanup. A nil clock
// means the real one.
func newTestLog(t *testing.T, db *store.DB, cfg Config, deps Deps) *Log {
	t.Helper()
	deps.DB = db
	if deps.SigningKey == nil {
		deps.SigningKey = testSigningKey()
	}
	l, err := New(cfg, deps)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { closeLog(t, l) })
	return l
}

func closeLog(t *testing.T, l *Log) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
	defer cancel()
	if err := l.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}
}

func flush(t *testing.T, l *Log) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
	defer cancel()
	if err := l.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
}

func readAll(t *testing.T, db *store.DB) []Record {
	t.Helper()
	var out []Record
	var after uint64
	for {
		p, err := ReadRecords(db, Query{After: after, Limit: MaxPageSize})
		if err != nil {
			t.Fatalf("ReadRecords: %v", err)
		}
		out = append(out, p.Records...)
		if p.NextAfter == 0 {
			return out
		}
		after = p.NextAfter
	}
}

func allAlerts(t *testing.T, db *store.DB) []store.Alert {
	t.Helper()
	a, err := db.ListAlerts(store.AlertQuery{Limit: 10000})
	if err != nil {
		t.Fatalf("ListAlerts: %v", err)
	}
	return a
}

func alertCounts(alerts []store.Alert) map[string]int {
	m := map[string]int{}
	for _, a := range alerts {
		m[a.Type]++
	}
	return m
}

func testPublicKey() ed25519.PublicKey {
	return testSigningKey().Public().(ed25519.PublicKey)
}

// counterValue reads the current value of a Prometheus counter.
func counterValue(t testing.TB, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatalf("read counter: %v", err)
	}
	return m.GetCounter().GetValue()
}
