package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// errMessageRecord reports a stored message record that does not decode.
var errMessageRecord = errors.New("malformed message record")

// messageRecordVersion is the first byte of every stored message record.
//
// Record layout, version 1 (integers big-endian):
//
//	u8 version || 16 message id || str8 sender user id || str8 sender device id ||
//	i64 received (unix ns) || 32 digest || u32 len || header ||
//	u32 len || commitment || u32 len || ciphertext || u32 len || signature ||
//	u16 count || count x (str8 user id || str8 device id)
//
// The ciphertext is the largest field; a binary layout stores it without
// the third that base64 in JSON would add.
const messageRecordVersion = 1

func encodeMessage(m *Message) ([]byte, error) {
	if len(m.SenderUserID) > 255 || len(m.SenderDeviceID) > 255 {
		return nil, fmt.Errorf("encode message %x: sender id longer than 255 bytes", m.ID)
	}
	size := 1 + 16 + 2 + len(m.SenderUserID) + len(m.SenderDeviceID) + 8 + 32 +
		16 + len(m.Header) + len(m.Commitment) + len(m.Ciphertext) + len(m.Signature) + 2
	for _, r := range m.Recipients {
		size += 2 + len(r.UserID) + len(r.DeviceID)
	}
	b := make([]byte, 0, size)
	b = append(b, messageRecordVersion)
	b = append(b, m.ID[:]...)
	b = appendStr8(b, m.SenderUserID)
	b = appendStr8(b, m.SenderDeviceID)
	b = binary.BigEndian.AppendUint64(b, uint64(m.ReceivedAt.UnixNano()))
	b = append(b, m.Digest[:]...)
	for _, field := range [][]byte{m.Header, m.Commitment, m.Ciphertext, m.Signature} {
		b = binary.BigEndian.AppendUint32(b, uint32(len(field)))
		b = append(b, field...)
	}
	if len(m.Recipients) > 0xffff {
		return nil, fmt.Errorf("encode message %x: %d recipients", m.ID, len(m.Recipients))
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(m.Recipients)))
	for _, r := range m.Recipients {
		if len(r.UserID) > 255 || len(r.DeviceID) > 255 {
			return nil, fmt.Errorf("encode message %x: recipient id longer than 255 bytes", m.ID)
		}
		b = appendStr8(b, r.UserID)
		b = appendStr8(b, r.DeviceID)
	}
	return b, nil
}

func appendStr8(b []byte, s string) []byte {
	b = append(b, byte(len(s)))
	return append(b, s...)
}

// decodeMessage decodes a stored record. The byte slices of the result are
// copies: bbolt's memory is valid only inside the transaction.
func decodeMessage(conversationID string, seq uint64, raw []byte) (*Message, error) {
	d := recordDecoder{b: raw}
	if v := d.u8(); !d.failed && v != messageRecordVersion {
		return nil, fmt.Errorf("message %s/%d: version %d: %w", conversationID, seq, v, errMessageRecord)
	}
	m := &Message{ConversationID: conversationID, Seq: seq}
	copy(m.ID[:], d.bytes(16))
	m.SenderUserID = d.str8()
	m.SenderDeviceID = d.str8()
	m.ReceivedAt = time.Unix(0, int64(d.u64())).UTC()
	copy(m.Digest[:], d.bytes(32))
	m.Header = d.field()
	m.Commitment = d.field()
	m.Ciphertext = d.field()
	m.Signature = d.field()
	n := int(d.u16())
	for i := 0; i < n && !d.failed; i++ {
		m.Recipients = append(m.Recipients, Recipient{UserID: d.str8(), DeviceID: d.str8()})
	}
	if d.failed || len(d.b) != 0 {
		return nil, fmt.Errorf("message %s/%d: %w", conversationID, seq, errMessageRecord)
	}
	return m, nil
}

// recordDecoder reads what encodeMessage writes. After the first short
// read failed stays true and every read returns a zero value.
type recordDecoder struct {
	b      []byte
	failed bool
}

func (d *recordDecoder) bytes(n int) []byte {
	if d.failed || n < 0 || len(d.b) < n {
		d.failed = true
		return nil
	}
	out := make([]byte, n)
	copy(out, d.b)
	d.b = d.b[n:]
	return out
}

func (d *recordDecoder) u8() uint8 {
	p := d.bytes(1)
	if p == nil {
		return 0
	}
	return p[0]
}

func (d *recordDecoder) u16() uint16 {
	p := d.bytes(2)
	if p == nil {
		return 0
	}
	return binary.BigEndian.Uint16(p)
}

func (d *recordDecoder) u64() uint64 {
	p := d.bytes(8)
	if p == nil {
		return 0
	}
	return binary.BigEndian.Uint64(p)
}

func (d *recordDecoder) str8() string {
	return string(d.bytes(int(d.u8())))
}

func (d *recordDecoder) field() []byte {
	n := d.bytes(4)
	if n == nil {
		return nil
	}
	return d.bytes(int(binary.BigEndian.Uint32(n)))
}
