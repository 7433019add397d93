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

// Messages of one conversation live in a bucket named by the conversation
// id, nested in BucketMessages:
//
//	m: seq (u64 big-endian)                            -> message record
//	e: seq || user id || 0x00 || device id             -> key envelope
//	i: message id (16 bytes)                           -> seq
//
// Its state lives in a bucket of the same name nested in
// BucketConversations:
//
//	"meta"                                             -> Conversation as JSON
//	d: user id || 0x00 || device id                    -> delivered seq
//	r: user id                                         -> read seq
//
// Sequence numbers start at 1 and are never reused, not even after the
// conversation's messages are deleted: a client's cursor stays valid.
var (
	bucketMessageRecords = []byte("m")
	bucketEnvelopes      = []byte("e")
	bucketMessageIDs     = []byte("i")
	bucketDelivered      = []byte("d")
	bucketRead           = []byte("r")
	keyConversationMeta  = []byte("meta")
)

// ErrSeqBeyondEnd reports a marker for a sequence number the conversation
// has not reached.
var ErrSeqBeyondEnd = errors.New("sequence number is beyond the conversation's last message")

// Conversation is the stored state of one conversation. Its members and
// who may read it are not stored here: they come from the clinic (a
// consultation's participants, a patient's care team).
type Conversation struct {
	ID        string    `json:"id"`
	CreatedAt time.Time `json:"created_at"`
	// LastSeq is the sequence number of the newest message ever stored.
	LastSeq uint64 `json:"last_seq"`
	// DeletedAt and DeletedBy record the last deletion of the whole
	// history by an administrator.
	DeletedAt time.Time `json:"deleted_at,omitzero"`
	DeletedBy string    `json:"deleted_by,omitempty"`
}

// Recipient names a device that received a key envelope.
type Recipient struct {
	UserID   string
	DeviceID string
}

// Message is one stored encrypted message without its key envelopes. The
// server cannot read any of it: Header is the e2ee header in clear (ids
// and time only), the rest is ciphertext, commitment and signature.
type Message struct {
	ConversationID string
	Seq            uint64
	ID             [16]byte
	SenderUserID   string
	SenderDeviceID string
	ReceivedAt     time.Time
	// Digest is the SHA-256 of the request body that delivered the
	// message, which distinguishes a retry from a reused id.
	Digest     [32]byte
	Header     []byte
	Commitment []byte
	Ciphertext []byte
	Signature  []byte
	// Recipients lists the devices with an envelope, in the order the
	// sender signed them.
	Recipients []Recipient
}

// Envelope is the key envelope of one message for one device.
type Envelope struct {
	UserID   string
	DeviceID string
	Sealed   []byte
}

func seqKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

func envelopeKey(seq uint64, userID, deviceID string) []byte {
	k := make([]byte, 0, 8+len(userID)+1+len(deviceID))
	k = binary.BigEndian.AppendUint64(k, seq)
	k = append(k, userID...)
	k = append(k, 0)
	return append(k, deviceID...)
}

func deviceMarkerKey(userID, deviceID string) []byte {
	return append(append([]byte(userID), 0), deviceID...)
}

// ConversationTx returns the state of conversation id, or ErrNotFound when
// no message was ever stored in it.
func ConversationTx(tx *bolt.Tx, id string) (*Conversation, error) {
	b := tx.Bucket(BucketConversations).Bucket([]byte(id))
	if b == nil {
		return nil, fmt.Errorf("conversation %s: %w", id, ErrNotFound)
	}
	var c Conversation
	if err := json.Unmarshal(b.Get(keyConversationMeta), &c); err != nil {
		return nil, fmt.Errorf("decode conversation %s: %w", id, err)
	}
	return &c, nil
}

// Conversation returns the state of conversation id, or ErrNotFound.
func (db *DB) Conversation(id string) (*Conversation, error) {
	var c *Conversation
	err := db.bolt.View(func(tx *bolt.Tx) error {
		var err error
		c, err = ConversationTx(tx, id)
		return err
	})
	return c, err
}

func putConversation(b *bolt.Bucket, c *Conversation) error {
	raw, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("encode conversation %s: %w", c.ID, err)
	}
	return b.Put(keyConversationMeta, raw)
}

// MessageByIDTx returns the stored message with the given id, or
// ErrNotFound.
func MessageByIDTx(tx *bolt.Tx, conversationID string, id [16]byte) (*Message, error) {
	conv := tx.Bucket(BucketMessages).Bucket([]byte(conversationID))
	if conv == nil {
		return nil, fmt.Errorf("message %x: %w", id, ErrNotFound)
	}
	seq := conv.Bucket(bucketMessageIDs).Get(id[:])
	if len(seq) != 8 {
		return nil, fmt.Errorf("message %x: %w", id, ErrNotFound)
	}
	return messageTx(conv, conversationID, binary.BigEndian.Uint64(seq))
}

func messageTx(conv *bolt.Bucket, conversationID string, seq uint64) (*Message, error) {
	raw := conv.Bucket(bucketMessageRecords).Get(seqKey(seq))
	if raw == nil {
		return nil, fmt.Errorf("message %s/%d: %w", conversationID, seq, ErrNotFound)
	}
	return decodeMessage(conversationID, seq, raw)
}

