package vectors

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/bedside-health/bedside/e2ee"
)

// PaddingFile is the layout of padding.json.
type PaddingFile struct {
	Note       string          `json:"note"`
	MinPadded  int             `json:"min_padded_size"`
	MaxPadded  int             `json:"max_padded_size"`
	Lengths    []PaddedPair    `json:"lengths"`
	BlockSizes []BlockValidity `json:"block_sizes"`
}

// PaddedPair maps a payload length to its padded size.
type PaddedPair struct {
	PayloadLength int `json:"payload_length"`
	PaddedSize    int `json:"padded_size"`
}

// BlockValidity records whether a padded block (ciphertext minus the tag) may
// have this size.
type BlockValidity struct {
	Size  int  `json:"size"`
	Valid bool `json:"valid"`
}

func buildPadding() PaddingFile {
	f := PaddingFile{Note: generatorNote, MinPadded: e2ee.MinPaddedSize, MaxPadded: e2ee.MaxPaddedSize}
	for _, n := range []int{0, 1, 100, 254, 255, 256, 300, 511, 512, 1000, 4095, 4096, 10_000,
		65_535, 100_000, 777_777, e2ee.MaxPayloadSize - 1, e2ee.MaxPayloadSize} {
		f.Lengths = append(f.Lengths, PaddedPair{n, e2ee.PaddedSize(n)})
	}
	valid := map[int]bool{}
	for _, p := range f.Lengths {
		valid[p.PaddedSize] = true
	}
	for _, s := range []int{0, 255, 256, 257, 272, 288, 512, 513, 1024, 1040, 4096, 4160, 10_240, 10_752,
		e2ee.MaxPaddedSize, e2ee.MaxPaddedSize + 1, 2 * e2ee.MaxPaddedSize} {
		// Valid sizes are exactly the values PaddedSize returns: check by search.
		ok := false
		for n := max(0, s-1-s/8-2); n <= s && s <= e2ee.MaxPaddedSize; n++ {
			if e2ee.PaddedSize(n) == s {
				ok = true
				break
			}
		}
		f.BlockSizes = append(f.BlockSizes, BlockValidity{s, ok})
	}
	return f
}

// SafetyFile is the layout of safety.json.
type SafetyFile struct {
	Note     string         `json:"note"`
	WordList []string       `json:"word_list"`
	Vectors  []SafetyVector `json:"vectors"`
}

// SafetyVector is the safety number of two users.
type SafetyVector struct {
	Name        string   `json:"name"`
	UserA       string   `json:"user_a"`
	KeyA        Hex      `json:"key_a"`
	UserB       string   `json:"user_b"`
	KeyB        Hex      `json:"key_b"`
	Digits      string   `json:"digits"`
	DigitGroups string   `json:"digit_groups"`
	Words       []string `json:"words"`
}

func buildSafety(ks *keySet) (any, error) {
	f := SafetyFile{Note: generatorNote, WordList: e2ee.SafetyWordList()}
	patient := ks.identities["patient"].json
	clinician := ks.identities["clinician"].json
	attacker := ks.identities["attacker"].json
	for _, c := range []struct {
		name string
		a, b IdentityJSON
	}{
		{"patient_and_clinician", patient, clinician},
		{"clinician_and_patient", clinician, patient},
		{"patient_and_attacker_key_for_clinician", patient, attacker},
	} {
		sn, err := e2ee.ComputeSafetyNumber(c.a.UserID, ed25519.PublicKey(c.a.PublicKey),
			c.b.UserID, ed25519.PublicKey(c.b.PublicKey))
		if err != nil {
			return nil, err
		}
		f.Vectors = append(f.Vectors, SafetyVector{
			Name: c.name, UserA: c.a.UserID, KeyA: c.a.PublicKey, UserB: c.b.UserID, KeyB: c.b.PublicKey,
			Digits: sn.Digits, DigitGroups: sn.DigitGroups(), Words: sn.Words,
		})
	}
	return f, nil
}

// PayloadsFile is the layout of payloads.json.
type PayloadsFile struct {
	Note    string          `json:"note"`
	Vectors []PayloadVector `json:"vectors"`
}

// PayloadVector is one encoded payload; accepted ones carry their fields.
type PayloadVector struct {
	Name        string           `json:"name"`
	Rule        string           `json:"rule"`
	Description string           `json:"description"`
	Payload     Hex              `json:"payload"`
	Expect      string           `json:"expect"`
	Text        string           `json:"text,omitempty"`
	Attachments []AttachmentJSON `json:"attachments,omitempty"`
}

// AttachmentJSON is a decoded AttachmentRef.
type AttachmentJSON struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	MediaType string `json:"media_type"`
	Size      int64  `json:"size"`
	Key       Hex    `json:"key"`
	Digest    Hex    `json:"digest"`
}

