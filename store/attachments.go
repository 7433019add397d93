package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// BucketAttachments holds the records of encrypted attachments; their
// bytes are files in the data directory, managed by package messaging.
//
//	"a/" + id                                -> Attachment as JSON
//	"u/" + user id                           -> bytes charged to the user (u64)
//	"c/" + conversation id + "/" + id        -> index by conversation
//	"t/" + created (i64 unix ns) + id        -> index by creation time
var (
	prefixAttachment      = []byte("a/")
	prefixAttachmentUsage = []byte("u/")
	prefixAttachmentConv  = []byte("c/")
	prefixAttachmentTime  = []byte("t/")
	indexMark             = []byte{1}
)

// Errors of the attachment records.
var (
	// ErrQuotaExceeded reports an attachment that would take its owner
	// past the storage quota.
	ErrQuotaExceeded = errors.New("attachment storage quota exceeded")
	// ErrUploadState reports a progress update or completion that does
	// not match the stored upload (wrong offset, already complete, or not
	// all bytes received).
	ErrUploadState = errors.New("attachment upload is not in the expected state")
)

// QuotaError is the ErrQuotaExceeded failure with the figures a client
// needs to act: what the owner uses, the quota, and the size requested.
type QuotaError struct {
	Used, Quota, Requested int64
}

func (e *QuotaError) Error() string {
	return fmt.Sprintf("%v: %d bytes used of %d, %d more requested", ErrQuotaExceeded, e.Used, e.Quota, e.Requested)
}

// Unwrap makes errors.Is(err, ErrQuotaExceeded) true.
func (e *QuotaError) Unwrap() error { return ErrQuotaExceeded }

// Attachment is the record of one encrypted attachment. Size is declared
// when the upload starts and charged to the owner's quota at once;
// Received counts the bytes durably written so far.
type Attachment struct {
	ID             string    `json:"id"`
	ConversationID string    `json:"conversation_id"`
	OwnerID        string    `json:"owner_id"`
	Size           int64     `json:"size"`
	Received       int64     `json:"received"`
	CreatedAt      time.Time `json:"created_at"`
	// CompletedAt is zero while the upload is in progress.
	CompletedAt time.Time `json:"completed_at,omitzero"`
}

// Complete reports whether the upload finished.
func (a *Attachment) Complete() bool { return !a.CompletedAt.IsZero() }

func attachmentKey(id string) []byte { return prefixedKey(prefixAttachment, []byte(id)) }

func attachmentUsageKey(userID string) []byte {
	return prefixedKey(prefixAttachmentUsage, []byte(userID))
}

func attachmentConvKey(conversationID, id string) []byte {
	return prefixedKey(prefixAttachmentConv, []byte(conversationID+"/"+id))
}

func attachmentTimeKey(created time.Time, id string) []byte {
	k := binary.BigEndian.AppendUint64(bytes.Clone(prefixAttachmentTime), uint64(created.UnixNano()))
	return append(k, id...)
}

// CreateAttachment stores a new upload record and charges a.Size to the
// owner. It fails with ErrExists for a taken id and with a *QuotaError
// when the owner's usage plus a.Size would exceed quota (no limit when
// quota is not positive).
func (db *DB) CreateAttachment(a *Attachment, quota int64) error {
	return db.bolt.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(BucketAttachments)
		if b.Get(attachmentKey(a.ID)) != nil {
			return fmt.Errorf("create attachment %s: %w", a.ID, ErrExists)
		}
		used := usage(b, a.OwnerID)
		if quota > 0 && used+a.Size > quota {
			return &QuotaError{Used: used, Quota: quota, Requested: a.Size}
		}
		if err := putAttachment(b, a); err != nil {
			return err
		}
		if err := b.Put(attachmentConvKey(a.ConversationID, a.ID), indexMark); err != nil {
			return err
		}
		if err := b.Put(attachmentTimeKey(a.CreatedAt, a.ID), indexMark); err != nil {
			return err
		}
		return b.Put(attachmentUsageKey(a.OwnerID), binary.BigEndian.AppendUint64(nil, uint64(used+a.Size)))
	})
}

func usage(b *bolt.Bucket, userID string) int64 {
	raw := b.Get(attachmentUsageKey(userID))
	if len(raw) != 8 {
		return 0
	}
	return int64(binary.BigEndian.Uint64(raw))
}

// AttachmentUsage returns the bytes charged to the user: the declared
// sizes of the user's uploads, finished or not.
func (db *DB) AttachmentUsage(userID string) (int64, error) {
	var n int64
	err := db.bolt.View(func(tx *bolt.Tx) error {
		n = usage(tx.Bucket(BucketAttachments), userID)
		return nil
	})
	return n, err
}

func putAttachment(b *bolt.Bucket, a *Attachment) error {
	raw, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("encode attachment %s: %w", a.ID, err)
	}
	if err := b.Put(attachmentKey(a.ID), raw); err != nil {
		return fmt.Errorf("store attachment %s: %w", a.ID, err)
	}
	return nil
}

