package vectors

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/bedside-health/bedside/e2ee"
)

// MessagesFile is the layout of messages.json.
type MessagesFile struct {
	Note    string                `json:"note"`
	Devices map[string]DeviceJSON `json:"devices"`
	Vectors []MessageVector       `json:"vectors"`
}

// MessageVector is one sealed message and the outcomes of checking it. A
// verifier (1) parses Sealed, (2) compares the header's sender with the
// device named Sender, (3) verifies the signature with Sender's signing key:
// the first failure is ServerExpect, or "ok". A recipient then (4) opens the
// message with Recipient's keys: the first failure of all steps is Expect.
type MessageVector struct {
	Name         string      `json:"name"`
	Rule         string      `json:"rule"`
	Description  string      `json:"description"`
	Sender       string      `json:"sender"`
	Recipient    string      `json:"recipient"`
	ServerExpect string      `json:"server_expect"`
	Expect       string      `json:"expect"`
	Sealed       Hex         `json:"sealed"`
	HPKERanges   [][2]int    `json:"hpke_ranges"`
	Header       *HeaderJSON `json:"header,omitempty"`
	Recipients   []string    `json:"recipients,omitempty"`
	Payload      Hex         `json:"payload,omitempty"`
}

// HeaderJSON is the decoded header of an accepted message.
type HeaderJSON struct {
	Version        int    `json:"version"`
	ContentType    int    `json:"content_type"`
	MessageID      string `json:"message_id"`
	ConversationID string `json:"conversation_id"`
	SenderUserID   string `json:"sender_user_id"`
	SenderDeviceID string `json:"sender_device_id"`
	TimeMs         int64  `json:"time_ms"`
}

// HeaderToJSON converts a parsed header.
func HeaderToJSON(h *e2ee.Header) *HeaderJSON {
	return &HeaderJSON{
		Version:        int(h.Version),
		ContentType:    int(h.ContentType),
		MessageID:      h.MessageID.String(),
		ConversationID: h.ConversationID,
		SenderUserID:   h.SenderUserID,
		SenderDeviceID: h.SenderDeviceID,
		TimeMs:         h.Time.UnixMilli(),
	}
}

// HPKERanges returns the byte ranges [start, end) of m.Marshal() that hold
// HPKE output (enc and ciphertext of each envelope).
func HPKERanges(m *e2ee.SealedMessage) [][2]int {
	off := 2 + len(m.HeaderBytes) + len(m.Commitment) + 4 + len(m.Ciphertext) + 2
	ranges := make([][2]int, 0, len(m.Envelopes))
	for _, env := range m.Envelopes {
		off += 2 + len(env.Recipient.UserID) + len(env.Recipient.DeviceID)
		end := off + len(env.Enc) + len(env.Ciphertext)
		ranges = append(ranges, [2]int{off, end})
		off = end
	}
	return ranges
}

type messageBuilder struct {
	ks      *keySet
	vectors []MessageVector
}

func (b *messageBuilder) add(v MessageVector, m *e2ee.SealedMessage, raw []byte) {
	if raw == nil {
		raw = m.Marshal()
	}
	v.Sealed = raw
	v.HPKERanges = clipRanges(HPKERanges(m), len(raw))
	if v.Sender == "" {
		v.Sender = "patient-phone"
	}
	if v.Expect == "ok" {
		v.Header = HeaderToJSON(&m.Header)
		for _, r := range m.Recipients() {
			v.Recipients = append(v.Recipients, r.String())
		}
	}
	b.vectors = append(b.vectors, v)
}

func clipRanges(ranges [][2]int, n int) [][2]int {
	out := [][2]int{}
	for _, r := range ranges {
		if r[0] < n {
			out = append(out, [2]int{r[0], min(r[1], n)})
		}
	}
	return out
}

func textPayload(text string) []byte {
	b, err := (&e2ee.Payload{Text: text}).MarshalBinary()
	if err != nil {
		panic("vectors: text payload: " + err.Error())
	}
	return b
}

