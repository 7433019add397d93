package e2ee

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/hpke"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"io"
	"slices"
	"time"
)

// Message is the input of Seal: the payload and the header fields the
// sender chooses. Seal adds the message id and the sender.
type Message struct {
	ConversationID string
	ContentType    ContentType
	Time           time.Time // truncated to milliseconds
	Payload        []byte    // at most MaxPayloadSize bytes, for ContentMessage an encoded Payload
}

// The HPKE suite of every envelope: mode base, DHKEM(X25519, HKDF-SHA256),
// HKDF-SHA256, AES-256-GCM (RFC 9180 ids 0x0020, 0x0001, 0x0002).
var (
	hpkeKEM  = hpke.DHKEM(ecdh.X25519())
	hpkeKDF  = hpke.HKDFSHA256()
	hpkeAEAD = hpke.AES256GCM()
)

// Seal encrypts msg from sender to every device in recipients, which must
// include the sender's other devices. rand supplies the message id and the
// content key (crypto/rand when nil); the HPKE ephemeral keys always come
// from crypto/hpke's own generator. The recipients come from verified device
// lists; Seal sorts them and rejects duplicates.
func Seal(rand io.Reader, sender *DeviceKeys, msg Message, recipients []DevicePublic) (*SealedMessage, error) {
	sorted, err := sortRecipients(recipients)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	random, err := readKeyMaterial(rand, len(MessageID{})+contentKeySize)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	h := Header{
		Version:        Version,
		ContentType:    msg.ContentType,
		ConversationID: msg.ConversationID,
		SenderUserID:   sender.userID,
		SenderDeviceID: sender.deviceID,
		Time:           msg.Time.Truncate(time.Millisecond).UTC(),
	}
	copy(h.MessageID[:], random)
	contentKey := random[len(h.MessageID):]
	headerBytes, err := h.marshal()
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	padded, err := pad(msg.Payload)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}

	aead, commitment, err := messageKeys(contentKey)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	m := &SealedMessage{
		Header:      h,
		HeaderBytes: headerBytes,
		Commitment:  commitment,
		Ciphertext:  aead.Seal(nil, zeroNonce[:], padded, headerBytes),
		Envelopes:   make([]Envelope, 0, len(sorted)),
	}
	for _, r := range sorted {
		env, err := sealEnvelope(r, &h, headerBytes, contentKey)
		if err != nil {
			return nil, fmt.Errorf("seal: %w", err)
		}
		m.Envelopes = append(m.Envelopes, env)
	}
	m.Signature = ed25519.Sign(sender.signing,
		signedMessageBytes(headerBytes, commitment, m.Ciphertext, m.Recipients()))
	return m, nil
}

func sortRecipients(recipients []DevicePublic) ([]DevicePublic, error) {
	if len(recipients) == 0 || len(recipients) > MaxRecipients {
		return nil, fmt.Errorf("%d recipients: %w", len(recipients), ErrInvalidRecipients)
	}
	sorted := slices.Clone(recipients)
	slices.SortFunc(sorted, func(a, b DevicePublic) int { return a.Ref().compare(b.Ref()) })
	for i, r := range sorted {
		if err := r.validate(); err != nil {
			return nil, err
		}
		if i > 0 && sorted[i-1].Ref() == r.Ref() {
			return nil, fmt.Errorf("recipient %s listed twice: %w", r.Ref(), ErrInvalidRecipients)
		}
	}
	return sorted, nil
}

// zeroNonce is the AES-256-GCM nonce of message content. Each message key
// encrypts exactly one plaintext, so a constant nonce never repeats under a
// key.
var zeroNonce [12]byte

// messageKeys derives the AES-256-GCM key and the key commitment from a
// content key with HKDF-SHA256 (empty salt).
func messageKeys(contentKey []byte) (cipher.AEAD, []byte, error) {
	key, err := hkdf.Key(sha256.New, contentKey, nil, LabelMessageKey, 32)
	if err != nil {
		return nil, nil, err
	}
	commitment, err := hkdf.Key(sha256.New, contentKey, nil, LabelKeyCommitment, CommitmentSize)
	if err != nil {
		return nil, nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, nil, err
	}
	return aead, commitment, nil
}