// AppendMessageTx stores m and its envelopes as the next message of its
// conversation, creating the conversation's buckets on first use, and sets
// m.Seq. It fails with ErrExists when the conversation already holds a
// message with m.ID; callers look the id up first with MessageByIDTx.
func AppendMessageTx(tx *bolt.Tx, m *Message, envelopes []Envelope) error {
	state, err := tx.Bucket(BucketConversations).CreateBucketIfNotExists([]byte(m.ConversationID))
	if err != nil {
		return fmt.Errorf("create conversation %s: %w", m.ConversationID, err)
	}
	conv, err := messageBuckets(tx, m.ConversationID)
	if err != nil {
		return err
	}
	c := Conversation{ID: m.ConversationID, CreatedAt: m.ReceivedAt}
	if raw := state.Get(keyConversationMeta); raw != nil {
		if err := json.Unmarshal(raw, &c); err != nil {
			return fmt.Errorf("decode conversation %s: %w", m.ConversationID, err)
		}
	}
	ids := conv.Bucket(bucketMessageIDs)
	if ids.Get(m.ID[:]) != nil {
		return fmt.Errorf("message %x in %s: %w", m.ID, m.ConversationID, ErrExists)
	}

	c.LastSeq++
	m.Seq = c.LastSeq
	raw, err := encodeMessage(m)
	if err != nil {
		return err
	}
	if err := conv.Bucket(bucketMessageRecords).Put(seqKey(m.Seq), raw); err != nil {
		return fmt.Errorf("store message %x: %w", m.ID, err)
	}
	envs := conv.Bucket(bucketEnvelopes)
	for _, e := range envelopes {
		if err := envs.Put(envelopeKey(m.Seq, e.UserID, e.DeviceID), e.Sealed); err != nil {
			return fmt.Errorf("store envelope of message %x: %w", m.ID, err)
		}
	}
	if err := ids.Put(m.ID[:], seqKey(m.Seq)); err != nil {
		return fmt.Errorf("index message %x: %w", m.ID, err)
	}
	return putConversation(state, &c)
}

// messageBuckets returns the conversation's bucket in BucketMessages with
// its three nested buckets, creating them when missing.
func messageBuckets(tx *bolt.Tx, conversationID string) (*bolt.Bucket, error) {
	conv, err := tx.Bucket(BucketMessages).CreateBucketIfNotExists([]byte(conversationID))
	if err != nil {
		return nil, fmt.Errorf("create message bucket of %s: %w", conversationID, err)
	}
	for _, name := range [][]byte{bucketMessageRecords, bucketEnvelopes, bucketMessageIDs} {
		if _, err := conv.CreateBucketIfNotExists(name); err != nil {
			return nil, fmt.Errorf("create message bucket of %s: %w", conversationID, err)
		}
	}
	return conv, nil
}

// DeviceQuery selects the messages one device fetches from a conversation.
type DeviceQuery struct {
	ConversationID string
	UserID         string
	DeviceID       string
	// After is the cursor: only messages with a larger sequence number
	// are returned.
	After uint64
	// Limit caps the number of messages returned; it must be positive.
	Limit int
	// MaxBytes stops the page once the ciphertext returned reaches it;
	// the first message is always returned whatever its size.
	MaxBytes int
	// MaxScan caps the records examined, so a device that has no
	// envelope in a long stretch of history still gets a prompt answer
	// with a cursor past that stretch. Zero means 10*Limit.
	MaxScan int
}

// DeliveredMessage is a message as one device receives it: the record and
// only that device's envelope. The device that sent the message has no
// envelope of its own and gets every envelope it sealed instead.
type DeliveredMessage struct {
	Message   *Message
	Envelopes []Envelope
}

// DevicePage is one page of a device's fetch. Next is the cursor for the
// following request; More is true when messages after Next may exist.
type DevicePage struct {
	Messages []DeliveredMessage
	Next     uint64
	More     bool
}

