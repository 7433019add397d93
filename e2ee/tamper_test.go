package e2ee_test

import (
	"testing"

	"github.com/bedside-health/bedside/e2ee"
)

// TestEveryBitFlipIsRejected flips each bit of a sealed message's wire form
// (length fields, header, commitment, ciphertext, envelopes, signature).
// Every variant must be rejected by at least one recipient. A recipient may
// accept only a flip inside another device's envelope, which the signature
// does not cover, and must then still read the original payload.
func TestEveryBitFlipIsRejected(t *testing.T) {
	p := newParty(t, 2)
	payload := []byte("tamper me")
	m, err := e2ee.Seal(nil, p.sender, testMessage(payload), p.publics())
	if err != nil {
		t.Fatal(err)
	}
	wire := m.Marshal()
	sender := p.sender.Public()
	for _, r := range p.recipients {
		if _, err := openWire(wire, r, sender); err != nil {
			t.Fatalf("the untampered message must open for %s: %v", r.Ref(), err)
		}
	}
	counts := map[string]int{}
	for bit := range len(wire) * 8 {
		wire[bit/8] ^= 1 << (bit % 8)
		// Parsing and the signature do not depend on the recipient, so a
		// flip they reject is rejected for everyone.
		parsed, err := e2ee.ParseSealed(wire)
		if err == nil {
			err = parsed.VerifySignature(sender.SigningKey)
		}
		if err != nil {
			counts[e2ee.Code(err)]++
			wire[bit/8] ^= 1 << (bit % 8)
			continue
		}
		rejected := 0
		for _, r := range p.recipients {
			got, err := e2ee.Open(r, parsed, sender)
			if err != nil {
				rejected++
				counts[e2ee.Code(err)]++
				continue
			}
			if string(got) != string(payload) {
				t.Fatalf("bit %d of byte %d: %s read a changed payload", bit%8, bit/8, r.Ref())
			}
		}
		wire[bit/8] ^= 1 << (bit % 8)
		if rejected == 0 {
			t.Fatalf("flipping bit %d of byte %d was accepted by every recipient", bit%8, bit/8)
		}
	}
	t.Logf("rejections by code for %d flips: %v", len(wire)*8, counts)
}

func openWire(wire []byte, recipient *e2ee.DeviceKeys, sender e2ee.DevicePublic) ([]byte, error) {
	m, err := e2ee.ParseSealed(wire)
	if err != nil {
		return nil, err
	}
	return e2ee.Open(recipient, m, sender)
}

// TestEnvelopeBitFlipsFailToOpen flips each bit of the recipient's own
// envelope and requires the HPKE open to fail: the server passes such a
// message (the signature does not cover envelopes), so the recipient must
// catch it.
func TestEnvelopeBitFlipsFailToOpen(t *testing.T) {
	p := newParty(t, 1)
	m, err := e2ee.Seal(nil, p.sender, testMessage([]byte("x")), p.publics())
	if err != nil {
		t.Fatal(err)
	}
	env := m.Envelopes[0]
	for _, part := range [][]byte{env.Enc, env.Ciphertext} {
		for bit := range len(part) * 8 {
			part[bit/8] ^= 1 << (bit % 8)
			if err := m.VerifySignature(p.sender.Public().SigningKey); err != nil {
				t.Fatalf("envelope flip broke the signature: %v", err)
			}
			_, err := e2ee.Open(p.recipients[0], m, p.sender.Public())
			part[bit/8] ^= 1 << (bit % 8)
			if e2ee.Code(err) != "envelope_open_failed" {
				t.Fatalf("envelope bit %d: got %v, want envelope_open_failed", bit, err)
			}
		}
	}
}
