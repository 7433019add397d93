package vectors

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/hpke"
	"crypto/sha256"
	"encoding/binary"
	"slices"
	"strings"

	"github.com/bedside-health/bedside/e2ee"
)

// craftSpec describes a message built step by step from docs/e2ee.md, so
// that a vector can break one rule while every other check passes.
type craftSpec struct {
	contentType     byte
	messageID       []byte // 16 bytes
	conversation    string
	sender          *device
	timeMs          uint64
	contentKey      []byte // 32 bytes
	padded          []byte // padded plaintext, not checked
	commitment      []byte // nil: derived from contentKey
	flipCiphertext  bool   // flip a ciphertext bit before signing
	recipients      []*device
	signer          ed25519.PrivateKey // nil: the sender's key
	envelopeFromKey []byte             // nil: contentKey
}

func appendStr8(b []byte, s string) []byte { return append(append(b, byte(len(s))), s...) }

// craftHeader encodes the header as docs/e2ee.md specifies.
func craftHeader(s *craftSpec) []byte {
	h := []byte{e2ee.Version, s.contentType}
	h = append(h, s.messageID...)
	h = appendStr8(h, s.conversation)
	h = appendStr8(h, s.sender.json.UserID)
	h = appendStr8(h, s.sender.json.DeviceID)
	return binary.BigEndian.AppendUint64(h, s.timeMs)
}

func craftMessage(s craftSpec) (*e2ee.SealedMessage, error) {
	header := craftHeader(&s)
	key, err := hkdf.Key(sha256.New, s.contentKey, nil, "bedside-e2ee-v1 message key", 32)
	if err != nil {
		return nil, err
	}
	commitment := s.commitment
	if commitment == nil {
		commitment, err = hkdf.Key(sha256.New, s.contentKey, nil, "bedside-e2ee-v1 key commitment", 32)
		if err != nil {
			return nil, err
		}
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	ciphertext := gcm.Seal(nil, make([]byte, 12), s.padded, header)
	if s.flipCiphertext {
		ciphertext[0] ^= 0x01
	}

	recipients := slices.Clone(s.recipients)
	slices.SortFunc(recipients, func(a, b *device) int {
		if c := strings.Compare(a.json.UserID, b.json.UserID); c != 0 {
			return c
		}
		return strings.Compare(a.json.DeviceID, b.json.DeviceID)
	})
	m := &e2ee.SealedMessage{HeaderBytes: header, Commitment: commitment, Ciphertext: ciphertext}
	envelopeKey := s.contentKey
	if s.envelopeFromKey != nil {
		envelopeKey = s.envelopeFromKey
	}
	for _, r := range recipients {
		env, err := craftEnvelope(&s, header, r, envelopeKey)
		if err != nil {
			return nil, err
		}
		m.Envelopes = append(m.Envelopes, env)
	}

	signer := s.signer
	if signer == nil {
		signer = s.sender.signing
	}
	m.Signature = ed25519.Sign(signer, craftSignedBytes(header, commitment, ciphertext, recipients))
	return e2ee.ParseSealed(m.Marshal())
}

func craftEnvelope(s *craftSpec, header []byte, r *device, contentKey []byte) (e2ee.Envelope, error) {
	digest := sha256.Sum256(header)
	info := append([]byte("bedside-e2ee-v1 envelope"), 0, e2ee.Version)
	info = appendStr8(info, s.conversation)
	info = append(info, s.messageID...)
	info = appendStr8(info, r.json.UserID)
	info = appendStr8(info, r.json.DeviceID)
	info = append(info, digest[:]...)
	pub, err := ecdh.X25519().NewPublicKey(r.json.HPKEPublicKey)
	if err != nil {
		return e2ee.Envelope{}, err
	}
	hpub, err := hpke.NewDHKEMPublicKey(pub)
	if err != nil {
		return e2ee.Envelope{}, err
	}
	out, err := hpke.Seal(hpub, hpke.HKDFSHA256(), hpke.AES256GCM(), info, contentKey)
	if err != nil {
		return e2ee.Envelope{}, err
	}
	return e2ee.Envelope{
		Recipient:  e2ee.DeviceRef{UserID: r.json.UserID, DeviceID: r.json.DeviceID},
		Enc:        out[:32],
		Ciphertext: out[32:],
	}, nil
}

func craftSignedBytes(header, commitment, ciphertext []byte, recipients []*device) []byte {
	digest := sha256.Sum256(ciphertext)
	b := append([]byte("bedside-e2ee-v1 message signature"), 0)
	b = binary.BigEndian.AppendUint16(b, uint16(len(header)))
	b = append(b, header...)
	b = append(b, digest[:]...)
	b = append(b, commitment...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(recipients)))
	for _, r := range recipients {
		b = appendStr8(b, r.json.UserID)
		b = appendStr8(b, r.json.DeviceID)
	}
	return b
}

// padTo places payload, the 0x80 marker and zeros in a block of size bytes.
// With marker false the block holds only the payload and zeros.
func padTo(payload []byte, size int, marker bool) []byte {
	out := make([]byte, size)
	copy(out, payload)
	if marker {
		out[len(payload)] = 0x80
	}
	return out
}
