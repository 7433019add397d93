package vectors

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"

	"github.com/bedside-health/bedside/e2ee"
)

// AttachmentsFile is the layout of attachments.json. The plaintext of an
// accepted stream of n bytes is byte i = i mod 251 for i in [0, n).
type AttachmentsFile struct {
	Note      string             `json:"note"`
	ChunkSize int                `json:"chunk_size"`
	Vectors   []AttachmentVector `json:"vectors"`
}

// AttachmentVector is one stream, given whole (Stream) or as Segments: byte
// ranges of earlier vectors' streams and literal bytes, concatenated.
type AttachmentVector struct {
	Name          string    `json:"name"`
	Rule          string    `json:"rule"`
	Description   string    `json:"description"`
	Key           Hex       `json:"key"`
	Digest        Hex       `json:"digest"`
	Expect        string    `json:"expect"`
	PlaintextSize int       `json:"plaintext_size,omitempty"`
	Stream        Hex       `json:"stream,omitempty"`
	Segments      []Segment `json:"segments,omitempty"`
}

// Segment is either bytes [From, To) of the stream of vector Base, or the
// literal bytes Bytes. In JSON it is {"base", "from", "to"} or {"bytes"}.
type Segment struct {
	Base  string `json:"base,omitempty"`
	From  int    `json:"from"`
	To    int    `json:"to"`
	Bytes Hex    `json:"bytes"`
}

// MarshalJSON writes only the fields of the segment's kind.
func (s Segment) MarshalJSON() ([]byte, error) {
	if s.Base == "" {
		return json.Marshal(struct {
			Bytes Hex `json:"bytes"`
		}{s.Bytes})
	}
	return json.Marshal(struct {
		Base string `json:"base"`
		From int    `json:"from"`
		To   int    `json:"to"`
	}{s.Base, s.From, s.To})
}

// PatternPlaintext returns n bytes of the plaintext pattern i mod 251.
func PatternPlaintext(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i % 251)
	}
	return b
}

func attachmentKey() e2ee.AttachmentKey {
	var k e2ee.AttachmentKey
	copy(k[:], mustRead(stream("attachment/key"), 32))
	return k
}

func encryptPattern(key e2ee.AttachmentKey, n int) ([]byte, [32]byte, error) {
	var out bytes.Buffer
	size, digest, err := e2ee.EncryptAttachment(&out, bytes.NewReader(PatternPlaintext(n)), key)
	if err != nil {
		return nil, digest, err
	}
	if size != int64(n) || int64(out.Len()) != e2ee.AttachmentCiphertextSize(int64(n)) {
		return nil, digest, fmt.Errorf("stream of %d bytes for %d plaintext bytes", out.Len(), n)
	}
	if sha256.Sum256(out.Bytes()) != digest {
		return nil, digest, fmt.Errorf("digest of %d-byte stream differs from the writer's", n)
	}
	return out.Bytes(), digest, nil
}

const threeChunks = 2*e2ee.AttachmentChunkSize + 1000

// referencedAttachment returns the reference that messages.json
// ok_attachment_reference carries: the ok_three_chunks stream.
func referencedAttachment() (e2ee.AttachmentRef, error) {
	key := attachmentKey()
	_, digest, err := encryptPattern(key, threeChunks)
	if err != nil {
		return e2ee.AttachmentRef{}, err
	}
	return e2ee.AttachmentRef{
		ID: "a-rash-photo", Name: "rash.jpg", MediaType: "image/jpeg",
		Size: threeChunks, Key: key, Digest: digest,
	}, nil
}

