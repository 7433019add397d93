package client

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/bedside-health/bedside/e2ee"
)

// DeviceRequestPrefix starts every encoded device request.
const DeviceRequestPrefix = "bsdr1."

// maxDeviceRequestLength bounds an encoded request: the prefix and the
// base64 of version, two identifiers and two keys.
const maxDeviceRequestLength = len(DeviceRequestPrefix) + (1+2*(1+e2ee.MaxIDLength)+2*32+2)/3*4

// DeviceRequest is what a new device shows so that an existing device of
// the same account can certify it. The user carries it from one device to
// the other (copy and paste); it holds public keys only. Encoding:
//
//	"bsdr1." || base64url-nopad(u8 version (1) || str8 user id ||
//	          str8 device id || 32 X25519 public key || 32 Ed25519 public key)
type DeviceRequest struct {
	Device e2ee.DevicePublic
}

// String encodes the request.
func (r DeviceRequest) String() string {
	var b bytes.Buffer
	b.WriteByte(e2ee.Version)
	b.WriteByte(byte(len(r.Device.UserID)))
	b.WriteString(r.Device.UserID)
	b.WriteByte(byte(len(r.Device.DeviceID)))
	b.WriteString(r.Device.DeviceID)
	b.Write(r.Device.HPKEKey)
	b.Write(r.Device.SigningKey)
	return DeviceRequestPrefix + base64.RawURLEncoding.EncodeToString(b.Bytes())
}

// ParseDeviceRequest decodes a request made by DeviceRequest.String.
// Whitespace around it is ignored.
func ParseDeviceRequest(s string) (DeviceRequest, error) {
	s = strings.TrimSpace(s)
	if len(s) > maxDeviceRequestLength {
		return DeviceRequest{}, fmt.Errorf("%w: %d characters, at most %d", ErrInvalidDeviceRequest,
			len(s), maxDeviceRequestLength)
	}
	body, ok := strings.CutPrefix(s, DeviceRequestPrefix)
	if !ok {
		return DeviceRequest{}, fmt.Errorf("%w: it must start with %q", ErrInvalidDeviceRequest, DeviceRequestPrefix)
	}
	raw, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		return DeviceRequest{}, fmt.Errorf("%w: not base64url: %v", ErrInvalidDeviceRequest, err)
	}
	if len(raw) < 1 || raw[0] != e2ee.Version {
		return DeviceRequest{}, fmt.Errorf("%w: unsupported version", ErrInvalidDeviceRequest)
	}
	raw = raw[1:]
	var d e2ee.DevicePublic
	for _, dst := range []*string{&d.UserID, &d.DeviceID} {
		if len(raw) < 1 || len(raw) < 1+int(raw[0]) {
			return DeviceRequest{}, fmt.Errorf("%w: truncated", ErrInvalidDeviceRequest)
		}
		*dst, raw = string(raw[1:1+int(raw[0])]), raw[1+int(raw[0]):]
	}
	if len(raw) != e2ee.HPKEPublicKeySize+e2ee.SigningKeySize {
		return DeviceRequest{}, fmt.Errorf("%w: keys of %d bytes, want %d", ErrInvalidDeviceRequest,
			len(raw), e2ee.HPKEPublicKeySize+e2ee.SigningKeySize)
	}
	d.HPKEKey = bytes.Clone(raw[:e2ee.HPKEPublicKeySize])
	d.SigningKey = ed25519.PublicKey(bytes.Clone(raw[e2ee.HPKEPublicKeySize:]))
	if !validID(d.UserID) || !validID(d.DeviceID) {
		return DeviceRequest{}, fmt.Errorf("%w: invalid user or device id", ErrInvalidDeviceRequest)
	}
	return DeviceRequest{Device: d}, nil
}

// validID reports whether s is an e2ee identifier: 1 to 64 bytes of
// letters, digits, '-', '_', '.' and ':'.
func validID(s string) bool {
	if len(s) == 0 || len(s) > e2ee.MaxIDLength {
		return false
	}
	for _, c := range []byte(s) {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '-' || c == '_' || c == '.' || c == ':'
		if !ok {
			return false
		}
	}
	return true
}
