package audit

import (
	"context"
	"strconv"
	"testing"

	"github.com/bedside-health/bedside/store"
)

func benchEvent(i int) Event {
	return Event{
		Type: TypeAttachmentDownload, ActorID: "u-" + strconv.Itoa(i%50), TargetID: "att-" + strconv.Itoa(i),
		Address: "192.0.2.9", Outcome: OutcomeSuccess,
		Detail: map[string]string{DetailBytes: "524288", DetailRole: "clinician"},
	}
}

func benchDB(b *testing.B) *store.DB {
	b.Helper()
	db, err := store.Open(b.TempDir(), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

// BenchmarkRecord measures Record from parallel callers until every event
// is committed: batches of up to Config.BatchSize per fsynced transaction.
func BenchmarkRecord(b *testing.B) {
	db := benchDB(b)
	l, err := New(Config{}, Deps{DB: db, SigningKey: testSigningKey()})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			l.Record(context.Background(), benchEvent(i))
			i++
		}
	})
	if err := l.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	// The callers produce as fast as they can, so a slow fsync can fill
	// the queue: count only committed events and report the drops.
	dropped := counterValue(b, l.met.dropped)
	b.ReportMetric((float64(b.N)-dropped)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(dropped, "dropped")
	if err := l.Close(context.Background()); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkPutPerEvent is the baseline: the same sanitizing, encoding and
// hash chain, but one fsynced bbolt transaction per event.
func BenchmarkPutPerEvent(b *testing.B) {
	db := benchDB(b)
	s := testSanitizer()
	var prev Hash
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		e := s.clean(benchEvent(i))
		r := Record{Seq: uint64(i + 1), Time: e.Time, Type: e.Type, ActorID: e.ActorID,
			TargetID: e.TargetID, Address: e.Address, Outcome: e.Outcome, Detail: e.Detail, PrevHash: prev}
		v, err := r.seal()
		if err != nil {
			b.Fatal(err)
		}
		if err := db.AppendAudit([]store.AuditEntry{{Seq: r.Seq, Value: v}}, nil); err != nil {
			b.Fatal(err)
		}
		prev = r.Hash
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkVerify measures Verify over a log of 10,000 records.
func BenchmarkVerify(b *testing.B) {
	db := benchDB(b)
	l, err := New(Config{}, Deps{DB: db, SigningKey: testSigningKey()})
	if err != nil {
		b.Fatal(err)
	}
	const n = 10000
	for i := range n {
		l.Record(context.Background(), benchEvent(i))
	}
	if err := l.Close(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		rep, err := Verify(db, testPublicKey())
		if err != nil || !rep.OK() {
			b.Fatalf("verify: %v %v", err, rep.Err())
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "records/s")
}
