package audit

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/bedside-health/bedside/store"
)

func loginEvent(i int) Event {
	return Event{
		Type: TypeLogin, ActorID: "u" + strconv.Itoa(i), TargetID: "u" + strconv.Itoa(i),
		Address: "192.0.2.1", Outcome: OutcomeSuccess,
	}
}

func TestRecordWritesHashChain(t *testing.T) {
	db := openDB(t)
	clock := newClock(wednesday10)
	l := newTestLog(t, db, Config{}, Deps{Now: clock.Now})
	for i := range 10 {
		clock.Advance(time.Second)
		l.Record(context.Background(), loginEvent(i))
	}
	flush(t, l)

	recs := readAll(t, db)
	if len(recs) != 10 {
		t.Fatalf("got %d records, want 10", len(recs))
	}
	var prev Hash
	for i, r := range recs {
		if r.Seq != uint64(i+1) {
			t.Errorf("record %d: got seq %d, want %d", i, r.Seq, i+1)
		}
		if r.PrevHash != prev {
			t.Errorf("record %d: prev hash %s, want %s", r.Seq, r.PrevHash, prev)
		}
		if want := wednesday10.Add(time.Duration(i+1) * time.Second); !r.Time.Equal(want) {
			t.Errorf("record %d: got time %s, want %s", r.Seq, r.Time, want)
		}
		if r.ActorID != "u"+strconv.Itoa(i) || r.Type != TypeLogin || r.Outcome != OutcomeSuccess {
			t.Errorf("record %d: got %+v", r.Seq, r)
		}
		prev = r.Hash
	}
}

func TestRecordChainContinuesAfterReopen(t *testing.T) {
	db := openDB(t)
	first, err := New(Config{}, Deps{DB: db, SigningKey: testSigningKey()})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		first.Record(context.Background(), loginEvent(i))
	}
	closeLog(t, first)

	second := newTestLog(t, db, Config{}, Deps{})
	for i := range 3 {
		second.Record(context.Background(), loginEvent(i))
	}
	closeLog(t, second)

	rep, err := Verify(db, testPublicKey())
	if err != nil {
		t.Fatal(err)
	}
	if err := rep.Err(); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if rep.LastSeq != 6 || rep.SignedThrough != 6 || rep.Checkpoints != 2 {
		t.Errorf("got last %d, signed through %d, %d checkpoints; want 6, 6, 2",
			rep.LastSeq, rep.SignedThrough, rep.Checkpoints)
	}
}

func TestCheckpointEveryNRecords(t *testing.T) {
	db := openDB(t)
	l := newTestLog(t, db, Config{CheckpointEvery: 10}, Deps{})
	for i := range 25 {
		l.Record(context.Background(), loginEvent(i))
		flush(t, l) // one record per batch, so checkpoints land exactly
	}
	var seqs []uint64
	err := db.ScanAuditCheckpoints(func(e store.RawAuditEntry) error {
		c, err := decodeCheckpoint(e.Value)
		seqs = append(seqs, c.Seq)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seqs) != 2 || seqs[0] != 10 || seqs[1] != 20 {
		t.Fatalf("got checkpoints at %v, want [10 20]", seqs)
	}
	closeLog(t, l)
	rep, err := Verify(db, testPublicKey())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Checkpoints != 3 || rep.SignedThrough != 25 || rep.Unsigned != 0 {
		t.Errorf("after Close: got %d checkpoints, signed through %d, %d unsigned; want 3, 25, 0",
			rep.Checkpoints, rep.SignedThrough, rep.Unsigned)
	}
}

func TestCheckpointAfterInterval(t *testing.T) {
	db := openDB(t)
	clock := newClock(wednesday10)
	l := newTestLog(t, db, Config{CheckpointInterval: time.Minute}, Deps{Now: clock.Now})
	l.Record(context.Background(), loginEvent(1))
	flush(t, l)
	if _, err := db.LastAuditCheckpoint(); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("checkpoint before the interval: got err %v, want ErrNotFound", err)
	}
	clock.Advance(2 * time.Minute)
	l.Record(context.Background(), loginEvent(2))
	flush(t, l)
	cp, err := db.LastAuditCheckpoint()
	if err != nil {
		t.Fatalf("no checkpoint after the interval: %v", err)
	}
	if cp.Seq != 2 {
		t.Errorf("got checkpoint at %d, want 2", cp.Seq)
	}
}

