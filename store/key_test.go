package store

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestLoadOrCreateKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), KeyFileName)
	k1, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("key file mode: got %04o, want 0600", perm)
	}
	if info.Size() != KeySize {
		t.Errorf("key file size: got %d, want %d", info.Size(), KeySize)
	}
	k2, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatalf("reload: %v", err)
	}
	if k1.secret != k2.secret {
		t.Error("reloaded key differs from the created one")
	}
}

func TestLoadKeyRejects(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		mode os.FileMode
		want error
	}{
		{"group readable", bytes.Repeat([]byte{1}, KeySize), 0o640, ErrKeyPermissions},
		{"world readable", bytes.Repeat([]byte{1}, KeySize), 0o604, ErrKeyPermissions},
		{"short", []byte{1, 2, 3}, 0o600, ErrKeyInvalid},
		{"long", bytes.Repeat([]byte{1}, KeySize+1), 0o600, ErrKeyInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), KeyFileName)
			if err := os.WriteFile(path, tt.data, tt.mode); err != nil {
				t.Fatal(err)
			}
			os.Chmod(path, tt.mode)
			_, err := LoadOrCreateKey(path)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			after, _ := os.ReadFile(path)
			if !bytes.Equal(after, tt.data) {
				t.Error("a rejected key file was overwritten")
			}
		})
	}
}

func TestDeriveSeparatesPurposes(t *testing.T) {
	k, err := LoadOrCreateKey(filepath.Join(t.TempDir(), KeyFileName))
	if err != nil {
		t.Fatal(err)
	}
	a, b := k.Derive("purpose a", 32), k.Derive("purpose b", 32)
	if bytes.Equal(a, b) {
		t.Fatal("two labels derived the same key")
	}
	if !bytes.Equal(a, k.Derive("purpose a", 32)) {
		t.Fatal("Derive is not deterministic")
	}
}
