package e2ee

import (
	"crypto/ed25519"
	"fmt"
	"slices"
)

// This file holds the checks the messaging server runs without any private
// key: ParseSealed (structure), VerifySignature (sender device) and
// CompareRecipients (envelope set against the current devices).

// VerifySignature checks the sender device's Ed25519 signature over the
// header, the ciphertext digest, the key commitment and the recipient list.
// signingKey is the Ed25519 key of the device the header names as sender.
func (m *SealedMessage) VerifySignature(signingKey ed25519.PublicKey) error {
	if len(signingKey) != SigningKeySize || len(m.Signature) != SignatureSize {
		return fmt.Errorf("message %s: %w", m.Header.MessageID, ErrBadSignature)
	}
	msg := signedMessageBytes(m.HeaderBytes, m.Commitment, m.Ciphertext, m.Recipients())
	if !ed25519.Verify(signingKey, msg, m.Signature) {
		return fmt.Errorf("message %s from %s: %w", m.Header.MessageID, m.Header.Sender(), ErrBadSignature)
	}
	return nil
}

// RecipientMismatchError lists how a message's envelope set differs from
// the devices the server expects. Missing devices have no envelope; extra
// envelopes name devices that are not current. The sender refetches the
// device lists and seals again with the same content under a new message.
type RecipientMismatchError struct {
	Missing []DeviceRef
	Extra   []DeviceRef
}

func (e *RecipientMismatchError) Error() string {
	return fmt.Sprintf("e2ee: envelope set differs from current devices: %d missing, %d extra: %s",
		len(e.Missing), len(e.Extra), ErrInvalidRecipients.msg)
}

// Unwrap makes errors.Is(err, ErrInvalidRecipients) true.
func (e *RecipientMismatchError) Unwrap() error { return ErrInvalidRecipients }

// CompareRecipients compares the envelope recipients of m with want, the
// current devices of every conversation participant (the sender's other
// devices included). It returns nil when they are equal as sets and a
// *RecipientMismatchError otherwise. The sending device itself may be in
// either list or in neither: it is ignored.
func CompareRecipients(m *SealedMessage, want []DeviceRef) error {
	sender := m.Header.Sender()
	have := make(map[DeviceRef]bool, len(m.Envelopes))
	for _, env := range m.Envelopes {
		have[env.Recipient] = true
	}
	wanted := make(map[DeviceRef]bool, len(want))
	var mismatch RecipientMismatchError
	for _, r := range want {
		wanted[r] = true
		if r != sender && !have[r] {
			mismatch.Missing = append(mismatch.Missing, r)
		}
	}
	for _, env := range m.Envelopes {
		if env.Recipient != sender && !wanted[env.Recipient] {
			mismatch.Extra = append(mismatch.Extra, env.Recipient)
		}
	}
	if len(mismatch.Missing) == 0 && len(mismatch.Extra) == 0 {
		return nil
	}
	byRef := func(a, b DeviceRef) int { return a.compare(b) }
	slices.SortFunc(mismatch.Missing, byRef)
	mismatch.Missing = slices.Compact(mismatch.Missing)
	slices.SortFunc(mismatch.Extra, byRef)
	return &mismatch
}
