package e2ee_test

import (
	"bytes"
	"crypto/ecdh"
	"crypto/hpke"
	"encoding/hex"
	"testing"

	"github.com/bedside-health/bedside/e2ee/vectors"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("invalid hex %q: %v", s, err)
	}
	return b
}

// TestRFC9180Vectors checks crypto/hpke, which the envelopes use, against
// the RFC 9180 vector of our suite. crypto/hpke takes no ephemeral key from
// the caller, so on the sender side only DeriveKeyPair(ikmE) is checked. The
// recipient side opens every encryption and reproduces every export, which
// checks the key schedule that sender and recipient share.
func TestRFC9180Vectors(t *testing.T) {
	var f vectors.RFC9180File
	loadJSON(t, "rfc9180.json", &f)
	if len(f.Vectors) == 0 {
		t.Fatal("rfc9180.json has no vectors")
	}
	kem := hpke.DHKEM(ecdh.X25519())
	for _, v := range f.Vectors {
		if v.Mode != 0 || v.KEMID != int(kem.ID()) || v.KDFID != int(hpke.HKDFSHA256().ID()) ||
			v.AEADID != int(hpke.AES256GCM().ID()) {
			t.Fatalf("suite %d/%#x/%#x/%#x is not ours", v.Mode, v.KEMID, v.KDFID, v.AEADID)
		}
		skR, err := kem.DeriveKeyPair(unhex(t, v.IKMR))
		if err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(skR.PublicKey().Bytes()); got != v.PKRm {
			t.Errorf("pkRm from ikmR: got %s, want %s", got, v.PKRm)
		}
		skE, err := kem.DeriveKeyPair(unhex(t, v.IKME))
		if err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(skE.PublicKey().Bytes()); got != v.PKEm || got != v.Enc {
			t.Errorf("pkEm from ikmE: got %s, want %s", got, v.PKEm)
		}
		skRm, err := kem.NewPrivateKey(unhex(t, v.SKRm))
		if err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(skRm.PublicKey().Bytes()); got != v.PKRm {
			t.Errorf("pkRm from skRm: got %s, want %s", got, v.PKRm)
		}
		r, err := hpke.NewRecipient(unhex(t, v.Enc), skRm, hpke.HKDFSHA256(), hpke.AES256GCM(), unhex(t, v.Info))
		if err != nil {
			t.Fatal(err)
		}
		for i, e := range v.Encryptions {
			pt, err := r.Open(unhex(t, e.AAD), unhex(t, e.Ciphertext))
			if err != nil {
				t.Fatalf("encryption %d: %v", i, err)
			}
			if !bytes.Equal(pt, unhex(t, e.Plaintext)) {
				t.Errorf("encryption %d: got %x, want %s", i, pt, e.Plaintext)
			}
		}
		for i, e := range v.Exports {
			got, err := r.Export(string(unhex(t, e.ExporterContext)), e.L)
			if err != nil {
				t.Fatal(err)
			}
			if hex.EncodeToString(got) != e.ExportedValue {
				t.Errorf("export %d: got %x, want %s", i, got, e.ExportedValue)
			}
		}
		// A recipient context with a different info must not open the
		// first encryption: the vector is not accepted by accident.
		wrong, err := hpke.NewRecipient(unhex(t, v.Enc), skRm, hpke.HKDFSHA256(), hpke.AES256GCM(), []byte("other"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := wrong.Open(unhex(t, v.Encryptions[0].AAD), unhex(t, v.Encryptions[0].Ciphertext)); err == nil {
			t.Error("the first encryption opened under another info")
		}
	}
}
