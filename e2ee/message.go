package e2ee

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"
)

// ContentType identifies the format of a message's plaintext.
type ContentType uint8

// Content types. Any other value is rejected.
const (
	// ContentMessage is a Payload: text and attachment references.
	ContentMessage ContentType = 1
)

// MessageID is the random 128-bit id of a message. It makes retries
// idempotent and lets recipients reject replays.
type MessageID [16]byte

// String returns the id in lower-case hex.
func (id MessageID) String() string { return hex.EncodeToString(id[:]) }

// ParseMessageID decodes 32 hex digits.
func ParseMessageID(s string) (MessageID, error) {
	var id MessageID
	if len(s) != 2*len(id) {
		return id, fmt.Errorf("message id %q: want 32 hex digits: %w", truncateForError(s), ErrMalformed)
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, fmt.Errorf("message id %q: %w", truncateForError(s), ErrMalformed)
	}
	return id, nil
}

// Header is the cleartext header of a sealed message. Its encoding is the
// associated data of the content encryption and part of the signed bytes.
type Header struct {
	Version        uint8
	ContentType    ContentType
	MessageID      MessageID
	ConversationID string
	SenderUserID   string
	SenderDeviceID string
	Time           time.Time // millisecond precision, UTC
}

// Sender returns the sending device of the header.
func (h *Header) Sender() DeviceRef {
	return DeviceRef{UserID: h.SenderUserID, DeviceID: h.SenderDeviceID}
}

// maxHeaderSize bounds an encoded header.
const maxHeaderSize = 1 + 1 + 16 + 3*(1+MaxIDLength) + 8

// marshal encodes the header:
//
//	u8 version || u8 content type || 16 message id || str8 conversation id ||
//	str8 sender user id || str8 sender device id || u64 time (unix ms)
func (h *Header) marshal() ([]byte, error) {
	if err := h.validate(); err != nil {
		return nil, err
	}
	ms, err := unixMilli("message time", h.Time)
	if err != nil {
		return nil, err
	}
	e := encoder{b: make([]byte, 0, maxHeaderSize)}
	e.u8(h.Version)
	e.u8(uint8(h.ContentType))
	e.raw(h.MessageID[:])
	e.str8(h.ConversationID)
	e.str8(h.SenderUserID)
	e.str8(h.SenderDeviceID)
	e.u64(ms)
	return e.b, nil
}

func (h *Header) validate() error {
	if h.Version != Version {
		return fmt.Errorf("header version %d: %w", h.Version, ErrUnsupportedVersion)
	}
	if h.ContentType != ContentMessage {
		return fmt.Errorf("content type %d: %w", h.ContentType, ErrInvalidContentType)
	}
	if err := checkID("conversation id", h.ConversationID); err != nil {
		return err
	}
	if err := checkID("sender user id", h.SenderUserID); err != nil {
		return err
	}
	return checkID("sender device id", h.SenderDeviceID)
}

func parseHeader(b []byte) (Header, error) {
	var h Header
	d := decoder{b: b}
	h.Version = d.u8("header version")
	if d.err == nil && h.Version != Version {
		return h, fmt.Errorf("header version %d: %w", h.Version, ErrUnsupportedVersion)
	}
	h.ContentType = ContentType(d.u8("content type"))
	if d.err == nil && h.ContentType != ContentMessage {
		return h, fmt.Errorf("content type %d: %w", h.ContentType, ErrInvalidContentType)
	}
	copy(h.MessageID[:], d.read(len(h.MessageID), "message id"))
	h.ConversationID = d.id("conversation id")
	h.SenderUserID = d.id("sender user id")
	h.SenderDeviceID = d.id("sender device id")
	ms := d.u64("message time")
	if err := d.finish("header"); err != nil {
		return h, err
	}
	h.Time = time.UnixMilli(int64(ms)).UTC()
	return h, nil
}

// Sizes of the fixed parts of a sealed message.
const (
	CommitmentSize       = 32
	contentKeySize       = 32
	aeadTagSize          = 16
	envelopeEncSize      = 32                           // X25519 enc
	envelopeCipherSize   = contentKeySize + aeadTagSize // sealed content key
	MaxRecipients        = 256
	minMessageCiphertext = MinPaddedSize + aeadTagSize
)

// MaxSealedSize bounds the wire form of a sealed message. The messaging
// server can reject larger frames before parsing.
const MaxSealedSize = 2 + maxHeaderSize + CommitmentSize + 4 + MaxPaddedSize + aeadTagSize + 2 +
	MaxRecipients*(2+2*MaxIDLength+envelopeEncSize+envelopeCipherSize) + SignatureSize

// Envelope is the HPKE-sealed content key for one recipient device.
type Envelope struct {
	Recipient  DeviceRef
	Enc        []byte // 32-byte HPKE encapsulated key
	Ciphertext []byte // 48-byte HPKE ciphertext of the content key
}

// SealedMessage is the parsed wire form of a message. ParseSealed validates
// its structure; VerifySignature and Open check its cryptography. Byte slices
// alias the parsed input; fields are read-only.
type SealedMessage struct {
	Header      Header
	HeaderBytes []byte // exact encoded header
	Commitment  []byte // 32-byte key commitment
	Ciphertext  []byte // AES-256-GCM output over the padded payload
	Envelopes   []Envelope
	Signature   []byte // 64-byte Ed25519 signature of the sender device
}