func buildAttachments(*keySet) (any, error) {
	key := attachmentKey()
	f := AttachmentsFile{Note: generatorNote, ChunkSize: e2ee.AttachmentChunkSize}
	digests := map[string][32]byte{}
	for _, base := range []struct {
		name, desc string
		size       int
	}{
		{"ok_empty", "an empty attachment is one empty final chunk", 0},
		{"ok_small", "1000 bytes in one final chunk", 1000},
		{"ok_exact_chunk", "exactly one chunk size: the only chunk is full and final", e2ee.AttachmentChunkSize},
		{"ok_three_chunks", "two full chunks and a final chunk of 1000 bytes", threeChunks},
	} {
		s, digest, err := encryptPattern(key, base.size)
		if err != nil {
			return nil, err
		}
		digests[base.name] = digest
		f.Vectors = append(f.Vectors, AttachmentVector{
			Name: base.name, Rule: "accept", Description: base.desc, Key: key[:], Digest: digest[:],
			Expect: "ok", PlaintextSize: base.size, Stream: s,
		})
	}

	streams := map[string][]byte{}
	for _, v := range f.Vectors {
		streams[v.Name] = v.Stream
	}
	const enc = e2ee.AttachmentChunkSize + 16
	c0, c1, c2 := 4, 4+enc, 4+2*enc // chunk offsets in ok_three_chunks
	end := c2 + 1000 + 16
	three := digests["ok_three_chunks"]
	seg := func(from, to int) Segment { return Segment{Base: "ok_three_chunks", From: from, To: to} }
	otherKey := mustRead(stream("attachment/other key"), 32)
	type reject struct {
		name, desc, expect string
		key                []byte
		digest             [32]byte
		segments           []Segment
	}
	rejects := []reject{
		{"reject_truncated_at_chunk_boundary", "the final chunk is missing", "attachment_truncated",
			key[:], three, []Segment{seg(0, c2)}},
		{"reject_truncated_mid_chunk", "the last 10 bytes are missing", "attachment_chunk_failed",
			key[:], three, []Segment{seg(0, end-10)}},
		{"reject_header_only", "the stream stops after the header", "attachment_truncated",
			key[:], three, []Segment{seg(0, c0)}},
		{"reject_empty_stream", "no bytes at all", "attachment_truncated",
			key[:], three, []Segment{{Bytes: Hex{}}}},
		{"reject_chunks_reordered", "chunks 0 and 1 are swapped", "attachment_chunk_failed",
			key[:], three, []Segment{seg(0, c0), seg(c1, c2), seg(c0, c1), seg(c2, end)}},
		{"reject_chunk_dropped", "chunk 1 is missing", "attachment_chunk_failed",
			key[:], three, []Segment{seg(0, c1), seg(c2, end)}},
		{"reject_chunk_duplicated", "chunk 0 appears twice", "attachment_chunk_failed",
			key[:], three, []Segment{seg(0, c1), seg(c0, end)}},
		{"reject_chunk_bit_flip", "one bit of chunk 1 is flipped", "attachment_chunk_failed",
			key[:], three, []Segment{seg(0, c1+100), {Bytes: Hex{streams["ok_three_chunks"][c1+100] ^ 0x01}}, seg(c1+101, end)}},
		{"reject_extended_after_full_final", "16 bytes follow a full final chunk", "attachment_trailing_data",
			key[:], digests["ok_exact_chunk"], []Segment{{Base: "ok_exact_chunk", From: 0, To: 4 + enc},
				{Bytes: bytes.Repeat([]byte{0xab}, 16)}}},
		{"reject_extended_after_short_final", "one byte follows a short final chunk", "attachment_chunk_failed",
			key[:], digests["ok_small"], []Segment{{Base: "ok_small", From: 0, To: 4 + 1016}, {Bytes: Hex{0}}}},
		{"reject_bad_header", "the header version byte is 2", "attachment_bad_header",
			key[:], three, []Segment{{Bytes: Hex{'B', 'S', 'A', 2}}, seg(c0, end)}},
		{"reject_wrong_digest", "the reference carries the digest of another stream", "attachment_digest_mismatch",
			key[:], digests["ok_empty"], []Segment{{Base: "ok_small", From: 0, To: 4 + 1016}}},
		{"reject_wrong_key", "decrypted with another key", "attachment_chunk_failed",
			otherKey, digests["ok_small"], []Segment{{Base: "ok_small", From: 0, To: 4 + 1016}}},
	}
	for _, r := range rejects {
		f.Vectors = append(f.Vectors, AttachmentVector{
			Name: r.name, Rule: "R18", Description: r.desc, Key: r.key, Digest: r.digest[:],
			Expect: r.expect, Segments: r.segments,
		})
	}
	return f, nil
}

// AssembleSegments concatenates segments using the streams of earlier
// vectors.
func AssembleSegments(segments []Segment, streams map[string][]byte) ([]byte, error) {
	var out []byte
	for _, s := range segments {
		if s.Base == "" {
			out = append(out, s.Bytes...)
			continue
		}
		base, ok := streams[s.Base]
		if !ok || s.From < 0 || s.To > len(base) || s.From > s.To {
			return nil, fmt.Errorf("segment %s[%d:%d] is out of range", s.Base, s.From, s.To)
		}
		out = append(out, base[s.From:s.To]...)
	}
	return out, nil
}
