package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// The audit trail keeps one record per key in BucketAudit and one signed
// checkpoint per key in BucketCheckpoints. Both are keyed by the record
// sequence number as 8 bytes big-endian, so bbolt's key order is the log
// order. The values are opaque here: package audit defines their encoding
// and the hash chain over them (docs/audit.md).

// ErrAuditSequence reports an append whose first sequence number does not
// follow the last stored record.
var ErrAuditSequence = errors.New("audit record sequence does not follow the stored log")

// ErrStopScan ends a scan early without an error; the scan methods return
// nil when the callback returns it.
var ErrStopScan = errors.New("stop scan")

func errMissingBucket(name []byte) error {
	return fmt.Errorf("bucket %s is missing: the database was not migrated", name)
}

// AuditEntry is one stored audit record or checkpoint: its sequence number
// and its encoded value.
type AuditEntry struct {
	Seq   uint64
	Value []byte
}

// AuditKey returns the bbolt key of sequence number seq.
func AuditKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

// AppendAudit stores records and, when checkpoint is not nil, a checkpoint,
// in one transaction, which bbolt fsyncs on commit. The records must carry
// consecutive sequence numbers starting right after the last stored record
// (1 for an empty log). Otherwise nothing is written, and the error wraps
// ErrAuditSequence. The values are copied by bbolt; the caller keeps them.
func (db *DB) AppendAudit(records []AuditEntry, checkpoint *AuditEntry) error {
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(BucketAudit)
		if b == nil {
			return errMissingBucket(BucketAudit)
		}
		next := uint64(1)
		if k, _ := b.Cursor().Last(); k != nil {
			if len(k) != 8 {
				return fmt.Errorf("last audit key has %d bytes, want 8: run bedside audit verify", len(k))
			}
			next = binary.BigEndian.Uint64(k) + 1
		}
		for _, r := range records {
			if r.Seq != next {
				return fmt.Errorf("%w: got %d, want %d", ErrAuditSequence, r.Seq, next)
			}
			if err := b.Put(AuditKey(r.Seq), r.Value); err != nil {
				return err
			}
			next++
		}
		if checkpoint == nil {
			return nil
		}
		cb := tx.Bucket(BucketCheckpoints)
		if cb == nil {
			return errMissingBucket(BucketCheckpoints)
		}
		return cb.Put(AuditKey(checkpoint.Seq), checkpoint.Value)
	})
	if err != nil {
		return fmt.Errorf("append audit records: %w", err)
	}
	return nil
}

// LastAudit returns the last stored audit record, and ErrNotFound when the
// log is empty. The value is a copy.
func (db *DB) LastAudit() (AuditEntry, error) {
	return db.lastEntry(BucketAudit)
}

// LastAuditCheckpoint returns the last stored checkpoint, and ErrNotFound
// when there is none. The value is a copy.
func (db *DB) LastAuditCheckpoint() (AuditEntry, error) {
	return db.lastEntry(BucketCheckpoints)
}

func (db *DB) lastEntry(bucket []byte) (AuditEntry, error) {
	var e AuditEntry
	err := db.bolt.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		if b == nil {
			return ErrNotFound // a read-only database older than the audit buckets
		}
		k, v := b.Cursor().Last()
		if k == nil {
			return ErrNotFound
		}
		if len(k) != 8 {
			return fmt.Errorf("last key of %s has %d bytes, want 8", bucket, len(k))
		}
		e = AuditEntry{Seq: binary.BigEndian.Uint64(k), Value: bytes.Clone(v)}
		return nil
	})
	if err != nil {
		return AuditEntry{}, fmt.Errorf("read last %s entry: %w", bucket, err)
	}
	return e, nil
}

// RawAuditEntry is a stored key and value as bbolt holds them, for the
// verifier, which must see keys that are not 8 bytes long too.
type RawAuditEntry struct {
	Key   []byte
	Value []byte
}

// ScanAudit calls fn for each stored audit record whose key sorts after the
// key of sequence number after (every record when after is 0), in key order,
// inside one read transaction.
// Key and Value are valid only during the call. A callback error other than
// ErrStopScan ends the scan and is returned.
func (db *DB) ScanAudit(after uint64, fn func(RawAuditEntry) error) error {
	return db.scan(BucketAudit, after, fn)
}

// ScanAuditCheckpoints is ScanAudit for the checkpoints.
func (db *DB) ScanAuditCheckpoints(fn func(RawAuditEntry) error) error {
	return db.scan(BucketCheckpoints, 0, fn)
}

func (db *DB) scan(bucket []byte, after uint64, fn func(RawAuditEntry) error) error {
	err := db.bolt.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		if b == nil {
			return nil // a read-only database older than the audit buckets
		}
		c := b.Cursor()
		// From the start, even keys shorter than 8 bytes are visited.
		k, v := c.First()
		if after > 0 {
			start := AuditKey(after)
			k, v = c.Seek(start)
			if bytes.Equal(k, start) {
				k, v = c.Next()
			}
		}
		for ; k != nil; k, v = c.Next() {
			if err := fn(RawAuditEntry{Key: k, Value: v}); err != nil {
				return err
			}
		}
		return nil
	})
	if errors.Is(err, ErrStopScan) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("scan %s: %w", bucket, err)
	}
	return nil
}