func buildPayloads(*keySet) (any, error) {
	ref, err := referencedAttachment()
	if err != nil {
		return nil, err
	}
	text := "Température 38,2 °C — rash on the left forearm."
	withAttachment := e2ee.Payload{Text: text, Attachments: []e2ee.AttachmentRef{ref}}
	good, err := withAttachment.MarshalBinary()
	if err != nil {
		return nil, err
	}
	plain, err := (&e2ee.Payload{Text: text}).MarshalBinary()
	if err != nil {
		return nil, err
	}
	empty, err := (&e2ee.Payload{}).MarshalBinary()
	if err != nil {
		return nil, err
	}
	attachmentAt := 1 + 4 + len(text) + 1 // first byte of the first attachment
	f := PayloadsFile{Note: generatorNote}
	f.Vectors = []PayloadVector{
		{Name: "ok_text", Rule: "accept", Description: "UTF-8 text, no attachments", Payload: plain,
			Expect: "ok", Text: text},
		{Name: "ok_empty", Rule: "accept", Description: "empty text, no attachments", Payload: empty, Expect: "ok"},
		{Name: "ok_attachment", Rule: "accept", Description: "text and one attachment reference", Payload: good,
			Expect: "ok", Text: text, Attachments: []AttachmentJSON{{
				ID: ref.ID, Name: ref.Name, MediaType: ref.MediaType, Size: ref.Size, Key: ref.Key[:], Digest: ref.Digest[:],
			}}},
	}
	rejects := []struct {
		name, desc string
		payload    []byte
	}{
		{"reject_payload_version", "payload version 2", mutate(plain, func(p []byte) []byte { p[0] = 2; return p })},
		{"reject_invalid_utf8", "the text contains the byte 0xff",
			mutate(plain, func(p []byte) []byte { p[5] = 0xff; return p })},
		{"reject_text_length_overflow", "the text length exceeds the payload",
			mutate(plain, func(p []byte) []byte { binary.BigEndian.PutUint32(p[1:], 1<<24); return p })},
		{"reject_trailing_byte", "one byte follows the last attachment", append(bytes.Clone(good), 0)},
		{"reject_truncated", "the digest of the attachment is one byte short", good[:len(good)-1]},
		{"reject_too_many_attachments", "17 attachments are announced",
			mutate(plain, func(p []byte) []byte { p[len(p)-1] = 17; return p })},
		{"reject_attachment_invalid_id", "the attachment id contains a space",
			mutate(good, func(p []byte) []byte { p[attachmentAt+1] = ' '; return p })},
		{"reject_attachment_empty_name", "the attachment name is empty",
			emptyName(good, attachmentAt)},
	}
	for _, r := range rejects {
		f.Vectors = append(f.Vectors, PayloadVector{Name: r.name, Rule: "R19", Description: r.desc,
			Payload: r.payload, Expect: "invalid_payload"})
	}
	return f, nil
}

// emptyName rewrites the first attachment of p with a zero-length name.
func emptyName(p []byte, at int) []byte {
	idLen := int(p[at])
	nameAt := at + 1 + idLen
	nameLen := int(binary.BigEndian.Uint16(p[nameAt:]))
	out := append(bytes.Clone(p[:nameAt]), 0, 0)
	return append(out, p[nameAt+2+nameLen:]...)
}

// ReplayFile is the layout of replay.json: steps run in order against one
// guard with the given capacity; FinalState is its MarshalBinary output.
type ReplayFile struct {
	Note       string       `json:"note"`
	Capacity   int          `json:"capacity"`
	Steps      []ReplayStep `json:"steps"`
	FinalState Hex          `json:"final_state"`
}

// ReplayStep offers one message id and time to the guard.
type ReplayStep struct {
	MessageID string `json:"message_id"`
	TimeMs    int64  `json:"time_ms"`
	Expect    string `json:"expect"`
}

func buildReplay() (ReplayFile, error) {
	id := func(n byte) string { return hex.EncodeToString(bytes.Repeat([]byte{n}, 16)) }
	steps := []ReplayStep{
		{id(1), 1000, "ok"},
		{id(2), 2000, "ok"},
		{id(1), 1000, "replay"},
		{id(3), 3000, "ok"},
		{id(4), 4000, "ok"}, // capacity 3: evicts id 1, floor 1000
		{id(1), 1000, "replay_window"},
		{id(5), 500, "replay_window"},
		{id(2), 2000, "replay"},
		{id(6), 5000, "ok"}, // evicts id 2, floor 2000
		{id(2), 2000, "replay_window"},
		{id(7), 2500, "ok"}, // accepted, then evicted at once as the oldest: floor 2500
		{id(7), 2500, "replay_window"},
	}
	g := e2ee.NewReplayGuard(3)
	for i, s := range steps {
		mid, err := e2ee.ParseMessageID(s.MessageID)
		if err != nil {
			return ReplayFile{}, err
		}
		h := e2ee.Header{MessageID: mid, Time: time.UnixMilli(s.TimeMs).UTC()}
		if got := e2ee.Code(g.Accept(&h)); got != s.Expect {
			return ReplayFile{}, fmt.Errorf("replay step %d: got %s, want %s", i, got, s.Expect)
		}
	}
	state, err := g.MarshalBinary()
	if err != nil {
		return ReplayFile{}, err
	}
	return ReplayFile{Note: generatorNote, Capacity: 3, Steps: steps, FinalState: state}, nil
}
