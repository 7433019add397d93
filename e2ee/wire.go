package e2ee

import (
	"encoding/binary"
	"fmt"
)

// Domain-separation labels. Each value is the exact ASCII string that
// docs/e2ee.md specifies; each constant is used in one place only.
const (
	// LabelDeviceCertificate prefixes the bytes an identity key signs to
	// certify a device.
	LabelDeviceCertificate = "bedside-e2ee-v1 device certificate"
	// LabelDeviceList prefixes the bytes an identity key signs to publish a
	// user's device list.
	LabelDeviceList = "bedside-e2ee-v1 device list"
	// LabelMessageSignature prefixes the bytes a sender device signs for a
	// sealed message.
	LabelMessageSignature = "bedside-e2ee-v1 message signature"
	// LabelEnvelope starts the HPKE info string of a key envelope.
	LabelEnvelope = "bedside-e2ee-v1 envelope"
	// LabelMessageKey is the HKDF info that derives the AES-256-GCM key of a
	// message from its content key.
	LabelMessageKey = "bedside-e2ee-v1 message key"
	// LabelKeyCommitment is the HKDF info that derives the key commitment of a
	// message from its content key.
	LabelKeyCommitment = "bedside-e2ee-v1 key commitment"
	// LabelAttachmentKey is the HKDF info that derives the chunk key of an
	// attachment stream from its attachment key.
	LabelAttachmentKey = "bedside-e2ee-v1 attachment key"
	// LabelSafetyNumber prefixes the hash input of a user's fingerprint.
	LabelSafetyNumber = "bedside-e2ee-v1 safety number"
)

// Version is the only format version this package reads and writes. It is the
// first byte of every versioned structure.
const Version = 1

// MaxSafeInteger bounds every 64-bit integer on the wire (2^53-1), so that
// JavaScript numbers represent them exactly.
const MaxSafeInteger = 1<<53 - 1

// MaxIDLength is the maximum length in bytes of a user, device, conversation
// or attachment identifier.
const MaxIDLength = 64

// validID reports whether s is a well-formed identifier: 1 to MaxIDLength
// bytes of ASCII letters, digits, '-', '_', '.' or ':'.
func validID(s string) bool {
	if len(s) == 0 || len(s) > MaxIDLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '-', c == '_', c == '.', c == ':':
		default:
			return false
		}
	}
	return true
}

func checkID(what, s string) error {
	if !validID(s) {
		return fmt.Errorf("%s %q: %w", what, truncateForError(s), ErrInvalidID)
	}
	return nil
}

// truncateForError keeps error messages short when an identifier is huge.
func truncateForError(s string) string {
	if len(s) > MaxIDLength {
		return s[:MaxIDLength] + "..."
	}
	return s
}

// signedBytes returns label || 0x00 || body, the byte string that every
// Ed25519 signature in this package covers.
func signedBytes(label string, body []byte) []byte {
	out := make([]byte, 0, len(label)+1+len(body))
	out = append(out, label...)
	out = append(out, 0)
	return append(out, body...)
}

// encoder appends big-endian, length-prefixed fields to a byte slice.
type encoder struct {
	b []byte
}

func (e *encoder) u8(v uint8)   { e.b = append(e.b, v) }
func (e *encoder) u16(v uint16) { e.b = binary.BigEndian.AppendUint16(e.b, v) }
func (e *encoder) u32(v uint32) { e.b = binary.BigEndian.AppendUint32(e.b, v) }
func (e *encoder) u64(v uint64) { e.b = binary.BigEndian.AppendUint64(e.b, v) }
func (e *encoder) raw(p []byte) { e.b = append(e.b, p...) }

// str8 writes a string with a one-byte length prefix. Callers validate the
// length first.
func (e *encoder) str8(s string) {
	e.u8(uint8(len(s)))
	e.b = append(e.b, s...)
}

// decoder reads the fields that encoder writes. The first failure sticks:
// later reads return zero values and err keeps the first error.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf(format+": %w", append(args, ErrMalformed)...)
	}
}

func (d *decoder) read(n int, what string) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || len(d.b) < n {
		d.fail("truncated %s: need %d bytes, have %d", what, n, len(d.b))
		return nil
	}
	p := d.b[:n:n]
	d.b = d.b[n:]
	return p
}

func (d *decoder) u8(what string) uint8 {
	p := d.read(1, what)
	if p == nil {
		return 0
	}
	return p[0]
}

func (d *decoder) u16(what string) uint16 {
	p := d.read(2, what)
	if p == nil {
		return 0
	}
	return binary.BigEndian.Uint16(p)
}

func (d *decoder) u32(what string) uint32 {
	p := d.read(4, what)
	if p == nil {
		return 0
	}
	return binary.BigEndian.Uint32(p)
}

// u64 reads a 64-bit integer and rejects values above MaxSafeInteger.
func (d *decoder) u64(what string) uint64 {
	p := d.read(8, what)
	if p == nil {
		return 0
	}
	v := binary.BigEndian.Uint64(p)
	if v > MaxSafeInteger {
		d.fail("%s %d exceeds 2^53-1", what, v)
		return 0
	}
	return v
}

func (d *decoder) str8(what string) string {
	n := d.u8(what + " length")
	return string(d.read(int(n), what))
}

// id reads a one-byte-length-prefixed identifier and validates it.
func (d *decoder) id(what string) string {
	s := d.str8(what)
	if d.err == nil && !validID(s) {
		d.err = fmt.Errorf("%s %q: %w", what, s, ErrInvalidID)
	}
	return s
}

// finish returns the first error, or ErrMalformed if bytes remain.
func (d *decoder) finish(what string) error {
	if d.err != nil {
		return d.err
	}
	if len(d.b) != 0 {
		return fmt.Errorf("%d trailing bytes after %s: %w", len(d.b), what, ErrMalformed)
	}
	return nil
}
