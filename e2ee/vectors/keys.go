package vectors

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ed25519"
	"fmt"

	"github.com/bedside-health/bedside/e2ee"
)

// IdentityJSON is an identity key pair in a vector file.
type IdentityJSON struct {
	UserID    string `json:"user_id"`
	Seed      Hex    `json:"seed"`
	PublicKey Hex    `json:"public_key"`
}

// DeviceJSON is a device's key pairs in a vector file. The HPKE private key
// is the 32-byte X25519 scalar; the signing seed is the 32-byte Ed25519 seed.
type DeviceJSON struct {
	UserID           string `json:"user_id"`
	DeviceID         string `json:"device_id"`
	HPKEPrivateKey   Hex    `json:"hpke_private_key"`
	HPKEPublicKey    Hex    `json:"hpke_public_key"`
	SigningSeed      Hex    `json:"signing_seed"`
	SigningPublicKey Hex    `json:"signing_public_key"`
}

// Keys converts d back to package types.
func (d DeviceJSON) Keys() (*e2ee.DeviceKeys, error) {
	raw := append(append([]byte(nil), d.HPKEPrivateKey...), d.SigningSeed...)
	return e2ee.GenerateDeviceKeys(bytes.NewReader(raw), d.UserID, d.DeviceID)
}

// Public returns the public half of d.
func (d DeviceJSON) Public() e2ee.DevicePublic {
	return e2ee.DevicePublic{
		UserID:     d.UserID,
		DeviceID:   d.DeviceID,
		HPKEKey:    d.HPKEPublicKey,
		SigningKey: ed25519.PublicKey(d.SigningPublicKey),
	}
}

type device struct {
	json    DeviceJSON
	keys    *e2ee.DeviceKeys
	signing ed25519.PrivateKey
}

type identity struct {
	json IdentityJSON
	id   *e2ee.Identity
}

// keySet holds every key the vectors use, generated in a fixed order.
type keySet struct {
	identities map[string]*identity
	devices    map[string]*device
	idOrder    []string
	devOrder   []string
}

func newKeySet() (*keySet, error) {
	r := stream("keys")
	ks := &keySet{identities: map[string]*identity{}, devices: map[string]*device{}}
	for _, spec := range []struct{ name, user string }{
		{"patient", "u-patient"},
		{"clinician", "u-clinician"},
		{"attacker", "u-clinician"},
	} {
		seed := mustRead(r, 32)
		id, err := e2ee.IdentityFromSeed(seed)
		if err != nil {
			return nil, err
		}
		ks.identities[spec.name] = &identity{
			json: IdentityJSON{UserID: spec.user, Seed: seed, PublicKey: Hex(id.PublicKey())},
			id:   id,
		}
		ks.idOrder = append(ks.idOrder, spec.name)
	}
	for _, spec := range []struct{ name, user, dev string }{
		{"patient-phone", "u-patient", "d-phone"},
		{"patient-laptop", "u-patient", "d-laptop"},
		{"clinician-desktop", "u-clinician", "d-desktop"},
		{"clinician-tablet", "u-clinician", "d-tablet"},
		{"clinician-rogue", "u-clinician", "d-rogue"},
	} {
		material := mustRead(r, 64)
		keys, err := e2ee.GenerateDeviceKeys(bytes.NewReader(material), spec.user, spec.dev)
		if err != nil {
			return nil, err
		}
		xpriv, err := ecdh.X25519().NewPrivateKey(material[:32])
		if err != nil {
			return nil, err
		}
		signing := ed25519.NewKeyFromSeed(material[32:])
		pub := keys.Public()
		if !bytes.Equal(pub.HPKEKey, xpriv.PublicKey().Bytes()) {
			return nil, fmt.Errorf("device %s: HPKE public key differs from X25519 of the scalar", spec.name)
		}
		ks.devices[spec.name] = &device{
			json: DeviceJSON{
				UserID:           spec.user,
				DeviceID:         spec.dev,
				HPKEPrivateKey:   material[:32],
				HPKEPublicKey:    pub.HPKEKey,
				SigningSeed:      material[32:],
				SigningPublicKey: Hex(pub.SigningKey),
			},
			keys:    keys,
			signing: signing,
		}
		ks.devOrder = append(ks.devOrder, spec.name)
	}
	return ks, nil
}

func (ks *keySet) deviceJSON(names ...string) map[string]DeviceJSON {
	out := map[string]DeviceJSON{}
	for _, n := range names {
		out[n] = ks.devices[n].json
	}
	return out
}

func (ks *keySet) identityJSON(names ...string) map[string]IdentityJSON {
	out := map[string]IdentityJSON{}
	for _, n := range names {
		out[n] = ks.identities[n].json
	}
	return out
}

func (ks *keySet) publics(names ...string) []e2ee.DevicePublic {
	out := make([]e2ee.DevicePublic, len(names))
	for i, n := range names {
		out[i] = ks.devices[n].keys.Public()
	}
	return out
}
