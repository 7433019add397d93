package e2ee

import (
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
)

// Key sizes in bytes.
const (
	HPKEPublicKeySize  = 32 // X25519 public key
	HPKEPrivateKeySize = 32 // X25519 private key (scalar bytes)
	SigningKeySize     = ed25519.PublicKeySize
	SignatureSize      = ed25519.SignatureSize
	seedSize           = ed25519.SeedSize
)

// DeviceRef names one device of one user.
type DeviceRef struct {
	UserID   string
	DeviceID string
}

// compare orders device references by user id, then device id, bytewise.
func (r DeviceRef) compare(o DeviceRef) int {
	switch {
	case r.UserID < o.UserID:
		return -1
	case r.UserID > o.UserID:
		return 1
	case r.DeviceID < o.DeviceID:
		return -1
	case r.DeviceID > o.DeviceID:
		return 1
	}
	return 0
}

func (r DeviceRef) String() string { return r.UserID + "/" + r.DeviceID }

// readKeyMaterial reads n bytes from r, or from crypto/rand when r is nil.
func readKeyMaterial(r io.Reader, n int) ([]byte, error) {
	if r == nil {
		r = rand.Reader
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("read random bytes: %w", err)
	}
	return b, nil
}

// Identity is a user's identity signing key (Ed25519). The first device of a
// user generates it. It signs device certificates and device lists, and
// safety numbers are computed from its public half. An Identity is safe for
// concurrent use because it never changes after creation.
//
// TODO(e2ee): no protocol yet moves the identity key to a new device, so
// only a device that generated it or imported its seed can certify others.
type Identity struct {
	priv ed25519.PrivateKey
}

// GenerateIdentity creates an identity key from 32 bytes of rand (crypto/rand
// when rand is nil). Pass a deterministic reader only in tests.
func GenerateIdentity(rand io.Reader) (*Identity, error) {
	seed, err := readKeyMaterial(rand, seedSize)
	if err != nil {
		return nil, fmt.Errorf("generate identity: %w", err)
	}
	return &Identity{priv: ed25519.NewKeyFromSeed(seed)}, nil
}

// IdentityFromSeed restores an identity key from its 32-byte seed.
func IdentityFromSeed(seed []byte) (*Identity, error) {
	if len(seed) != seedSize {
		return nil, fmt.Errorf("identity seed is %d bytes, want %d: %w", len(seed), seedSize, ErrMalformed)
	}
	return &Identity{priv: ed25519.NewKeyFromSeed(seed)}, nil
}

// PublicKey returns the identity public key. The caller must not modify it.
func (id *Identity) PublicKey() ed25519.PublicKey {
	return id.priv.Public().(ed25519.PublicKey)
}

// Seed returns a copy of the 32-byte private seed, for storage in a key file.
func (id *Identity) Seed() []byte { return id.priv.Seed() }

// LogValue redacts the key: only the public key appears in logs.
func (id *Identity) LogValue() slog.Value {
	return slog.GroupValue(slog.String("identity_public_key", fmt.Sprintf("%x", id.PublicKey())))
}

// DevicePublic is the public part of a device: its HPKE (X25519) key for
// receiving key envelopes and its Ed25519 key for signing messages.
type DevicePublic struct {
	UserID     string
	DeviceID   string
	HPKEKey    []byte            // 32-byte X25519 public key
	SigningKey ed25519.PublicKey // 32-byte Ed25519 public key
}

// Ref returns the device reference of d.
func (d DevicePublic) Ref() DeviceRef { return DeviceRef{UserID: d.UserID, DeviceID: d.DeviceID} }

