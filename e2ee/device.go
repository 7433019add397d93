package e2ee

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"slices"
	"time"
)

// MaxDevices is the maximum number of devices in one user's device list.
const MaxDevices = 64

// maxCertificateSize bounds an encoded certificate: version, two identifiers,
// two keys, a time and a signature.
const maxCertificateSize = 1 + 2*(1+MaxIDLength) + 2*32 + 8 + SignatureSize

// DeviceCertificate binds a device's keys to a user. The user's identity key
// signs it. Fields are read-only after Parse or Certify.
type DeviceCertificate struct {
	Device  DevicePublic
	Created time.Time // millisecond precision, UTC
	body    []byte    // exact signed body
	sig     []byte
}

// Certify signs a certificate for dev, created at the given time (truncated
// to milliseconds).
func (id *Identity) Certify(dev DevicePublic, created time.Time) (*DeviceCertificate, error) {
	if err := dev.validate(); err != nil {
		return nil, fmt.Errorf("certify device: %w", err)
	}
	ms, err := unixMilli("certificate time", created)
	if err != nil {
		return nil, err
	}
	var e encoder
	e.u8(Version)
	e.str8(dev.UserID)
	e.str8(dev.DeviceID)
	e.raw(dev.HPKEKey)
	e.raw(dev.SigningKey)
	e.u64(ms)
	sig := ed25519.Sign(id.priv, certificateSignedBytes(e.b))
	return ParseDeviceCertificate(append(e.b, sig...))
}

// ParseDeviceCertificate decodes a certificate and checks its structure. It
// does not verify the signature: call Verify with the pinned identity key.
//
//	u8 version || str8 user id || str8 device id || 32 X25519 key ||
//	32 Ed25519 key || u64 created (unix ms) || 64 signature
func ParseDeviceCertificate(b []byte) (*DeviceCertificate, error) {
	if len(b) > maxCertificateSize {
		return nil, fmt.Errorf("device certificate of %d bytes: %w", len(b), ErrMalformed)
	}
	d := decoder{b: b}
	if v := d.u8("certificate version"); d.err == nil && v != Version {
		return nil, fmt.Errorf("device certificate version %d: %w", v, ErrUnsupportedVersion)
	}
	c := &DeviceCertificate{}
	c.Device.UserID = d.id("certificate user id")
	c.Device.DeviceID = d.id("certificate device id")
	c.Device.HPKEKey = d.read(HPKEPublicKeySize, "certificate HPKE key")
	c.Device.SigningKey = d.read(SigningKeySize, "certificate signing key")
	created := d.u64("certificate time")
	bodyLen := len(b) - len(d.b)
	c.sig = d.read(SignatureSize, "certificate signature")
	if err := d.finish("device certificate"); err != nil {
		return nil, fmt.Errorf("parse device certificate: %w", err)
	}
	c.Created = time.UnixMilli(int64(created)).UTC()
	c.body = b[:bodyLen:bodyLen]
	return c, nil
}

// Verify checks the certificate's signature under identityKey.
func (c *DeviceCertificate) Verify(identityKey ed25519.PublicKey) error {
	if len(identityKey) != SigningKeySize ||
		!ed25519.Verify(identityKey, certificateSignedBytes(c.body), c.sig) {
		return fmt.Errorf("device certificate for %s: %w", c.Device.Ref(), ErrBadSignature)
	}
	return nil
}

// Bytes returns the encoded certificate. The caller must not modify it.
func (c *DeviceCertificate) Bytes() []byte {
	return append(c.body[:len(c.body):len(c.body)], c.sig...)
}

// DeviceList is a user's signed list of certified devices. The version grows
// with every change, so a client that remembers the last version it accepted
// detects a stale list replayed by the server. Fields are read-only.
type DeviceList struct {
	UserID       string
	IdentityKey  ed25519.PublicKey
	Version      uint64    // 1 or greater
	Issued       time.Time // millisecond precision, UTC
	Certificates []*DeviceCertificate
	raw          []byte // the whole encoding, signature included
	body         []byte // signed part
	sig          []byte
}