// MessagesForDevice returns the messages after q.After that the device may
// read: those with an envelope for it, and those it sent itself. Messages
// sent before the device was registered are skipped, and the cursor moves
// past them.
func (db *DB) MessagesForDevice(q DeviceQuery) (DevicePage, error) {
	if q.Limit <= 0 {
		return DevicePage{}, fmt.Errorf("messages for device: limit %d must be positive", q.Limit)
	}
	if q.MaxScan <= 0 {
		q.MaxScan = 10 * q.Limit
	}
	page := DevicePage{Next: q.After}
	err := db.bolt.View(func(tx *bolt.Tx) error {
		conv := tx.Bucket(BucketMessages).Bucket([]byte(q.ConversationID))
		if conv == nil {
			return nil
		}
		envs := conv.Bucket(bucketEnvelopes)
		c := conv.Bucket(bucketMessageRecords).Cursor()
		scanned, size := 0, 0
		for k, v := c.Seek(seqKey(q.After + 1)); k != nil; k, v = c.Next() {
			if len(page.Messages) >= q.Limit || scanned >= q.MaxScan ||
				(len(page.Messages) > 0 && size >= q.MaxBytes) {
				page.More = true
				return nil
			}
			scanned++
			seq := binary.BigEndian.Uint64(k)
			page.Next = seq
			var delivered []Envelope
			if env := envs.Get(envelopeKey(seq, q.UserID, q.DeviceID)); env != nil {
				delivered = []Envelope{{UserID: q.UserID, DeviceID: q.DeviceID, Sealed: bytes.Clone(env)}}
			} else if sentBy(v, q.UserID, q.DeviceID) {
				delivered = messageEnvelopes(envs, seq)
			} else {
				continue
			}
			m, err := decodeMessage(q.ConversationID, seq, v)
			if err != nil {
				return err
			}
			size += len(m.Ciphertext)
			page.Messages = append(page.Messages, DeliveredMessage{Message: m, Envelopes: delivered})
		}
		return nil
	})
	if err != nil {
		return DevicePage{}, fmt.Errorf("messages of %s for device: %w", q.ConversationID, err)
	}
	return page, nil
}

// messageEnvelopes returns every envelope of message seq, copied.
func messageEnvelopes(envs *bolt.Bucket, seq uint64) []Envelope {
	out := []Envelope{}
	prefix := seqKey(seq)
	c := envs.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		user, device, ok := bytes.Cut(k[len(prefix):], []byte{0})
		if ok {
			out = append(out, Envelope{UserID: string(user), DeviceID: string(device), Sealed: bytes.Clone(v)})
		}
	}
	return out
}

// sentBy reports whether the encoded record names the device as sender,
// without decoding the rest of the record.
func sentBy(raw []byte, userID, deviceID string) bool {
	d := recordDecoder{b: raw}
	d.bytes(1 + 16)
	return !d.failed && d.str8() == userID && d.str8() == deviceID && !d.failed
}

// Markers are the delivery and read positions in one conversation.
type Markers struct {
	// Delivered maps a device, as Recipient, to the last sequence number
	// it confirmed receiving.
	Delivered map[Recipient]uint64
	// Read maps a user id to the last sequence number the user read.
	Read map[string]uint64
}

// MarkDelivered raises the device's delivered marker to seq and returns
// the marker's value: seq, or the higher value already stored. A seq past
// the conversation's last message fails with ErrSeqBeyondEnd.
func (db *DB) MarkDelivered(conversationID, userID, deviceID string, seq uint64) (uint64, error) {
	return db.raiseMarker(conversationID, bucketDelivered, deviceMarkerKey(userID, deviceID), seq)
}

// MarkRead raises the user's read marker, as MarkDelivered does for a
// device.
func (db *DB) MarkRead(conversationID, userID string, seq uint64) (uint64, error) {
	return db.raiseMarker(conversationID, bucketRead, []byte(userID), seq)
}

func (db *DB) raiseMarker(conversationID string, bucket, key []byte, seq uint64) (uint64, error) {
	var out uint64
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		c, err := ConversationTx(tx, conversationID)
		if errors.Is(err, ErrNotFound) {
			c = &Conversation{}
		} else if err != nil {
			return err
		}
		if seq > c.LastSeq {
			return fmt.Errorf("marker %d in %s (last %d): %w", seq, conversationID, c.LastSeq, ErrSeqBeyondEnd)
		}
		if seq == 0 {
			return nil
		}
		state := tx.Bucket(BucketConversations).Bucket([]byte(conversationID))
		b, err := state.CreateBucketIfNotExists(bucket)
		if err != nil {
			return err
		}
		out = seq
		if old := b.Get(key); len(old) == 8 && binary.BigEndian.Uint64(old) >= seq {
			out = binary.BigEndian.Uint64(old)
			return nil
		}
		return b.Put(key, seqKey(seq))
	})
	if err != nil {
		return 0, fmt.Errorf("raise marker: %w", err)
	}
	return out, nil
}

// ConversationMarkers returns the conversation's markers; both maps are
// empty for a conversation without any.
func (db *DB) ConversationMarkers(conversationID string) (Markers, error) {
	m := Markers{Delivered: map[Recipient]uint64{}, Read: map[string]uint64{}}
	err := db.bolt.View(func(tx *bolt.Tx) error {
		state := tx.Bucket(BucketConversations).Bucket([]byte(conversationID))
		if state == nil {
			return nil
		}
		if b := state.Bucket(bucketDelivered); b != nil {
			err := b.ForEach(func(k, v []byte) error {
				user, device, ok := bytes.Cut(k, []byte{0})
				if ok && len(v) == 8 {
					m.Delivered[Recipient{UserID: string(user), DeviceID: string(device)}] = binary.BigEndian.Uint64(v)
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		if b := state.Bucket(bucketRead); b != nil {
			return b.ForEach(func(k, v []byte) error {
				if len(v) == 8 {
					m.Read[string(k)] = binary.BigEndian.Uint64(v)
				}
				return nil
			})
		}
		return nil
	})
	return m, err
}