func buildMessages(ks *keySet) (any, error) {
	b := &messageBuilder{ks: ks}
	sender := ks.devices["patient-phone"].keys
	recipients := ks.publics("patient-laptop", "clinician-desktop", "clinician-tablet")
	seal := func(label string, conversation string, payload []byte) (*e2ee.SealedMessage, error) {
		return e2ee.Seal(stream("message/"+label), sender, e2ee.Message{
			ConversationID: conversation,
			ContentType:    e2ee.ContentMessage,
			Time:           baseTime,
			Payload:        payload,
		}, recipients)
	}

	basePayload := textPayload("Fever of 38.2 C since yesterday evening, and a dry cough.")
	base, err := seal("base", "c-consult-1", basePayload)
	if err != nil {
		return nil, err
	}
	if err := b.addAccepted(base, basePayload, seal); err != nil {
		return nil, err
	}
	if err := b.addStructural(base); err != nil {
		return nil, err
	}
	b.addSignatureRejects(base)
	if err := b.addRecipientRejects(base); err != nil {
		return nil, err
	}
	return MessagesFile{
		Note:    generatorNote,
		Devices: ks.deviceJSON(ks.devOrder...),
		Vectors: b.vectors,
	}, nil
}

func (b *messageBuilder) addAccepted(base *e2ee.SealedMessage, basePayload []byte,
	seal func(string, string, []byte) (*e2ee.SealedMessage, error),
) error {
	b.add(MessageVector{
		Name: "ok_clinician_device", Rule: "accept", Recipient: "clinician-desktop",
		Description:  "a message from the patient's phone opens on the clinician's desktop",
		ServerExpect: "ok", Expect: "ok", Payload: basePayload,
	}, base, nil)
	b.add(MessageVector{
		Name: "ok_sender_other_device", Rule: "accept", Recipient: "patient-laptop",
		Description:  "the sender's other device has its own envelope",
		ServerExpect: "ok", Expect: "ok", Payload: basePayload,
	}, base, nil)

	empty := textPayload("")
	m, err := seal("empty", "c-consult-1", empty)
	if err != nil {
		return err
	}
	b.add(MessageVector{
		Name: "ok_empty_text", Rule: "accept", Recipient: "clinician-tablet",
		Description:  "an empty text pads to the minimum of 256 bytes",
		ServerExpect: "ok", Expect: "ok", Payload: empty,
	}, m, nil)

	long := textPayload(strings.Repeat("Blood pressure readings for the week: 128/82. ", 70))
	m, err = seal("long", "c-consult-1", long)
	if err != nil {
		return err
	}
	b.add(MessageVector{
		Name: "ok_long_text", Rule: "accept", Recipient: "clinician-desktop",
		Description:  "a 3.2 KB payload pads to its Padme size",
		ServerExpect: "ok", Expect: "ok", Payload: long,
	}, m, nil)

	ref, err := referencedAttachment()
	if err != nil {
		return err
	}
	withAttachment, err := (&e2ee.Payload{Text: "Photo of the rash.", Attachments: []e2ee.AttachmentRef{ref}}).MarshalBinary()
	if err != nil {
		return err
	}
	m, err = seal("attachment", "c-consult-1", withAttachment)
	if err != nil {
		return err
	}
	b.add(MessageVector{
		Name: "ok_attachment_reference", Rule: "accept", Recipient: "clinician-tablet",
		Description:  "the payload carries the key and digest of attachments.json ok_three_chunks",
		ServerExpect: "ok", Expect: "ok", Payload: withAttachment,
	}, m, nil)
	return nil
}

// mutate returns a copy of raw with f applied.
func mutate(raw []byte, f func([]byte) []byte) []byte {
	return f(bytes.Clone(raw))
}

// headerOffset is the offset of the header in the wire form.
const headerOffset = 2