// SignDeviceList creates version `version` of userID's device list holding
// certs. Certificates are sorted by device id; a duplicate device id, a
// certificate of another user or an empty list is an error.
func (id *Identity) SignDeviceList(userID string, version uint64, issued time.Time,
	certs []*DeviceCertificate,
) (*DeviceList, error) {
	if err := checkID("user id", userID); err != nil {
		return nil, err
	}
	if version == 0 || version > MaxSafeInteger {
		return nil, fmt.Errorf("device list version %d out of range: %w", version, ErrInvalidDeviceList)
	}
	if len(certs) == 0 || len(certs) > MaxDevices {
		return nil, fmt.Errorf("device list with %d devices: %w", len(certs), ErrInvalidDeviceList)
	}
	ms, err := unixMilli("device list time", issued)
	if err != nil {
		return nil, err
	}

	sorted := slices.Clone(certs)
	slices.SortFunc(sorted, func(a, b *DeviceCertificate) int {
		return a.Device.Ref().compare(b.Device.Ref())
	})
	var e encoder
	e.u8(Version)
	e.str8(userID)
	e.raw(id.PublicKey())
	e.u64(version)
	e.u64(ms)
	e.u16(uint16(len(sorted)))
	for _, c := range sorted {
		cb := c.Bytes()
		e.u16(uint16(len(cb)))
		e.raw(cb)
	}
	sig := ed25519.Sign(id.priv, listSignedBytes(e.b))
	return ParseDeviceList(append(e.b, sig...))
}

// maxDeviceListSize bounds an encoded device list.
const maxDeviceListSize = 1 + 1 + MaxIDLength + 32 + 8 + 8 + 2 +
	MaxDevices*(2+maxCertificateSize) + SignatureSize

// ParseDeviceList decodes a device list and checks its structure: version,
// identifiers, 1 to MaxDevices certificates of this user in strictly
// ascending device id order. It does not verify signatures: call
// VerifyDeviceList.
//
//	u8 version || str8 user id || 32 identity key || u64 list version ||
//	u64 issued (unix ms) || u16 count || count x (u16 length || certificate) ||
//	64 signature
func ParseDeviceList(b []byte) (*DeviceList, error) {
	if len(b) > maxDeviceListSize {
		return nil, fmt.Errorf("device list of %d bytes: %w", len(b), ErrMalformed)
	}
	d := decoder{b: b}
	if v := d.u8("device list version"); d.err == nil && v != Version {
		return nil, fmt.Errorf("device list format version %d: %w", v, ErrUnsupportedVersion)
	}
	l := &DeviceList{raw: b}
	l.UserID = d.id("device list user id")
	l.IdentityKey = d.read(SigningKeySize, "identity key")
	l.Version = d.u64("device list version")
	issued := d.u64("device list time")
	count := int(d.u16("device count"))
	if d.err == nil && (count == 0 || count > MaxDevices) {
		return nil, fmt.Errorf("device list with %d devices: %w", count, ErrInvalidDeviceList)
	}
	if d.err == nil && l.Version == 0 {
		return nil, fmt.Errorf("device list version 0: %w", ErrInvalidDeviceList)
	}

	for i := 0; i < count && d.err == nil; i++ {
		n := int(d.u16("certificate length"))
		cb := d.read(n, "certificate")
		if d.err != nil {
			break
		}
		c, err := ParseDeviceCertificate(cb)
		if err != nil {
			return nil, fmt.Errorf("device list entry %d: %w", i, err)
		}
		if err := l.checkEntry(c); err != nil {
			return nil, err
		}
		l.Certificates = append(l.Certificates, c)
	}
	bodyLen := len(b) - len(d.b)
	l.sig = d.read(SignatureSize, "device list signature")
	if err := d.finish("device list"); err != nil {
		return nil, fmt.Errorf("parse device list: %w", err)
	}
	l.Issued = time.UnixMilli(int64(issued)).UTC()
	l.body = b[:bodyLen:bodyLen]
	return l, nil
}

// checkEntry checks that c belongs to the list's user and sorts after the
// previous entry.
func (l *DeviceList) checkEntry(c *DeviceCertificate) error {
	if c.Device.UserID != l.UserID {
		return fmt.Errorf("certificate of user %q in the list of %q: %w", c.Device.UserID, l.UserID, ErrUserMismatch)
	}
	if n := len(l.Certificates); n > 0 && l.Certificates[n-1].Device.DeviceID >= c.Device.DeviceID {
		return fmt.Errorf("device %q duplicated or out of order: %w", c.Device.DeviceID, ErrInvalidDeviceList)
	}
	return nil
}

// Bytes returns the encoded list. The caller must not modify it.
func (l *DeviceList) Bytes() []byte { return l.raw }

