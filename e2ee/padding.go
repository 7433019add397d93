package e2ee

import (
	"fmt"
	"math/bits"
)

// Padding sizes. A padded plaintext is never shorter than MinPaddedSize and
// never longer than MaxPaddedSize.
const (
	MinPaddedSize = 256
	MaxPaddedSize = 1 << 20
	// MaxPayloadSize is the longest payload that pads to at most
	// MaxPaddedSize (one byte goes to the 0x80 marker).
	MaxPayloadSize = MaxPaddedSize - 1
)

// padme rounds n up to the Padmé length of Nikitin et al., "Reducing
// Metadata Leakage from Encrypted Files and Communication with PURBs" (PETS
// 2019): with E = floor(log2(n)) and S = floor(log2(E))+1, it rounds n up to
// a multiple of 2^(E-S). TestPaddedSizeBounds checks the overhead stays below
// 12.5%.
func padme(n int) int {
	if n < 2 {
		return n
	}
	e := bits.Len(uint(n)) - 1 // floor(log2 n)
	s := bits.Len(uint(e))     // floor(log2 e) + 1
	mask := (1 << (e - s)) - 1 // low bits to round away
	return (n + mask) &^ mask
}

// PaddedSize returns the padded length of a payload of n bytes:
// max(MinPaddedSize, padme(n+1)).
func PaddedSize(n int) int {
	return max(MinPaddedSize, padme(n+1))
}

// ValidPaddedSize reports whether n is a length PaddedSize can return:
// within [MinPaddedSize, MaxPaddedSize] and unchanged by Padmé rounding.
func ValidPaddedSize(n int) bool {
	return n >= MinPaddedSize && n <= MaxPaddedSize && padme(n) == n
}

// pad appends the 0x80 marker and zero bytes to payload up to PaddedSize
// (ISO/IEC 7816-4 padding). The result is a new slice.
func pad(payload []byte) ([]byte, error) {
	if len(payload) > MaxPayloadSize {
		return nil, fmt.Errorf("payload of %d bytes exceeds %d: %w", len(payload), MaxPayloadSize, ErrInvalidSize)
	}
	out := make([]byte, PaddedSize(len(payload)))
	copy(out, payload)
	out[len(payload)] = 0x80
	return out, nil
}

// unpad removes the padding pad added. It rejects a length that is not a
// padded size, a missing marker, and non-zero bytes after the marker. It
// returns a subslice of padded.
func unpad(padded []byte) ([]byte, error) {
	if !ValidPaddedSize(len(padded)) {
		return nil, fmt.Errorf("padded length %d: %w", len(padded), ErrPadding)
	}
	i := len(padded) - 1
	for i >= 0 && padded[i] == 0 {
		i--
	}
	if i < 0 || padded[i] != 0x80 {
		return nil, fmt.Errorf("padding marker not found: %w", ErrPadding)
	}
	// The marker must sit where PaddedSize would have put it, so every
	// payload has exactly one padded form.
	if PaddedSize(i) != len(padded) {
		return nil, fmt.Errorf("payload of %d bytes in a %d-byte padded block: %w", i, len(padded), ErrPadding)
	}
	return padded[:i], nil
}
