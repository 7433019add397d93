package e2ee

import (
	"fmt"
	"unicode/utf8"
)

// Payload limits.
const (
	MaxAttachments       = 16
	MaxAttachmentName    = 255 // bytes of UTF-8
	MaxMediaTypeLength   = 127
	attachmentDigestSize = 32
)

// Payload is the plaintext of a ContentMessage: text and references to
// attachments stored separately as encrypted streams.
type Payload struct {
	Text        string // UTF-8
	Attachments []AttachmentRef
}

// AttachmentRef carries what a recipient needs to fetch and decrypt one
// attachment. It travels only inside an encrypted message, because Key
// decrypts the attachment.
type AttachmentRef struct {
	ID        string        // server-side blob id, an identifier
	Name      string        // file name shown to the user, 1 to 255 bytes of UTF-8
	MediaType string        // for example "image/jpeg", 1 to 127 printable ASCII bytes
	Size      int64         // plaintext size in bytes
	Key       AttachmentKey // attachment key
	Digest    [32]byte      // SHA-256 of the whole encrypted stream
}

func (a *AttachmentRef) validate() error {
	if err := checkID("attachment id", a.ID); err != nil {
		return fmt.Errorf("%w (%w)", ErrPayload, err)
	}
	if len(a.Name) == 0 || len(a.Name) > MaxAttachmentName || !utf8.ValidString(a.Name) {
		return fmt.Errorf("attachment %s: name of %d bytes: %w", a.ID, len(a.Name), ErrPayload)
	}
	if len(a.MediaType) == 0 || len(a.MediaType) > MaxMediaTypeLength || !printableASCII(a.MediaType) {
		return fmt.Errorf("attachment %s: media type %q: %w", a.ID, a.MediaType, ErrPayload)
	}
	if a.Size < 0 || a.Size > MaxAttachmentSize {
		return fmt.Errorf("attachment %s: size %d: %w", a.ID, a.Size, ErrPayload)
	}
	return nil
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// MarshalBinary encodes p:
//
//	u8 version || u32 text length || text ||
//	u8 attachment count || count x (str8 id || u16 name length || name ||
//	str8 media type || u64 size || 32 key || 32 digest)
func (p *Payload) MarshalBinary() ([]byte, error) {
	if !utf8.ValidString(p.Text) {
		return nil, fmt.Errorf("payload text is not UTF-8: %w", ErrPayload)
	}
	if len(p.Attachments) > MaxAttachments {
		return nil, fmt.Errorf("%d attachments exceed %d: %w", len(p.Attachments), MaxAttachments, ErrPayload)
	}
	var e encoder
	e.u8(Version)
	e.u32(uint32(len(p.Text)))
	e.raw([]byte(p.Text))
	e.u8(uint8(len(p.Attachments)))
	for i := range p.Attachments {
		a := &p.Attachments[i]
		if err := a.validate(); err != nil {
			return nil, err
		}
		e.str8(a.ID)
		e.u16(uint16(len(a.Name)))
		e.raw([]byte(a.Name))
		e.str8(a.MediaType)
		e.u64(uint64(a.Size))
		e.raw(a.Key[:])
		e.raw(a.Digest[:])
	}
	if len(e.b) > MaxPayloadSize {
		return nil, fmt.Errorf("payload of %d bytes exceeds %d: %w", len(e.b), MaxPayloadSize, ErrPayload)
	}
	return e.b, nil
}

// ParsePayload decodes the plaintext of a ContentMessage. Any structural
// error, invalid UTF-8 or field outside its limits is ErrPayload.
func ParsePayload(b []byte) (*Payload, error) {
	p, err := parsePayload(b)
	if err != nil {
		return nil, fmt.Errorf("parse payload: %w (%w)", ErrPayload, err)
	}
	return p, nil
}

func parsePayload(b []byte) (*Payload, error) {
	if len(b) > MaxPayloadSize {
		return nil, fmt.Errorf("payload of %d bytes", len(b))
	}
	d := decoder{b: b}
	if v := d.u8("payload version"); d.err == nil && v != Version {
		return nil, fmt.Errorf("payload version %d: %w", v, ErrUnsupportedVersion)
	}
	p := &Payload{}
	textLen := int(d.u32("text length"))
	p.Text = string(d.read(textLen, "text"))
	count := int(d.u8("attachment count"))
	if d.err == nil && count > MaxAttachments {
		return nil, fmt.Errorf("%d attachments", count)
	}
	for i := 0; i < count && d.err == nil; i++ {
		var a AttachmentRef
		a.ID = d.str8("attachment id")
		a.Name = string(d.read(int(d.u16("attachment name length")), "attachment name"))
		a.MediaType = d.str8("attachment media type")
		a.Size = int64(d.u64("attachment size"))
		copy(a.Key[:], d.read(len(a.Key), "attachment key"))
		copy(a.Digest[:], d.read(len(a.Digest), "attachment digest"))
		if d.err != nil {
			break
		}
		if err := a.validate(); err != nil {
			return nil, err
		}
		p.Attachments = append(p.Attachments, a)
	}
	if err := d.finish("payload"); err != nil {
		return nil, err
	}
	if !utf8.ValidString(p.Text) {
		return nil, fmt.Errorf("text is not UTF-8")
	}
	return p, nil
}