// envelopeInfo returns the HPKE info of the envelope for recipient r:
//
//	label || 0x00 || u8 version || str8 conversation id || 16 message id ||
//	str8 recipient user id || str8 recipient device id || SHA-256(header)
func envelopeInfo(h *Header, headerBytes []byte, r DeviceRef) []byte {
	digest := sha256.Sum256(headerBytes)
	e := encoder{b: make([]byte, 0, 64+3*(1+MaxIDLength)+16+32)}
	e.raw([]byte(LabelEnvelope))
	e.u8(0)
	e.u8(h.Version)
	e.str8(h.ConversationID)
	e.raw(h.MessageID[:])
	e.str8(r.UserID)
	e.str8(r.DeviceID)
	e.raw(digest[:])
	return e.b
}

func sealEnvelope(r DevicePublic, h *Header, headerBytes, contentKey []byte) (Envelope, error) {
	pub, err := hpkeKEM.NewPublicKey(r.HPKEKey)
	if err != nil {
		return Envelope{}, fmt.Errorf("HPKE key of %s: %w", r.Ref(), err)
	}
	out, err := hpke.Seal(pub, hpkeKDF, hpkeAEAD, envelopeInfo(h, headerBytes, r.Ref()), contentKey)
	if err != nil {
		return Envelope{}, fmt.Errorf("envelope for %s: %w", r.Ref(), err)
	}
	return Envelope{
		Recipient:  r.Ref(),
		Enc:        out[:envelopeEncSize:envelopeEncSize],
		Ciphertext: out[envelopeEncSize:],
	}, nil
}

// Open verifies and decrypts m for the recipient device and returns the
// payload. sender is the sending device's public key from its user's
// verified device list; it must match the header's sender. Open checks, in
// order: sender, signature, envelope, key commitment, content, padding. It
// does not check replays: pass the header to a ReplayGuard after Open
// succeeds.
func Open(recipient *DeviceKeys, m *SealedMessage, sender DevicePublic) ([]byte, error) {
	if sender.Ref() != m.Header.Sender() {
		return nil, fmt.Errorf("open message %s: key of %s for sender %s: %w",
			m.Header.MessageID, sender.Ref(), m.Header.Sender(), ErrSenderMismatch)
	}
	if err := m.VerifySignature(sender.SigningKey); err != nil {
		return nil, fmt.Errorf("open: %w", err)
	}

	env, ok := m.envelopeFor(recipient.Ref())
	if !ok {
		return nil, fmt.Errorf("open message %s for %s: %w", m.Header.MessageID, recipient.Ref(), ErrNotRecipient)
	}
	contentKey, err := openEnvelope(recipient, m, env)
	if err != nil {
		return nil, fmt.Errorf("open message %s: %w", m.Header.MessageID, err)
	}

	aead, commitment, err := messageKeys(contentKey)
	if err != nil {
		return nil, fmt.Errorf("open message %s: %w", m.Header.MessageID, err)
	}
	if subtle.ConstantTimeCompare(commitment, m.Commitment) != 1 {
		return nil, fmt.Errorf("open message %s: %w", m.Header.MessageID, ErrKeyCommitment)
	}
	padded, err := aead.Open(nil, zeroNonce[:], m.Ciphertext, m.HeaderBytes)
	if err != nil {
		return nil, fmt.Errorf("open message %s: %w", m.Header.MessageID, ErrDecrypt)
	}
	payload, err := unpad(padded)
	if err != nil {
		return nil, fmt.Errorf("open message %s: %w", m.Header.MessageID, err)
	}
	return payload, nil
}

func (m *SealedMessage) envelopeFor(r DeviceRef) (Envelope, bool) {
	i, found := slices.BinarySearchFunc(m.Envelopes, r, func(e Envelope, r DeviceRef) int {
		return e.Recipient.compare(r)
	})
	if !found {
		return Envelope{}, false
	}
	return m.Envelopes[i], true
}

func openEnvelope(recipient *DeviceKeys, m *SealedMessage, env Envelope) ([]byte, error) {
	priv, err := hpke.NewDHKEMPrivateKey(recipient.hpke)
	if err != nil {
		return nil, err
	}
	sealed := make([]byte, 0, len(env.Enc)+len(env.Ciphertext))
	sealed = append(append(sealed, env.Enc...), env.Ciphertext...)
	contentKey, err := hpke.Open(priv, hpkeKDF, hpkeAEAD, envelopeInfo(&m.Header, m.HeaderBytes, env.Recipient), sealed)
	if err != nil || len(contentKey) != contentKeySize {
		return nil, fmt.Errorf("envelope for %s: %w", env.Recipient, ErrEnvelope)
	}
	return contentKey, nil
}
