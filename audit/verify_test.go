package audit

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/bedside-health/bedside/store"
)

// buildSignedLog writes 20 records with a checkpoint after every fifth
// and closes the log, leaving the database open for tampering.
func buildSignedLog(t *testing.T) *store.DB {
	t.Helper()
	db := openDB(t)
	clock := newClock(wednesday10)
	l, err := New(Config{CheckpointEvery: 5}, Deps{DB: db, SigningKey: testSigningKey(), Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		clock.Advance(time.Minute)
		l.Record(context.Background(), loginEvent(i))
		flush(t, l)
	}
	closeLog(t, l)
	return db
}

// copyDB returns a copy of db opened from a new directory, so each case
// tampers with its own file without writing the log again.
func copyDB(t *testing.T, db *store.DB) *store.DB {
	t.Helper()
	dir := t.TempDir()
	if _, err := db.BackupFile(filepath.Join(dir, store.FileName)); err != nil {
		t.Fatal(err)
	}
	c, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// tamper runs fn in a bbolt write transaction on the audit buckets.
func tamper(t *testing.T, db *store.DB, fn func(records, checkpoints *bolt.Bucket)) {
	t.Helper()
	err := db.Bolt().Update(func(tx *bolt.Tx) error {
		fn(tx.Bucket(store.BucketAudit), tx.Bucket(store.BucketCheckpoints))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func mustDecode(t *testing.T, v []byte) Record {
	t.Helper()
	r, _, err := decodeRecord(v)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func mustSeal(t *testing.T, r *Record) []byte {
	t.Helper()
	v, err := r.seal()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func put(t *testing.T, b *bolt.Bucket, k, v []byte) {
	t.Helper()
	if err := b.Put(k, v); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyIntactLog(t *testing.T) {
	db := buildSignedLog(t)
	rep, err := Verify(db, testPublicKey())
	if err != nil {
		t.Fatal(err)
	}
	if err := rep.Err(); err != nil {
		t.Fatalf("got %v, want an intact log", err)
	}
	if rep.Records != 20 || rep.LastSeq != 20 {
		t.Errorf("got %d records, last %d; want 20, 20", rep.Records, rep.LastSeq)
	}
	if rep.Checkpoints != 4 || rep.SignedThrough != 20 || rep.Unsigned != 0 {
		t.Errorf("got %d checkpoints, signed through %d, %d unsigned; want 4, 20, 0",
			rep.Checkpoints, rep.SignedThrough, rep.Unsigned)
	}
}

func TestVerifyDetectsTampering(t *testing.T) {
	key := store.AuditKey
	otherKey := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, ed25519.SeedSize))
	tests := []struct {
		name     string
		tamper   func(t *testing.T, records, checkpoints *bolt.Bucket)
		wantKind ProblemKind
		wantSeq  uint64
	}{
		{
			name: "edited byte",
			tamper: func(t *testing.T, records, _ *bolt.Bucket) {
				v := bytes.Clone(records.Get(key(7)))
				i := bytes.Index(v, []byte("u6"))
				v[i+1] = '9'
				put(t, records, key(7), v)
			},
			wantKind: ProblemHashMismatch, wantSeq: 7,
		},
		{
			name: "edited and rehashed",
			tamper: func(t *testing.T, records, _ *bolt.Bucket) {
				r := mustDecode(t, records.Get(key(7)))
				r.ActorID = "someone-else"
				put(t, records, key(7), mustSeal(t, &r))
			},
			wantKind: ProblemChainBroken, wantSeq: 8,
		},
		{
			name: "chain rewritten after an edit",
			tamper: func(t *testing.T, records, _ *bolt.Bucket) {
				prev := mustDecode(t, records.Get(key(6))).Hash
				for seq := uint64(7); seq <= 20; seq++ {
					r := mustDecode(t, records.Get(key(seq)))
					if seq == 7 {
						r.ActorID = "someone-else"
					}
					r.PrevHash = prev
					put(t, records, key(seq), mustSeal(t, &r))
					prev = r.Hash
				}
			},
			wantKind: ProblemCheckpointMismatch, wantSeq: 10,
		},
		{
			name: "deleted",
			tamper: func(t *testing.T, records, _ *bolt.Bucket) {
				if err := records.Delete(key(7)); err != nil {
					t.Fatal(err)
				}
			},
			wantKind: ProblemGap, wantSeq: 8,
		},
		{
			name: "deleted at the end",
			tamper: func(t *testing.T, records, _ *bolt.Bucket) {
				if err := records.Delete(key(20)); err != nil {
					t.Fatal(err)
				}
			},
			wantKind: ProblemCheckpointMissing, wantSeq: 20,
		},
		{
			name: "inserted between keys",
			tamper: func(t *testing.T, records, _ *bolt.Bucket) {
				put(t, records, append(key(7), 0), records.Get(key(7)))
			},
			wantKind: ProblemUnexpectedKey, wantSeq: 8,
		},
		{
			name: "inserted with renumbering",
			tamper: func(t *testing.T, records, _ *bolt.Bucket) {
				for seq := uint64(20); seq >= 7; seq-- {
					put(t, records, key(seq+1), bytes.Clone(records.Get(key(seq))))
				}
				forged := mustDecode(t, records.Get(key(7)))
				forged.ActorID = "intruder"
				forged.PrevHash = mustDecode(t, records.Get(key(6))).Hash
				put(t, records, key(7), mustSeal(t, &forged))
			},
			wantKind: ProblemSeqMismatch, wantSeq: 8,
		},
		{
			name: "reordered",
			tamper: func(t *testing.T, records, _ *bolt.Bucket) {
				a, b := bytes.Clone(records.Get(key(7))), bytes.Clone(records.Get(key(8)))
				put(t, records, key(7), b)
				put(t, records, key(8), a)
			},
			wantKind: ProblemSeqMismatch, wantSeq: 7,
		},
		{
			name: "reordered with renumbering",
			tamper: func(t *testing.T, records, _ *bolt.Bucket) {
				a, b := mustDecode(t, records.Get(key(7))), mustDecode(t, records.Get(key(8)))
				a.Seq, b.Seq = 8, 7
				put(t, records, key(7), mustSeal(t, &b))
				put(t, records, key(8), mustSeal(t, &a))
			},
			wantKind: ProblemChainBroken, wantSeq: 7,
		},
		{
			name: "truncated value",
			tamper: func(t *testing.T, records, _ *bolt.Bucket) {
				v := records.Get(key(7))
				put(t, records, key(7), bytes.Clone(v[:len(v)-40]))
			},
			wantKind: ProblemMalformed, wantSeq: 7,
		},
		{
			name: "forged checkpoint signature",
			tamper: func(t *testing.T, _, checkpoints *bolt.Bucket) {
				v := bytes.Clone(checkpoints.Get(key(10)))
				v[len(v)-1] ^= 1
				put(t, checkpoints, key(10), v)
			},
			wantKind: ProblemCheckpointSignature, wantSeq: 10,
		},
		{
			name: "checkpoint signed by another key",
			tamper: func(t *testing.T, records, checkpoints *bolt.Bucket) {
				h := mustDecode(t, records.Get(key(10))).Hash
				cp := checkpointEntry(otherKey, 10, h, wednesday10)
				put(t, checkpoints, key(10), cp.Value)
			},
			wantKind: ProblemCheckpointSignature, wantSeq: 10,
		},
		{
			name: "checkpoint moved to another key",
			tamper: func(t *testing.T, _, checkpoints *bolt.Bucket) {
				put(t, checkpoints, key(11), bytes.Clone(checkpoints.Get(key(10))))
			},
			wantKind: ProblemCheckpointMalformed, wantSeq: 11,
		},
	}
	template := buildSignedLog(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db := copyDB(t, template)
			tamper(t, db, func(records, checkpoints *bolt.Bucket) {
				tc.tamper(t, records, checkpoints)
			})
			rep, err := Verify(db, testPublicKey())
			if err != nil {
				t.Fatal(err)
			}
			first := rep.FirstBroken()
			if first == nil {
				t.Fatalf("got an intact log, want %s at %d", tc.wantKind, tc.wantSeq)
			}
			if first.Kind != tc.wantKind || first.Seq != tc.wantSeq {
				t.Errorf("got first problem %s at %d (%s), want %s at %d",
					first.Kind, first.Seq, first.Message, tc.wantKind, tc.wantSeq)
			}
			if rep.Err() == nil {
				t.Error("Report.Err returned nil for a broken log")
			}
		})
	}
}

func TestVerifyWithWrongPublicKey(t *testing.T) {
	db := buildSignedLog(t)
	other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, ed25519.SeedSize)).Public().(ed25519.PublicKey)
	rep, err := Verify(db, other)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(rep.Problems); got != 4 {
		t.Errorf("got %d problems, want 4 bad checkpoint signatures", got)
	}
	if rep.SignedThrough != 0 || rep.Unsigned != 20 {
		t.Errorf("got signed through %d, %d unsigned; want 0, 20", rep.SignedThrough, rep.Unsigned)
	}
}

func TestVerifyUnsignedTail(t *testing.T) {
	db := openDB(t)
	l := newTestLog(t, db, Config{CheckpointEvery: 5}, Deps{})
	for i := range 7 {
		l.Record(context.Background(), loginEvent(i))
		flush(t, l)
	}
	rep, err := Verify(db, testPublicKey())
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.SignedThrough != 5 || rep.Unsigned != 2 {
		t.Errorf("got ok %v, signed through %d, %d unsigned; want true, 5, 2",
			rep.OK(), rep.SignedThrough, rep.Unsigned)
	}
}

func TestNewContinuesAfterDamagedTail(t *testing.T) {
	db := buildSignedLog(t)
	tamper(t, db, func(records, _ *bolt.Bucket) {
		v := bytes.Clone(records.Get(store.AuditKey(20)))
		v[20] ^= 1
		put(t, records, store.AuditKey(20), v)
	})
	l := newTestLog(t, db, Config{}, Deps{})
	l.Record(context.Background(), loginEvent(1))
	flush(t, l)
	if got := alertCounts(allAlerts(t, db)); got[AlertAuditIntegrity] != 1 {
		t.Errorf("got alerts %v, want one %s", got, AlertAuditIntegrity)
	}
	rep, err := Verify(db, testPublicKey())
	if err != nil {
		t.Fatal(err)
	}
	if first := rep.FirstBroken(); first == nil || first.Seq != 20 {
		t.Errorf("got first problem %+v, want one at record 20", first)
	}
}

func TestVerifyDatabaseWithoutAuditBuckets(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	raw, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw.Close()
	db, err := store.OpenFile(path, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rep, err := Verify(db, testPublicKey())
	if err != nil || !rep.OK() || rep.Records != 0 {
		t.Errorf("got %+v, %v; want an empty intact report", rep, err)
	}
}
