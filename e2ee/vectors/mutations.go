package vectors

import (
	"fmt"

	"github.com/bedside-health/bedside/e2ee"
)

// MutationsFile is the layout of mutations.json: single edits of one
// accepted message from messages.json, each with the outcome the checks of
// MessageVector give. It pins the order of the checks, so two
// implementations that agree on it report the same code for the same
// damage. No outcome depends on the HPKE output bytes, so the file is
// reproducible.
type MutationsFile struct {
	Note      string     `json:"note"`
	Base      string     `json:"base"`
	Sender    string     `json:"sender"`
	Recipient string     `json:"recipient"`
	Mutations []Mutation `json:"mutations"`
}

// Mutation is one edit of the base message: "flip" inverts bit Bit (0 is the
// least significant) of byte At, "truncate" keeps the first At bytes, and
// "append" adds Bytes at the end.
type Mutation struct {
	Op           string `json:"op"`
	At           int    `json:"at,omitempty"`
	Bit          int    `json:"bit,omitempty"`
	Bytes        Hex    `json:"bytes,omitempty"`
	ServerExpect string `json:"server_expect"`
	Expect       string `json:"expect"`
}

// Apply returns a copy of base with the mutation applied.
func (m Mutation) Apply(base []byte) ([]byte, error) {
	out := append([]byte(nil), base...)
	switch m.Op {
	case "flip":
		if m.At < 0 || m.At >= len(out) || m.Bit < 0 || m.Bit > 7 {
			return nil, fmt.Errorf("flip of bit %d at %d is out of range", m.Bit, m.At)
		}
		out[m.At] ^= 1 << m.Bit
	case "truncate":
		if m.At < 0 || m.At > len(out) {
			return nil, fmt.Errorf("truncation to %d is out of range", m.At)
		}
		out = out[:m.At]
	case "append":
		out = append(out, m.Bytes...)
	default:
		return nil, fmt.Errorf("unknown mutation %q", m.Op)
	}
	return out, nil
}

// Outcome runs the checks of a MessageVector on sealed and returns the
// server and recipient outcomes.
func Outcome(sealed []byte, sender DeviceJSON, recipient *e2ee.DeviceKeys) (string, string) {
	m, err := e2ee.ParseSealed(sealed)
	if err != nil {
		return e2ee.Code(err), e2ee.Code(err)
	}
	pub := sender.Public()
	if m.Header.Sender() != pub.Ref() {
		return "sender_mismatch", "sender_mismatch"
	}
	if err := m.VerifySignature(pub.SigningKey); err != nil {
		return e2ee.Code(err), e2ee.Code(err)
	}
	_, err = e2ee.Open(recipient, m, pub)
	return "ok", e2ee.Code(err)
}

// buildMutations edits the base vector at every bit outside the content
// ciphertext and the HPKE output, at three places inside each of those, at
// every structure boundary by truncation, and at the end by extension.
func buildMutations(ks *keySet, messages MessagesFile) (MutationsFile, error) {
	const baseName, senderName, recipientName = "ok_clinician_device", "patient-phone", "clinician-desktop"
	f := MutationsFile{Note: generatorNote, Base: baseName, Sender: senderName, Recipient: recipientName}
	var base []byte
	for _, v := range messages.Vectors {
		if v.Name == baseName {
			base = v.Sealed
		}
	}
	m, err := e2ee.ParseSealed(base)
	if err != nil {
		return f, fmt.Errorf("base %s: %w", baseName, err)
	}

	var edits []Mutation
	ciphertextAt := 2 + len(m.HeaderBytes) + e2ee.CommitmentSize + 4
	dense := func(at int) bool {
		if at >= ciphertextAt && at < ciphertextAt+len(m.Ciphertext) {
			return false
		}
		for _, r := range HPKERanges(m) {
			if at >= r[0] && at < r[1] {
				return false
			}
		}
		return true
	}
	sparse := []int{ciphertextAt, ciphertextAt + len(m.Ciphertext)/2, ciphertextAt + len(m.Ciphertext) - 1}
	for _, r := range HPKERanges(m) {
		sparse = append(sparse, r[0], r[0]+31, r[0]+32, r[1]-1)
	}
	for at := range base {
		if dense(at) {
			for bit := range 8 {
				edits = append(edits, Mutation{Op: "flip", At: at, Bit: bit})
			}
		}
	}
	for _, at := range sparse {
		edits = append(edits, Mutation{Op: "flip", At: at, Bit: 0}, Mutation{Op: "flip", At: at, Bit: 7})
	}
	boundaries := []int{0, 1, 2, 2 + len(m.HeaderBytes), ciphertextAt - 4, ciphertextAt, ciphertextAt + len(m.Ciphertext),
		ciphertextAt + len(m.Ciphertext) + 2, len(base) - 64, len(base) - 1}
	for _, r := range HPKERanges(m) {
		boundaries = append(boundaries, r[0], r[1])
	}
	for _, at := range boundaries {
		edits = append(edits, Mutation{Op: "truncate", At: at})
	}
	edits = append(edits, Mutation{Op: "append", Bytes: Hex{0}}, Mutation{Op: "append", Bytes: base[:8]})

	recipient, err := messages.Devices[recipientName].Keys()
	if err != nil {
		return f, err
	}
	for _, e := range edits {
		mutated, err := e.Apply(base)
		if err != nil {
			return f, err
		}
		e.ServerExpect, e.Expect = Outcome(mutated, messages.Devices[senderName], recipient)
		if e.Expect == "ok" && !(e.Op == "flip" && inOtherEnvelope(m, e.At, recipientName, messages)) {
			return f, fmt.Errorf("mutation %+v was accepted", e)
		}
		f.Mutations = append(f.Mutations, e)
	}
	return f, nil
}

// inOtherEnvelope reports whether byte at lies in the HPKE output of an
// envelope for a device other than the named recipient: the signature does
// not cover those bytes, so the recipient rightly accepts such a flip.
func inOtherEnvelope(m *e2ee.SealedMessage, at int, recipientName string, messages MessagesFile) bool {
	own := messages.Devices[recipientName]
	for i, r := range HPKERanges(m) {
		ref := m.Envelopes[i].Recipient
		if at >= r[0] && at < r[1] && (ref.UserID != own.UserID || ref.DeviceID != own.DeviceID) {
			return true
		}
	}
	return false
}