// Devices returns the public keys of the listed devices, in list order.
func (l *DeviceList) Devices() []DevicePublic {
	out := make([]DevicePublic, len(l.Certificates))
	for i, c := range l.Certificates {
		out[i] = c.Device
	}
	return out
}

// Device returns the listed device with the given id.
func (l *DeviceList) Device(deviceID string) (DevicePublic, bool) {
	for _, c := range l.Certificates {
		if c.Device.DeviceID == deviceID {
			return c.Device, true
		}
	}
	return DevicePublic{}, false
}

// VerifyDeviceList checks that list was issued under the pinned identityKey:
// the list names that key, its signature verifies, and every certificate in
// it verifies. A client pins a user's identity key on first contact and
// confirms it with the safety number. A list under another key fails with
// ErrIdentityMismatch, which the client shows to the user.
func VerifyDeviceList(identityKey ed25519.PublicKey, list *DeviceList) error {
	if len(identityKey) != SigningKeySize || !bytes.Equal(identityKey, list.IdentityKey) {
		return fmt.Errorf("device list of %q: %w", list.UserID, ErrIdentityMismatch)
	}
	if !ed25519.Verify(identityKey, listSignedBytes(list.body), list.sig) {
		return fmt.Errorf("device list of %q: %w", list.UserID, ErrBadSignature)
	}
	for _, c := range list.Certificates {
		if err := c.Verify(identityKey); err != nil {
			return fmt.Errorf("device list of %q: %w", list.UserID, err)
		}
	}
	return nil
}

// CheckDeviceListUpdate decides whether next may replace prev, the last list
// the client accepted for the same user. Both must already have passed
// VerifyDeviceList. A lower version is a rollback (ErrStaleDeviceList); the
// same version with other bytes is equivocation (ErrDeviceListConflict); a
// new identity key is ErrIdentityMismatch.
func CheckDeviceListUpdate(prev, next *DeviceList) error {
	if prev.UserID != next.UserID {
		return fmt.Errorf("device list of %q replaces that of %q: %w", next.UserID, prev.UserID, ErrUserMismatch)
	}
	if !bytes.Equal(prev.IdentityKey, next.IdentityKey) {
		return fmt.Errorf("device list of %q: %w", next.UserID, ErrIdentityMismatch)
	}
	switch {
	case next.Version < prev.Version:
		return fmt.Errorf("device list of %q: version %d after %d: %w",
			next.UserID, next.Version, prev.Version, ErrStaleDeviceList)
	case next.Version == prev.Version && !bytes.Equal(prev.raw, next.raw):
		return fmt.Errorf("device list of %q: version %d: %w", next.UserID, next.Version, ErrDeviceListConflict)
	}
	return nil
}

// CompareDevices compares the device ids the server reports for a user with
// the verified list. Uncertified ids are on the server but not in the signed
// list: a client must not encrypt to them and should warn the user, because
// only the server could have added them. Missing ids are in the list but not
// on the server (for example removed devices whose list update is pending).
func CompareDevices(list *DeviceList, serverDeviceIDs []string) (uncertified, missing []string) {
	listed := make(map[string]bool, len(list.Certificates))
	for _, c := range list.Certificates {
		listed[c.Device.DeviceID] = true
	}
	onServer := make(map[string]bool, len(serverDeviceIDs))
	for _, id := range serverDeviceIDs {
		onServer[id] = true
		if !listed[id] {
			uncertified = append(uncertified, id)
		}
	}
	for _, c := range list.Certificates {
		if !onServer[c.Device.DeviceID] {
			missing = append(missing, c.Device.DeviceID)
		}
	}
	slices.Sort(uncertified)
	uncertified = slices.Compact(uncertified)
	return uncertified, missing
}

// certificateSignedBytes returns the bytes an identity key signs for a
// certificate body.
func certificateSignedBytes(body []byte) []byte { return signedBytes(LabelDeviceCertificate, body) }

// listSignedBytes returns the bytes an identity key signs for a device list
// body.
func listSignedBytes(body []byte) []byte { return signedBytes(LabelDeviceList, body) }

// unixMilli converts t to unix milliseconds within [0, 2^53-1].
func unixMilli(what string, t time.Time) (uint64, error) {
	ms := t.UnixMilli()
	if ms < 0 || ms > MaxSafeInteger {
		return 0, fmt.Errorf("%s %v out of range: %w", what, t, ErrMalformed)
	}
	return uint64(ms), nil
}
