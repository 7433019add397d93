package store

import (
	"bytes"
	"errors"
	"path/filepath"
	"testing"
)

func newTestSealer(t *testing.T) *Sealer {
	t.Helper()
	k, err := LoadOrCreateKey(filepath.Join(t.TempDir(), KeyFileName))
	if err != nil {
		t.Fatal(err)
	}
	return NewSealer(k)
}

func TestSealRoundTrip(t *testing.T) {
	s := newTestSealer(t)
	secret := []byte("JBSWY3DPEHPK3PXP")
	sealed := s.Seal("accounts/u1/totp", secret)
	if bytes.Contains(sealed, secret) {
		t.Fatal("sealed value contains the plaintext")
	}
	got, err := s.Open("accounts/u1/totp", sealed)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if !bytes.Equal(got, secret) {
		t.Fatalf("Open: got %q, want %q", got, secret)
	}
	if again := s.Seal("accounts/u1/totp", secret); bytes.Equal(again, sealed) {
		t.Error("two seals of the same value are identical: nonce reused")
	}
}

func TestSealRejectsTamperedAndMoved(t *testing.T) {
	s := newTestSealer(t)
	sealed := s.Seal("accounts/u1/totp", []byte("seed"))
	if _, err := s.Open("accounts/u2/totp", sealed); !errors.Is(err, ErrUnsealFailed) {
		t.Errorf("value moved to another location: got %v, want ErrUnsealFailed", err)
	}
	for i := range sealed {
		for bit := 0; bit < 8; bit++ {
			flipped := bytes.Clone(sealed)
			flipped[i] ^= 1 << bit
			if _, err := s.Open("accounts/u1/totp", flipped); !errors.Is(err, ErrUnsealFailed) {
				t.Fatalf("bit %d of byte %d flipped: got %v, want ErrUnsealFailed", bit, i, err)
			}
		}
	}
	if _, err := s.Open("accounts/u1/totp", sealed[:10]); !errors.Is(err, ErrUnsealFailed) {
		t.Errorf("truncated value: got %v, want ErrUnsealFailed", err)
	}
	other := newTestSealer(t)
	if _, err := other.Open("accounts/u1/totp", sealed); !errors.Is(err, ErrUnsealFailed) {
		t.Errorf("value under another server key: got %v, want ErrUnsealFailed", err)
	}
}