func (d DevicePublic) validate() error {
	if err := checkID("user id", d.UserID); err != nil {
		return err
	}
	if err := checkID("device id", d.DeviceID); err != nil {
		return err
	}
	if len(d.HPKEKey) != HPKEPublicKeySize {
		return fmt.Errorf("device %s: HPKE key is %d bytes, want %d: %w",
			d.Ref(), len(d.HPKEKey), HPKEPublicKeySize, ErrMalformed)
	}
	if len(d.SigningKey) != SigningKeySize {
		return fmt.Errorf("device %s: signing key is %d bytes, want %d: %w",
			d.Ref(), len(d.SigningKey), SigningKeySize, ErrMalformed)
	}
	return nil
}

// DeviceKeys holds the private keys of one device. It is safe for concurrent
// use; it never changes after creation.
type DeviceKeys struct {
	userID   string
	deviceID string
	hpke     *ecdh.PrivateKey
	signing  ed25519.PrivateKey
}

// GenerateDeviceKeys creates the X25519 and Ed25519 keys of a device from 64
// bytes of rand (crypto/rand when rand is nil).
func GenerateDeviceKeys(rand io.Reader, userID, deviceID string) (*DeviceKeys, error) {
	if err := checkID("user id", userID); err != nil {
		return nil, err
	}
	if err := checkID("device id", deviceID); err != nil {
		return nil, err
	}
	material, err := readKeyMaterial(rand, HPKEPrivateKeySize+seedSize)
	if err != nil {
		return nil, fmt.Errorf("generate device keys: %w", err)
	}
	return newDeviceKeys(userID, deviceID, material[:HPKEPrivateKeySize], material[HPKEPrivateKeySize:])
}

func newDeviceKeys(userID, deviceID string, hpkeKey, seed []byte) (*DeviceKeys, error) {
	priv, err := ecdh.X25519().NewPrivateKey(hpkeKey)
	if err != nil {
		return nil, fmt.Errorf("device HPKE key: %w", err)
	}
	return &DeviceKeys{
		userID:   userID,
		deviceID: deviceID,
		hpke:     priv,
		signing:  ed25519.NewKeyFromSeed(seed),
	}, nil
}

// Ref returns the user and device id of k.
func (k *DeviceKeys) Ref() DeviceRef { return DeviceRef{UserID: k.userID, DeviceID: k.deviceID} }

// Public returns the public half of k. The returned slices are fresh copies.
func (k *DeviceKeys) Public() DevicePublic {
	return DevicePublic{
		UserID:     k.userID,
		DeviceID:   k.deviceID,
		HPKEKey:    k.hpke.PublicKey().Bytes(),
		SigningKey: append(ed25519.PublicKey(nil), k.signing.Public().(ed25519.PublicKey)...),
	}
}

// LogValue redacts the private keys: only the device reference appears.
func (k *DeviceKeys) LogValue() slog.Value {
	return slog.GroupValue(slog.String("user_id", k.userID), slog.String("device_id", k.deviceID))
}

// MarshalBinary encodes the private keys for a key file (mode 0600):
//
//	u8 version || str8 user id || str8 device id || 32 X25519 private key || 32 Ed25519 seed
func (k *DeviceKeys) MarshalBinary() ([]byte, error) {
	var e encoder
	e.u8(Version)
	e.str8(k.userID)
	e.str8(k.deviceID)
	e.raw(k.hpke.Bytes())
	e.raw(k.signing.Seed())
	return e.b, nil
}

// ParseDeviceKeys decodes the output of DeviceKeys.MarshalBinary.
func ParseDeviceKeys(b []byte) (*DeviceKeys, error) {
	d := decoder{b: b}
	if v := d.u8("version"); d.err == nil && v != Version {
		return nil, fmt.Errorf("device key file version %d: %w", v, ErrUnsupportedVersion)
	}
	userID := d.id("user id")
	deviceID := d.id("device id")
	hpkeKey := d.read(HPKEPrivateKeySize, "HPKE private key")
	seed := d.read(seedSize, "signing seed")
	if err := d.finish("device keys"); err != nil {
		return nil, fmt.Errorf("parse device keys: %w", err)
	}
	return newDeviceKeys(userID, deviceID, hpkeKey, seed)
}