func (b *messageBuilder) addStructural(base *e2ee.SealedMessage) error {
	raw := base.Marshal()
	h := base.HeaderBytes
	convAt := headerOffset + 2 + 16 + 1 // first byte of the conversation id
	timeAt := headerOffset + len(h) - 8
	rejects := []struct {
		name, rule, desc, expect string
		raw                      []byte
	}{
		{"reject_truncated", "R1", "the last byte is missing", "malformed",
			raw[:len(raw)-1]},
		{"reject_trailing_byte", "R1", "one byte follows the signature", "malformed",
			append(bytes.Clone(raw), 0)},
		{"reject_header_length_overflow", "R1", "the header length exceeds the maximum header size", "malformed",
			mutate(raw, func(p []byte) []byte { binary.BigEndian.PutUint16(p, 0xffff); return p })},
		{"reject_header_version", "R2", "header version 2", "unsupported_version",
			mutate(raw, func(p []byte) []byte { p[headerOffset] = 2; return p })},
		{"reject_content_type", "R3", "content type 7 is not defined", "invalid_content_type",
			mutate(raw, func(p []byte) []byte { p[headerOffset+1] = 7; return p })},
		{"reject_invalid_conversation_id", "R4", "the conversation id contains '/'", "invalid_id",
			mutate(raw, func(p []byte) []byte { p[convAt] = '/'; return p })},
		{"reject_time_out_of_range", "R5", "the header time exceeds 2^53-1", "malformed",
			mutate(raw, func(p []byte) []byte { p[timeAt] = 0x00; p[timeAt+1] = 0x20; return p })},
	}
	for _, r := range rejects {
		b.add(MessageVector{
			Name: r.name, Rule: r.rule, Description: r.desc, Recipient: "clinician-desktop",
			ServerExpect: r.expect, Expect: r.expect,
		}, base, r.raw)
	}

	// Re-encoded variants: the structure changes, so the ranges move.
	short := *base
	short.Ciphertext = base.Ciphertext[:len(base.Ciphertext)-1]
	b.addReencoded("reject_ciphertext_not_padded_size", "R6",
		"the ciphertext is one byte shorter than a padded size plus the tag", "invalid_size", &short)

	none := *base
	none.Envelopes = nil
	b.addReencoded("reject_no_envelopes", "R7", "the envelope count is zero", "invalid_recipients", &none)

	swapped := *base
	swapped.Envelopes = append([]e2ee.Envelope(nil), base.Envelopes...)
	swapped.Envelopes[0], swapped.Envelopes[1] = swapped.Envelopes[1], swapped.Envelopes[0]
	b.addReencoded("reject_envelopes_out_of_order", "R7",
		"envelopes are not in ascending (user id, device id) order", "invalid_recipients", &swapped)

	dup := *base
	dup.Envelopes = append([]e2ee.Envelope{base.Envelopes[0]}, base.Envelopes...)
	b.addReencoded("reject_duplicate_envelope", "R7", "one device has two envelopes", "invalid_recipients", &dup)
	return nil
}

func (b *messageBuilder) addReencoded(name, rule, desc, expect string, m *e2ee.SealedMessage) {
	b.add(MessageVector{
		Name: name, Rule: rule, Description: desc, Recipient: "clinician-desktop",
		ServerExpect: expect, Expect: expect,
	}, m, m.Marshal())
}

// flipBit returns raw with bit 0 of byte i flipped.
func flipBit(raw []byte, i int) []byte {
	return mutate(raw, func(p []byte) []byte { p[i] ^= 0x01; return p })
}

