package e2ee_test

import (
	"bytes"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/hpke"
	"crypto/sha256"
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

// TestRFC9180KeySchedule recomputes the intermediate values of the vector
// (shared secret, key schedule context, secret, key, base nonce, exporter
// secret) from skEm and pkRm. It uses the labeled HKDF of RFC 9180 sections
// 4 and 5.1, so every value in rfc9180.json is checked, not only those that
// crypto/hpke exposes.
func TestRFC9180KeySchedule(t *testing.T) {
	var f vectors.RFC9180File
	loadJSON(t, "rfc9180.json", &f)
	for _, v := range f.Vectors {
		kemSuite := []byte{'K', 'E', 'M', 0x00, 0x20}
		hpkeSuite := []byte{'H', 'P', 'K', 'E', 0x00, 0x20, 0x00, 0x01, 0x00, 0x02}
		labeledExtract := func(suite, salt []byte, label string, ikm []byte) []byte {
			in := append(append(append([]byte("HPKE-v1"), suite...), label...), ikm...)
			prk, err := hkdf.Extract(sha256.New, in, salt)
			if err != nil {
				t.Fatal(err)
			}
			return prk
		}
		labeledExpand := func(suite, prk []byte, label string, info []byte, n int) []byte {
			in := append([]byte{byte(n >> 8), byte(n)}, "HPKE-v1"...)
			in = append(append(append(in, suite...), label...), info...)
			out, err := hkdf.Expand(sha256.New, prk, string(in), n)
			if err != nil {
				t.Fatal(err)
			}
			return out
		}

		skE, err := ecdh.X25519().NewPrivateKey(unhex(t, v.SKEm))
		if err != nil {
			t.Fatal(err)
		}
		pkR, err := ecdh.X25519().NewPublicKey(unhex(t, v.PKRm))
		if err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(skE.PublicKey().Bytes()); got != v.PKEm {
			t.Errorf("pkEm from skEm: got %s, want %s", got, v.PKEm)
		}
		dh, err := skE.ECDH(pkR)
		if err != nil {
			t.Fatal(err)
		}
		kemContext := append(unhex(t, v.Enc), unhex(t, v.PKRm)...)
		eaePRK := labeledExtract(kemSuite, nil, "eae_prk", dh)
		sharedSecret := labeledExpand(kemSuite, eaePRK, "shared_secret", kemContext, 32)

		pskIDHash := labeledExtract(hpkeSuite, nil, "psk_id_hash", nil)
		infoHash := labeledExtract(hpkeSuite, nil, "info_hash", unhex(t, v.Info))
		context := append(append([]byte{0}, pskIDHash...), infoHash...)
		secret := labeledExtract(hpkeSuite, sharedSecret, "secret", nil)
		for _, c := range []struct {
			name      string
			got, want string
		}{
			{"shared_secret", hex.EncodeToString(sharedSecret), v.SharedSecret},
			{"key_schedule_context", hex.EncodeToString(context), v.KeyScheduleContext},
			{"secret", hex.EncodeToString(secret), v.Secret},
			{"key", hex.EncodeToString(labeledExpand(hpkeSuite, secret, "key", context, 32)), v.Key},
			{"base_nonce", hex.EncodeToString(labeledExpand(hpkeSuite, secret, "base_nonce", context, 12)), v.BaseNonce},
			{"exporter_secret", hex.EncodeToString(labeledExpand(hpkeSuite, secret, "exp", context, 32)), v.ExporterSecret},
		} {
			if c.got != c.want {
				t.Errorf("%s: got %s, want %s", c.name, c.got, c.want)
			}
		}
		for i, e := range v.Encryptions {
			nonce := unhex(t, v.BaseNonce)
			nonce[len(nonce)-1] ^= byte(i)
			if got := hex.EncodeToString(nonce); got != e.Nonce {
				t.Errorf("nonce %d: got %s, want %s", i, got, e.Nonce)
			}
		}
	}
}
