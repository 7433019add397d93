package e2ee

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha512"
	"encoding/binary"
	"fmt"
	"strings"
)

// Safety number layout.
const (
	safetyDigitsPerUser = 30
	safetyWordsPerUser  = 4
)

// SafetyNumber lets two users confirm out of band (for example aloud during
// a video consultation) that each holds the other's real identity key. Both
// sides compute the same value whatever the argument order.
type SafetyNumber struct {
	// Digits holds 60 decimal digits: 30 from each user's fingerprint, the
	// smaller 30-digit string first.
	Digits string
	// Words holds 8 words of the embedded list: 4 from each user's
	// fingerprint, in the same user order as Digits.
	Words []string
}

// DigitGroups returns the digits in 12 space-separated groups of 5.
func (s SafetyNumber) DigitGroups() string {
	var b strings.Builder
	for i := 0; i < len(s.Digits); i += 5 {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(s.Digits[i:min(i+5, len(s.Digits))])
	}
	return b.String()
}

// String returns the digit groups followed by the words.
func (s SafetyNumber) String() string {
	return s.DigitGroups() + " / " + strings.Join(s.Words, " ")
}

// userFingerprint returns SHA-512(label || 0x00 || str8 user id || identity key).
func userFingerprint(userID string, identityKey ed25519.PublicKey) ([]byte, error) {
	if err := checkID("user id", userID); err != nil {
		return nil, err
	}
	if len(identityKey) != SigningKeySize {
		return nil, fmt.Errorf("identity key of %q is %d bytes: %w", userID, len(identityKey), ErrMalformed)
	}
	var e encoder
	e.str8(userID)
	e.raw(identityKey)
	sum := sha512.Sum512(signedBytes(LabelSafetyNumber, e.b))
	return sum[:], nil
}

// fingerprintDigits turns fingerprint bytes 0..29 into 30 digits: each
// 5-byte big-endian group modulo 100000, written as 5 digits.
func fingerprintDigits(fp []byte) string {
	var b strings.Builder
	for i := 0; i < safetyDigitsPerUser/5; i++ {
		var group [8]byte
		copy(group[3:], fp[5*i:5*i+5])
		fmt.Fprintf(&b, "%05d", binary.BigEndian.Uint64(group[:])%100000)
	}
	return b.String()
}

// ComputeSafetyNumber derives the safety number of two users from their
// user ids and identity public keys.
func ComputeSafetyNumber(userA string, keyA ed25519.PublicKey, userB string, keyB ed25519.PublicKey) (SafetyNumber, error) {
	fpA, err := userFingerprint(userA, keyA)
	if err != nil {
		return SafetyNumber{}, fmt.Errorf("safety number: %w", err)
	}
	fpB, err := userFingerprint(userB, keyB)
	if err != nil {
		return SafetyNumber{}, fmt.Errorf("safety number: %w", err)
	}
	digitsA, digitsB := fingerprintDigits(fpA), fingerprintDigits(fpB)
	if digitsB < digitsA || (digitsB == digitsA && bytes.Compare(fpB, fpA) < 0) {
		fpA, fpB = fpB, fpA
		digitsA, digitsB = digitsB, digitsA
	}
	words := make([]string, 0, 2*safetyWordsPerUser)
	for _, fp := range [][]byte{fpA, fpB} {
		for _, b := range fp[safetyDigitsPerUser : safetyDigitsPerUser+safetyWordsPerUser] {
			words = append(words, wordList[b])
		}
	}
	return SafetyNumber{Digits: digitsA + digitsB, Words: words}, nil
}

// SafetyWordList returns a copy of the embedded word list, indexed by byte
// value.
func SafetyWordList() []string { return append([]string(nil), wordList[:]...) }
