package store

import (
	"crypto/aes"
	"crypto/cipher"
	"fmt"
)

// sealKeyLabel is the HKDF info that derives the sealing key from the
// server key.
const sealKeyLabel = "bedside seal v1"

// sealVersion is the first byte of every sealed value.
const sealVersion = 0x01

// Sealer encrypts server-held secrets (TOTP seeds, billing fields) with
// AES-256-GCM under a key derived from the server key. Each value is bound
// to its location, a string such as "accounts/<id>/totp", passed as
// associated data: a value copied to another record fails to open.
//
// A sealed value is: version (1 byte, 0x01) || nonce (12 bytes) ||
// ciphertext and tag. Nonces are random; with 2^32 seals per key the chance
// of a repeat stays below 2^-32. Sealer is safe for concurrent use.
type Sealer struct {
	aead cipher.AEAD
}

// NewSealer returns a Sealer keyed from k.
func NewSealer(k *ServerKey) *Sealer {
	block, err := aes.NewCipher(k.Derive(sealKeyLabel, 32))
	if err != nil {
		panic("store: AES-256 rejected a 32-byte key: " + err.Error())
	}
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		panic("store: GCM setup failed: " + err.Error())
	}
	return &Sealer{aead: aead}
}

// Seal encrypts plaintext for storage at location. The result is a new
// slice; plaintext is not retained.
func (s *Sealer) Seal(location string, plaintext []byte) []byte {
	out := make([]byte, 1, 1+s.aead.NonceSize()+len(plaintext)+s.aead.Overhead())
	out[0] = sealVersion
	return s.aead.Seal(out, nil, plaintext, []byte(location))
}

// Open decrypts a value sealed for location. It fails with ErrUnsealFailed
// when the value was altered, moved or sealed under another key.
func (s *Sealer) Open(location string, sealed []byte) ([]byte, error) {
	if len(sealed) < 1 || sealed[0] != sealVersion {
		return nil, fmt.Errorf("%w at %s: unknown format", ErrUnsealFailed, location)
	}
	plain, err := s.aead.Open(nil, nil, sealed[1:], []byte(location))
	if err != nil {
		return nil, fmt.Errorf("%w at %s", ErrUnsealFailed, location)
	}
	return plain, nil
}