// Marshal encodes m:
//
//	u16 header length || header || 32 key commitment ||
//	u32 ciphertext length || ciphertext ||
//	u16 envelope count || count x (str8 user id || str8 device id || 32 enc || 48 ciphertext) ||
//	64 signature
func (m *SealedMessage) Marshal() []byte {
	size := 2 + len(m.HeaderBytes) + CommitmentSize + 4 + len(m.Ciphertext) + 2 + SignatureSize
	for _, env := range m.Envelopes {
		size += 2 + len(env.Recipient.UserID) + len(env.Recipient.DeviceID) + len(env.Enc) + len(env.Ciphertext)
	}
	e := encoder{b: make([]byte, 0, size)}
	e.u16(uint16(len(m.HeaderBytes)))
	e.raw(m.HeaderBytes)
	e.raw(m.Commitment)
	e.u32(uint32(len(m.Ciphertext)))
	e.raw(m.Ciphertext)
	e.u16(uint16(len(m.Envelopes)))
	for _, env := range m.Envelopes {
		e.str8(env.Recipient.UserID)
		e.str8(env.Recipient.DeviceID)
		e.raw(env.Enc)
		e.raw(env.Ciphertext)
	}
	e.raw(m.Signature)
	return e.b
}

// ParseSealed decodes the wire form of a sealed message and validates
// everything that needs no key. It checks sizes, the format version and the
// header fields. The ciphertext length must be a padded size plus the tag,
// and there must be 1 to MaxRecipients envelopes in strictly ascending
// (user id, device id) order. The server and the recipients both call it
// first. The result aliases b.
func ParseSealed(b []byte) (*SealedMessage, error) {
	if len(b) > MaxSealedSize {
		return nil, fmt.Errorf("sealed message of %d bytes exceeds %d: %w", len(b), MaxSealedSize, ErrMalformed)
	}
	d := decoder{b: b}
	m := &SealedMessage{}
	hlen := int(d.u16("header length"))
	if d.err == nil && hlen > maxHeaderSize {
		return nil, fmt.Errorf("header of %d bytes: %w", hlen, ErrMalformed)
	}
	m.HeaderBytes = d.read(hlen, "header")
	if d.err != nil {
		return nil, fmt.Errorf("parse sealed message: %w", d.err)
	}
	h, err := parseHeader(m.HeaderBytes)
	if err != nil {
		return nil, fmt.Errorf("parse sealed message: %w", err)
	}
	m.Header = h

	m.Commitment = d.read(CommitmentSize, "key commitment")
	clen := int(d.u32("ciphertext length"))
	if d.err == nil && (clen < minMessageCiphertext || !ValidPaddedSize(clen-aeadTagSize)) {
		return nil, fmt.Errorf("ciphertext of %d bytes: %w", clen, ErrInvalidSize)
	}
	m.Ciphertext = d.read(clen, "ciphertext")

	if err := m.parseEnvelopes(&d); err != nil {
		return nil, fmt.Errorf("parse sealed message: %w", err)
	}
	m.Signature = d.read(SignatureSize, "signature")
	if err := d.finish("sealed message"); err != nil {
		return nil, fmt.Errorf("parse sealed message: %w", err)
	}
	return m, nil
}

func (m *SealedMessage) parseEnvelopes(d *decoder) error {
	count := int(d.u16("envelope count"))
	if d.err == nil && (count == 0 || count > MaxRecipients) {
		return fmt.Errorf("%d envelopes: %w", count, ErrInvalidRecipients)
	}
	m.Envelopes = make([]Envelope, 0, min(count, MaxRecipients))
	for i := 0; i < count && d.err == nil; i++ {
		var env Envelope
		env.Recipient.UserID = d.id("recipient user id")
		env.Recipient.DeviceID = d.id("recipient device id")
		env.Enc = d.read(envelopeEncSize, "envelope enc")
		env.Ciphertext = d.read(envelopeCipherSize, "envelope ciphertext")
		if d.err != nil {
			break
		}
		if i > 0 && m.Envelopes[i-1].Recipient.compare(env.Recipient) >= 0 {
			return fmt.Errorf("recipient %s duplicated or out of order: %w", env.Recipient, ErrInvalidRecipients)
		}
		m.Envelopes = append(m.Envelopes, env)
	}
	return d.err
}

// Recipients returns the devices that have an envelope, in wire order. The
// signature covers exactly this list.
func (m *SealedMessage) Recipients() []DeviceRef {
	out := make([]DeviceRef, len(m.Envelopes))
	for i, env := range m.Envelopes {
		out[i] = env.Recipient
	}
	return out
}

// signedMessageBytes returns the bytes the sender device signs:
//
//	label || 0x00 || u16 header length || header || SHA-256(ciphertext) ||
//	32 key commitment || u16 count || count x (str8 user id || str8 device id)
func signedMessageBytes(headerBytes, commitment, ciphertext []byte, recipients []DeviceRef) []byte {
	digest := sha256.Sum256(ciphertext)
	e := encoder{b: make([]byte, 0, 2+len(headerBytes)+64+2+len(recipients)*(2+2*MaxIDLength))}
	e.u16(uint16(len(headerBytes)))
	e.raw(headerBytes)
	e.raw(digest[:])
	e.raw(commitment)
	e.u16(uint16(len(recipients)))
	for _, r := range recipients {
		e.str8(r.UserID)
		e.str8(r.DeviceID)
	}
	return signedBytes(LabelMessageSignature, e.b)
}