func (b *messageBuilder) addSignatureRejects(base *e2ee.SealedMessage) {
	raw := base.Marshal()
	commitmentAt := headerOffset + len(base.HeaderBytes)
	ciphertextAt := commitmentAt + 32 + 4
	b.add(MessageVector{
		Name: "reject_sender_key_mismatch", Rule: "R8", Sender: "patient-laptop", Recipient: "clinician-desktop",
		Description:  "the verifier is given the key of a device other than the header's sender",
		ServerExpect: "sender_mismatch", Expect: "sender_mismatch",
	}, base, nil)
	for _, f := range []struct {
		name, desc string
		at         int
	}{
		{"reject_signature_bit_flip", "one bit of the signature is flipped", len(raw) - 1},
		{"reject_header_bit_flip", "one bit of the message id is flipped", headerOffset + 2},
		{"reject_commitment_bit_flip", "one bit of the key commitment is flipped", commitmentAt},
		{"reject_ciphertext_bit_flip", "one bit of the content ciphertext is flipped", ciphertextAt + 5},
	} {
		b.add(MessageVector{
			Name: f.name, Rule: "R9", Description: f.desc, Recipient: "clinician-desktop",
			ServerExpect: "bad_signature", Expect: "bad_signature",
		}, base, flipBit(raw, f.at))
	}

	removed := *base
	removed.Envelopes = base.Envelopes[:2] // drops u-patient/d-laptop
	b.add(MessageVector{
		Name: "reject_envelope_removed", Rule: "R9", Recipient: "clinician-desktop",
		Description:  "the server drops the envelope of the sender's other device; the signed recipient list no longer matches",
		ServerExpect: "bad_signature", Expect: "bad_signature",
	}, &removed, removed.Marshal())
}

func (b *messageBuilder) addRecipientRejects(base *e2ee.SealedMessage) error {
	ks := b.ks
	raw := base.Marshal()
	ranges := HPKERanges(base)
	desktop := 0 // envelope index of clinician-desktop: u-clinician sorts before u-patient
	if base.Envelopes[desktop].Recipient.DeviceID != "d-desktop" {
		return fmt.Errorf("envelope %d is %s, want d-desktop", desktop, base.Envelopes[desktop].Recipient)
	}

	b.add(MessageVector{
		Name: "reject_not_a_recipient", Rule: "R10", Recipient: "clinician-rogue",
		Description:  "a device with no envelope cannot open the message",
		ServerExpect: "ok", Expect: "not_recipient",
	}, base, nil)
	b.add(MessageVector{
		Name: "reject_envelope_bit_flip", Rule: "R11", Recipient: "clinician-desktop",
		Description:  "one bit of the recipient's envelope ciphertext is flipped",
		ServerExpect: "ok", Expect: "envelope_open_failed",
	}, base, flipBit(raw, ranges[desktop][1]-1))

	swapped := mutate(raw, func(p []byte) []byte {
		tablet := ranges[desktop+1]
		copy(p[ranges[desktop][0]:ranges[desktop][1]], raw[tablet[0]:tablet[1]])
		return p
	})
	b.add(MessageVector{
		Name: "reject_envelope_of_other_device", Rule: "R11", Recipient: "clinician-desktop",
		Description:  "the desktop's envelope is replaced by the tablet's",
		ServerExpect: "ok", Expect: "envelope_open_failed",
	}, base, swapped)

	if err := b.addTransplants(); err != nil {
		return err
	}
	return b.addSenderCrafted(ks)
}

