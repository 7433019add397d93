package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"
)

// Record encoding, version 1 (docs/audit.md, "Record format"):
//
//	body   = version:u8(1) seq:u64 time:i64 prev_hash:[32]
//	         type:str actor:str target:str address:str outcome:str
//	         n:u16 n*(key:str value:str)   keys strictly ascending
//	str    = len:u16 bytes (valid UTF-8)
//	hash   = SHA-256(recordHashContext || 0x00 || body)
//	stored = body || hash
//
// Integers are big-endian, time is Unix nanoseconds in UTC.
const (
	recordVersion     = 1
	recordHashContext = "bedside audit record v1"
	// recordFixedSize is the body length before the first string.
	recordFixedSize = 1 + 8 + 8 + sha256.Size
)

// Hash is a SHA-256 record hash. It encodes as lower-case hex in JSON.
type Hash [sha256.Size]byte

// String returns the hash in lower-case hex.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// MarshalText encodes h as lower-case hex.
func (h Hash) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// UnmarshalText decodes 64 hex digits.
func (h *Hash) UnmarshalText(b []byte) error {
	if len(b) != 2*len(h) {
		return fmt.Errorf("hash must be %d hex digits, got %d", 2*len(h), len(b))
	}
	_, err := hex.Decode(h[:], b)
	return err
}

// Record is one entry of the audit log: an Event after sanitizing, with its
// place in the hash chain. Records are values; a decoded Record shares no
// memory with the database.
type Record struct {
	Seq      uint64            `json:"seq"`
	Time     time.Time         `json:"time"`
	Type     string            `json:"type"`
	ActorID  string            `json:"actor,omitempty"`
	TargetID string            `json:"target,omitempty"`
	Address  string            `json:"address,omitempty"`
	Outcome  Outcome           `json:"outcome,omitempty"`
	Detail   map[string]string `json:"detail,omitempty"`
	PrevHash Hash              `json:"prev_hash"`
	Hash     Hash              `json:"hash"`
}

// appendBody appends the canonical body encoding of r to dst. It fails only
// on a string longer than 65535 bytes or invalid UTF-8, which sanitizing
// rules out for recorded events.
func (r *Record) appendBody(dst []byte) ([]byte, error) {
	dst = append(dst, recordVersion)
	dst = binary.BigEndian.AppendUint64(dst, r.Seq)
	dst = binary.BigEndian.AppendUint64(dst, uint64(r.Time.UnixNano()))
	dst = append(dst, r.PrevHash[:]...)
	var err error
	for _, s := range []string{r.Type, r.ActorID, r.TargetID, r.Address, string(r.Outcome)} {
		if dst, err = appendString(dst, s); err != nil {
			return nil, err
		}
	}
	if len(r.Detail) > 0xffff {
		return nil, fmt.Errorf("record %d has %d detail entries, limit 65535", r.Seq, len(r.Detail))
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(r.Detail)))
	keys := make([]string, 0, len(r.Detail))
	for k := range r.Detail {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if dst, err = appendString(dst, k); err != nil {
			return nil, err
		}
		if dst, err = appendString(dst, r.Detail[k]); err != nil {
			return nil, err
		}
	}
	return dst, nil
}

func appendString(dst []byte, s string) ([]byte, error) {
	if len(s) > 0xffff {
		return nil, fmt.Errorf("string of %d bytes exceeds the record limit of 65535", len(s))
	}
	if !utf8.ValidString(s) {
		return nil, fmt.Errorf("string is not valid UTF-8")
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(s)))
	return append(dst, s...), nil
}

// hashBody returns SHA-256(recordHashContext || 0x00 || body).
func hashBody(body []byte) Hash {
	h := sha256.New()
	h.Write([]byte(recordHashContext))
	h.Write([]byte{0})
	h.Write(body)
	var out Hash
	h.Sum(out[:0])
	return out
}

// seal computes r.Hash from the other fields and returns the stored
// encoding, body || hash.
func (r *Record) seal() ([]byte, error) {
	body, err := r.appendBody(make([]byte, 0, 256))
	if err != nil {
		return nil, err
	}
	r.Hash = hashBody(body)
	return append(body, r.Hash[:]...), nil
}

// decodeRecord parses a stored record. It checks the encoding only: the
// stored hash is returned in Hash, and computed is the hash of the body as
// stored, so the caller decides what a mismatch means. The result shares
// no memory with b.
func decodeRecord(b []byte) (r Record, computed Hash, err error) {
	if len(b) < recordFixedSize+5*2+2+sha256.Size {
		return Record{}, Hash{}, fmt.Errorf("%w: %d bytes is too short", ErrMalformedRecord, len(b))
	}
	body, stored := b[:len(b)-sha256.Size], b[len(b)-sha256.Size:]
	if body[0] != recordVersion {
		return Record{}, Hash{}, fmt.Errorf("%w: unknown version %d", ErrMalformedRecord, body[0])
	}
	r.Seq = binary.BigEndian.Uint64(body[1:9])
	r.Time = time.Unix(0, int64(binary.BigEndian.Uint64(body[9:17]))).UTC()
	copy(r.PrevHash[:], body[17:recordFixedSize])
	copy(r.Hash[:], stored)

	d := decoder{buf: body[recordFixedSize:]}
	r.Type = d.string()
	r.ActorID = d.string()
	r.TargetID = d.string()
	r.Address = d.string()
	r.Outcome = Outcome(d.string())
	n := d.uint16()
	if n > 0 {
		r.Detail = make(map[string]string, min(int(n), 64))
	}
	prev := ""
	for i := 0; i < int(n) && d.err == nil; i++ {
		k, v := d.string(), d.string()
		if d.err == nil && i > 0 && k <= prev {
			d.err = fmt.Errorf("detail key %q does not sort after %q", k, prev)
		}
		r.Detail[k], prev = v, k
	}
	if d.err == nil && len(d.buf) != 0 {
		d.err = fmt.Errorf("%d bytes after the last detail entry", len(d.buf))
	}
	if d.err != nil {
		return Record{}, Hash{}, fmt.Errorf("%w: record %d: %v", ErrMalformedRecord, r.Seq, d.err)
	}
	return r, hashBody(body), nil
}

// decoder reads length-prefixed fields; the first error sticks and later
// reads return zero values.
type decoder struct {
	buf []byte
	err error
}

func (d *decoder) uint16() uint16 {
	if d.err != nil {
		return 0
	}
	if len(d.buf) < 2 {
		d.err = fmt.Errorf("truncated length field")
		return 0
	}
	v := binary.BigEndian.Uint16(d.buf)
	d.buf = d.buf[2:]
	return v
}

func (d *decoder) string() string {
	n := int(d.uint16())
	if d.err != nil {
		return ""
	}
	if len(d.buf) < n {
		d.err = fmt.Errorf("string of %d bytes runs past the end", n)
		return ""
	}
	s := d.buf[:n]
	d.buf = d.buf[n:]
	if !utf8.Valid(s) {
		d.err = fmt.Errorf("string is not valid UTF-8")
		return ""
	}
	return string(s)
}

// MarshalJSON writes the record with its time in RFC 3339 UTC with
// nanoseconds, which keeps every bit of the hashed time.
func (r Record) MarshalJSON() ([]byte, error) {
	type plain Record
	p := plain(r)
	p.Time = p.Time.UTC()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(p); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}