func getAttachment(b *bolt.Bucket, id string) (*Attachment, error) {
	raw := b.Get(attachmentKey(id))
	if raw == nil {
		return nil, fmt.Errorf("attachment %s: %w", id, ErrNotFound)
	}
	var a Attachment
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, fmt.Errorf("decode attachment %s: %w", id, err)
	}
	return &a, nil
}

// Attachment returns the record with the given id, or ErrNotFound.
func (db *DB) Attachment(id string) (*Attachment, error) {
	var a *Attachment
	err := db.bolt.View(func(tx *bolt.Tx) error {
		var err error
		a, err = getAttachment(tx.Bucket(BucketAttachments), id)
		return err
	})
	return a, err
}

// SetAttachmentReceived moves an upload's progress from offset from to
// offset to. It fails with ErrUploadState when the upload is complete, its
// stored progress is not from, or to is outside [from, Size].
func (db *DB) SetAttachmentReceived(id string, from, to int64) (*Attachment, error) {
	return db.updateAttachment(id, func(a *Attachment) error {
		if a.Complete() || a.Received != from || to < from || to > a.Size {
			return fmt.Errorf("attachment %s: progress %d to %d, stored %d of %d: %w",
				id, from, to, a.Received, a.Size, ErrUploadState)
		}
		a.Received = to
		return nil
	})
}

// CompleteAttachment marks an upload complete. It fails with
// ErrUploadState unless every declared byte was received; completing a
// complete upload again changes nothing and succeeds.
func (db *DB) CompleteAttachment(id string, at time.Time) (*Attachment, error) {
	return db.updateAttachment(id, func(a *Attachment) error {
		if a.Complete() {
			return nil
		}
		if a.Received != a.Size {
			return fmt.Errorf("attachment %s: %d of %d bytes received: %w", id, a.Received, a.Size, ErrUploadState)
		}
		a.CompletedAt = at.UTC()
		return nil
	})
}

func (db *DB) updateAttachment(id string, change func(*Attachment) error) (*Attachment, error) {
	var a *Attachment
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(BucketAttachments)
		var err error
		if a, err = getAttachment(b, id); err != nil {
			return err
		}
		if err := change(a); err != nil {
			return err
		}
		return putAttachment(b, a)
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

// DeleteAttachment removes the record and its index entries, gives its
// size back to the owner's quota and returns the removed record, or
// ErrNotFound. The caller removes the file afterwards.
func (db *DB) DeleteAttachment(id string) (*Attachment, error) {
	var a *Attachment
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		var err error
		a, err = deleteAttachmentTx(tx.Bucket(BucketAttachments), id)
		return err
	})
	return a, err
}

func deleteAttachmentTx(b *bolt.Bucket, id string) (*Attachment, error) {
	a, err := getAttachment(b, id)
	if err != nil {
		return nil, err
	}
	for _, k := range [][]byte{
		attachmentKey(id), attachmentConvKey(a.ConversationID, id), attachmentTimeKey(a.CreatedAt, id),
	} {
		if err := b.Delete(k); err != nil {
			return nil, fmt.Errorf("delete attachment %s: %w", id, err)
		}
	}
	left := max(0, usage(b, a.OwnerID)-a.Size)
	if err := b.Put(attachmentUsageKey(a.OwnerID), binary.BigEndian.AppendUint64(nil, uint64(left))); err != nil {
		return nil, fmt.Errorf("delete attachment %s: %w", id, err)
	}
	return a, nil
}

// AttachmentsCreatedBefore returns up to limit records created before
// cutoff, oldest first: unfinished uploads only when unfinishedOnly is
// true, and every record otherwise.
func (db *DB) AttachmentsCreatedBefore(cutoff time.Time, unfinishedOnly bool, limit int) ([]*Attachment, error) {
	var out []*Attachment
	err := db.bolt.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(BucketAttachments)
		end := attachmentTimeKey(cutoff, "")
		c := b.Cursor()
		for k, _ := c.Seek(prefixAttachmentTime); k != nil && bytes.HasPrefix(k, prefixAttachmentTime) &&
			bytes.Compare(k, end) < 0 && len(out) < limit; k, _ = c.Next() {
			a, err := getAttachment(b, string(k[len(prefixAttachmentTime)+8:]))
			if err != nil {
				return err
			}
			if unfinishedOnly && a.Complete() {
				continue
			}
			out = append(out, a)
		}
		return nil
	})
	return out, err
}

// ConversationAttachments returns the records of the conversation's
// attachments, finished or not, in id order.
func (db *DB) ConversationAttachments(conversationID string) ([]*Attachment, error) {
	var out []*Attachment
	err := db.bolt.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(BucketAttachments)
		prefix := attachmentConvKey(conversationID, "")
		c := b.Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			a, err := getAttachment(b, string(k[len(prefix):]))
			if err != nil {
				return err
			}
			out = append(out, a)
		}
		return nil
	})
	return out, err
}