// addTransplants builds two messages that share the content key and differ
// in the conversation or the message id, and moves an envelope across. Only
// the HPKE info differs between them, so these vectors show it binds both.
func (b *messageBuilder) addTransplants() error {
	ks := b.ks
	r := stream("message/transplant")
	spec := craftSpec{
		contentType:  byte(e2ee.ContentMessage),
		messageID:    mustRead(r, 16),
		conversation: "c-consult-1",
		sender:       ks.devices["patient-phone"],
		timeMs:       uint64(baseTime.UnixMilli()),
		contentKey:   mustRead(r, 32),
		padded:       padTo(textPayload("Transplanted envelope."), 256, true),
		recipients:   []*device{ks.devices["clinician-desktop"], ks.devices["clinician-tablet"]},
	}
	target, err := craftMessage(spec)
	if err != nil {
		return err
	}
	otherConversation := spec
	otherConversation.conversation = "c-consult-2"
	otherMessage := spec
	otherMessage.messageID = mustRead(r, 16)
	for _, t := range []struct {
		name, desc string
		spec       craftSpec
	}{
		{"reject_envelope_from_other_conversation",
			"the envelope comes from a message with the same id and content key in another conversation", otherConversation},
		{"reject_envelope_from_other_message",
			"the envelope comes from another message id in the same conversation with the same content key", otherMessage},
	} {
		donor, err := craftMessage(t.spec)
		if err != nil {
			return err
		}
		m := *target
		m.Envelopes = append([]e2ee.Envelope(nil), target.Envelopes...)
		m.Envelopes[0] = donor.Envelopes[0] // clinician-desktop
		b.add(MessageVector{
			Name: t.name, Rule: "R11", Description: t.desc, Recipient: "clinician-desktop",
			ServerExpect: "ok", Expect: "envelope_open_failed",
		}, &m, m.Marshal())
	}
	return nil
}

// addSenderCrafted adds messages a malicious or broken sender device signs
// itself, so every check before the broken one passes.
func (b *messageBuilder) addSenderCrafted(ks *keySet) error {
	r := stream("message/crafted")
	payload := textPayload("Crafted by the sender.")
	base := craftSpec{
		contentType:  byte(e2ee.ContentMessage),
		conversation: "c-consult-1",
		sender:       ks.devices["patient-phone"],
		timeMs:       uint64(baseTime.UnixMilli()),
		recipients:   []*device{ks.devices["clinician-desktop"]},
		padded:       padTo(payload, 256, true),
	}
	cases := []struct {
		name, rule, desc, server, expect string
		edit                             func(*craftSpec)
	}{
		{"ok_crafted_independently", "accept",
			"a message built from the specification by a second implementation opens", "ok", "ok",
			func(*craftSpec) {}},
		{"reject_signed_by_rogue_device", "R9",
			"the header names the patient's phone but the rogue device signed", "bad_signature", "bad_signature",
			func(s *craftSpec) { s.signer = ks.devices["clinician-rogue"].signing }},
		{"reject_key_commitment_mismatch", "R12",
			"the signed key commitment is not derived from the content key in the envelope", "ok", "key_commitment_mismatch",
			func(s *craftSpec) { s.envelopeFromKey = mustRead(r, 32) }},
		{"reject_ciphertext_tampered_before_signing", "R13",
			"the sender flipped a ciphertext bit and then signed", "ok", "decrypt_failed",
			func(s *craftSpec) { s.flipCiphertext = true }},
		{"reject_padding_without_marker", "R14",
			"the padded block has no 0x80 marker", "ok", "bad_padding",
			func(s *craftSpec) { s.padded = padTo(payload, 256, false) }},
		{"reject_padding_oversized_block", "R14",
			"a payload whose padded size is 256 bytes sits in a 512-byte block", "ok", "bad_padding",
			func(s *craftSpec) { s.padded = padTo(payload, 512, true) }},
	}
	for _, c := range cases {
		spec := base
		spec.messageID = mustRead(r, 16)
		spec.contentKey = mustRead(r, 32)
		c.edit(&spec)
		if c.name == "reject_key_commitment_mismatch" {
			// The envelope key differs from the key the content and the
			// commitment were made with: decryption would fail too, but
			// the commitment check comes first.
			spec.commitment = nil
		}
		m, err := craftMessage(spec)
		if err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		v := MessageVector{
			Name: c.name, Rule: c.rule, Description: c.desc, Recipient: "clinician-desktop",
			ServerExpect: c.server, Expect: c.expect,
		}
		if c.expect == "ok" {
			v.Payload = payload
		}
		b.add(v, m, nil)
	}
	return nil
}
