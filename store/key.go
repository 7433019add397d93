package store

import (
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
)

// KeyFileName is the server key file's default name in the data directory.
const KeyFileName = "server.key"

// KeySize is the length of the server key in bytes.
const KeySize = 32

// ServerKey is the 32-byte secret from which the server derives its sealing
// and signing keys. It redacts itself in logs.
type ServerKey struct {
	secret [KeySize]byte
}

// LogValue keeps the key out of logs.
func (k *ServerKey) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// Derive returns n bytes derived from the server key with HKDF-SHA256 for
// the given purpose label. Each purpose gets an independent key.
func (k *ServerKey) Derive(label string, n int) []byte {
	out, err := hkdf.Key(sha256.New, k.secret[:], nil, label, n)
	if err != nil {
		panic("store: HKDF output length out of range: " + err.Error())
	}
	return out
}

// LoadOrCreateKey reads the server key at path, creating it atomically with
// 32 random bytes and mode 0600 when it does not exist. It rejects a file
// that others can read or write, or that is not exactly 32 bytes long.
func LoadOrCreateKey(path string) (*ServerKey, error) {
	k, err := LoadKey(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return k, err
	}
	var secret [KeySize]byte
	if _, err := io.ReadFull(rand.Reader, secret[:]); err != nil {
		return nil, fmt.Errorf("generate server key: %w", err)
	}
	_, err = WriteFileExclusive(path, func(w io.Writer) (int64, error) {
		n, err := w.Write(secret[:])
		return int64(n), err
	})
	if err != nil {
		// Another process may have created the key first: use that one.
		if k, lerr := LoadKey(path); lerr == nil {
			return k, nil
		}
		return nil, fmt.Errorf("create server key: %w", err)
	}
	return &ServerKey{secret: secret}, nil
}

// LoadKey reads an existing server key file.
func LoadKey(path string) (*ServerKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open server key: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat server key: %w", err)
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %04o; run chmod 600 %s",
			ErrKeyPermissions, path, perm, path)
	}
	var k ServerKey
	var extra [1]byte
	if _, err := io.ReadFull(f, k.secret[:]); err != nil {
		return nil, fmt.Errorf("%w: %s is shorter than %d bytes", ErrKeyInvalid, path, KeySize)
	}
	if n, _ := f.Read(extra[:]); n != 0 {
		return nil, fmt.Errorf("%w: %s is longer than %d bytes", ErrKeyInvalid, path, KeySize)
	}
	return &k, nil
}
