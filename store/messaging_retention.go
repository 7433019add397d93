package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// DeleteMessagesBefore removes every message received before cutoff, with
// its envelopes and its id index entry, and returns how many it removed.
// It works in transactions of at most batch messages (1000 when batch is
// not positive) so that writers are not blocked for long. Conversation
// state (last sequence number, markers) is kept.
func (db *DB) DeleteMessagesBefore(cutoff time.Time, batch int) (int, error) {
	if batch <= 0 {
		batch = 1000
	}
	total := 0
	for {
		n := 0
		err := db.bolt.Update(func(tx *bolt.Tx) error {
			n = 0
			// Names are collected first: a cursor must not walk a bucket
			// whose nested buckets change under it.
			var names [][]byte
			c := tx.Bucket(BucketMessages).Cursor()
			for k, v := c.First(); k != nil; k, v = c.Next() {
				if v == nil { // a nested bucket
					names = append(names, bytes.Clone(k))
				}
			}
			for _, name := range names {
				if n >= batch {
					break
				}
				removed, err := deleteOldMessages(tx.Bucket(BucketMessages).Bucket(name), cutoff, batch-n)
				if err != nil {
					return fmt.Errorf("conversation %s: %w", name, err)
				}
				n += removed
			}
			return nil
		})
		if err != nil {
			return total, fmt.Errorf("delete messages before %s: %w", cutoff.Format(time.RFC3339), err)
		}
		total += n
		if n < batch {
			return total, nil
		}
	}
}

// deleteOldMessages removes up to max messages of one conversation that
// were received before cutoff. Records are in sequence order, which is
// the order they were received in, so it stops at the first newer one.
func deleteOldMessages(conv *bolt.Bucket, cutoff time.Time, max int) (int, error) {
	records := conv.Bucket(bucketMessageRecords)
	if records == nil {
		return 0, nil
	}
	var seqs []uint64
	var ids [][]byte
	c := records.Cursor()
	for k, v := c.First(); k != nil && len(seqs) < max; k, v = c.Next() {
		id, received, ok := recordHead(v)
		if !ok {
			return 0, fmt.Errorf("message %x: %w", k, errMessageRecord)
		}
		if !received.Before(cutoff) {
			break
		}
		seqs = append(seqs, binary.BigEndian.Uint64(k))
		ids = append(ids, id)
	}
	for i, seq := range seqs {
		if err := deleteMessageTx(conv, seq, ids[i]); err != nil {
			return 0, err
		}
	}
	return len(seqs), nil
}

func deleteMessageTx(conv *bolt.Bucket, seq uint64, id []byte) error {
	if err := conv.Bucket(bucketMessageRecords).Delete(seqKey(seq)); err != nil {
		return err
	}
	if err := conv.Bucket(bucketMessageIDs).Delete(id); err != nil {
		return err
	}
	envs := conv.Bucket(bucketEnvelopes)
	prefix := seqKey(seq)
	var keys [][]byte
	c := envs.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		keys = append(keys, bytes.Clone(k))
	}
	for _, k := range keys {
		if err := envs.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// recordHead reads the message id and receive time from an encoded record
// without decoding the rest.
func recordHead(raw []byte) (id []byte, received time.Time, ok bool) {
	d := recordDecoder{b: raw}
	if d.u8() != messageRecordVersion {
		return nil, time.Time{}, false
	}
	id = d.bytes(16)
	d.str8()
	d.str8()
	ns := d.u64()
	if d.failed {
		return nil, time.Time{}, false
	}
	return id, time.Unix(0, int64(ns)).UTC(), true
}

// DeleteConversationMessages removes every message, envelope and marker of
// the conversation and records who deleted them and when. The sequence
// counter is kept, so later messages continue after the deleted ones. It
// returns the number of messages removed; a conversation that never held
// a message yields 0 and no error.
func (db *DB) DeleteConversationMessages(conversationID, deletedBy string, at time.Time) (int, error) {
	n := 0
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		n = 0
		name := []byte(conversationID)
		msgs := tx.Bucket(BucketMessages)
		if conv := msgs.Bucket(name); conv != nil {
			if records := conv.Bucket(bucketMessageRecords); records != nil {
				n = records.Stats().KeyN
			}
			if err := msgs.DeleteBucket(name); err != nil {
				return err
			}
		}
		c, err := ConversationTx(tx, conversationID)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		state := tx.Bucket(BucketConversations).Bucket(name)
		for _, b := range [][]byte{bucketDelivered, bucketRead} {
			if state.Bucket(b) == nil {
				continue
			}
			if err := state.DeleteBucket(b); err != nil {
				return err
			}
		}
		c.DeletedAt = at.UTC()
		c.DeletedBy = deletedBy
		return putConversation(state, c)
	})
	if err != nil {
		return 0, fmt.Errorf("delete conversation %s: %w", conversationID, err)
	}
	return n, nil
}