// holdWriter blocks every bbolt writer until the returned release is
// called, by keeping a write transaction open.
func holdWriter(t *testing.T, db *store.DB) (release func()) {
	t.Helper()
	held, done := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		_ = db.Bolt().Update(func(*bolt.Tx) error {
			close(held)
			<-done
			return nil
		})
	})
	<-held
	var once sync.Once
	release = func() { once.Do(func() { close(done); wg.Wait() }) }
	t.Cleanup(release)
	return release
}

func TestQueueFullDropsAndRecordsCount(t *testing.T) {
	db := openDB(t)
	l := newTestLog(t, db, Config{QueueSize: 2, QueueWait: time.Millisecond, BatchSize: 2}, Deps{})
	release := holdWriter(t, db)
	const sent = 50
	for i := range sent {
		l.Record(context.Background(), loginEvent(i))
	}
	release()
	flush(t, l)

	var kept, lost int
	for _, r := range readAll(t, db) {
		switch r.Type {
		case TypeLogin:
			kept++
		case TypeAuditDropped:
			n, err := strconv.Atoi(r.Detail[DetailCount])
			if err != nil {
				t.Fatalf("audit.dropped count %q: %v", r.Detail[DetailCount], err)
			}
			lost += n
		}
	}
	if lost == 0 {
		t.Fatalf("got no audit.dropped record, want one counting the lost events")
	}
	if kept+lost != sent {
		t.Errorf("got %d kept + %d dropped, want %d in total", kept, lost, sent)
	}
	if got := alertCounts(allAlerts(t, db)); got[AlertAuditDropped] != 1 || len(got) != 1 {
		t.Errorf("got alerts %v, want exactly one %s", got, AlertAuditDropped)
	}
}

func TestRecordAfterCloseIsDropped(t *testing.T) {
	db := openDB(t)
	l := newTestLog(t, db, Config{}, Deps{})
	closeLog(t, l)
	l.Record(context.Background(), loginEvent(1))
	if err := l.Flush(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Flush after Close: got %v, want ErrClosed", err)
	}
	if recs := readAll(t, db); len(recs) != 0 {
		t.Errorf("got %d records, want 0", len(recs))
	}
}

func TestCloseGivesUpAtDeadline(t *testing.T) {
	db := openDB(t)
	l, err := New(Config{}, Deps{DB: db, SigningKey: testSigningKey()})
	if err != nil {
		t.Fatal(err)
	}
	release := holdWriter(t, db)
	l.Record(context.Background(), loginEvent(1))

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	go func() {
		<-ctx.Done()
		release() // the writer's blocked transaction can then fail over
	}()
	if err := l.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close: got %v, want DeadlineExceeded", err)
	}
}

func TestRecordIgnoresCanceledContext(t *testing.T) {
	db := openDB(t)
	l := newTestLog(t, db, Config{}, Deps{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	l.Record(ctx, loginEvent(1))
	flush(t, l)
	if recs := readAll(t, db); len(recs) != 1 {
		t.Errorf("got %d records, want 1: a vanished client keeps its trail", len(recs))
	}
}

func TestNewRejectsBadDeps(t *testing.T) {
	db := openDB(t)
	tests := []struct {
		name string
		cfg  Config
		deps Deps
		want error
	}{
		{"no db", Config{}, Deps{SigningKey: testSigningKey()}, ErrInvalidConfig},
		{"no key", Config{}, Deps{DB: db}, ErrNoSigningKey},
		{"bad hours", Config{ClinicHours: "7-19"}, Deps{DB: db, SigningKey: testSigningKey()}, ErrInvalidConfig},
		{"bad days", Config{ClinicHours: "07:00-19:00", ClinicDays: "Weekdays"},
			Deps{DB: db, SigningKey: testSigningKey()}, ErrInvalidConfig},
		{"bad zone", Config{ClinicHours: "07:00-19:00", ClinicTimeZone: "Mars/Olympus"},
			Deps{DB: db, SigningKey: testSigningKey()}, ErrInvalidConfig},
		{"http webhook", Config{WebhookURL: "http://alerts.example/x", WebhookSecret: "0123456789abcdef"},
			Deps{DB: db, SigningKey: testSigningKey()}, ErrInvalidConfig},
		{"short secret", Config{WebhookURL: "https://alerts.example/x", WebhookSecret: "short"},
			Deps{DB: db, SigningKey: testSigningKey()}, ErrInvalidConfig},
		{"negative queue", Config{QueueSize: -1}, Deps{DB: db, SigningKey: testSigningKey()}, ErrInvalidConfig},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, err := New(tc.cfg, tc.deps)
			if err == nil {
				closeLog(t, l)
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
		})
	}
}
