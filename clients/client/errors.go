package client

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Sentinel errors. Functions wrap them with %w and lower-case context; test
// with errors.Is.
var (
	// ErrAuthRequired means there is no session or the server rejected it:
	// sign in again with Login.
	ErrAuthRequired = errors.New("sign-in required")
	// ErrSecondFactorRequired means the account needs a TOTP or recovery
	// code and none was given.
	ErrSecondFactorRequired = errors.New("second factor required")
	// ErrForbidden is the server's 403 response.
	ErrForbidden = errors.New("forbidden")
	// ErrNotFound is the server's 404 response, which it also returns for
	// resources the caller may not know exist.
	ErrNotFound = errors.New("not found")

	// ErrNoDevice means this state directory has no device keys yet.
	ErrNoDevice = errors.New("no device keys")
	// ErrDeviceNotApproved means this device waits for an existing device
	// of the account to certify it (devices approve).
	ErrDeviceNotApproved = errors.New("device not approved yet")
	// ErrNoIdentityKey means the operation needs the account's identity key,
	// which only the account's first device holds.
	ErrNoIdentityKey = errors.New("this device does not hold the identity key")
	// ErrInvalidDeviceRequest reports a device request that does not parse
	// or names another account.
	ErrInvalidDeviceRequest = errors.New("invalid device request")

	// ErrIdentityChanged means the server serves another identity key for a
	// correspondent than the pinned one. Nothing is sealed to or accepted
	// from that user until AcceptIdentity.
	ErrIdentityChanged = errors.New("identity key changed")
	// ErrNewDevices means a correspondent's verified device list holds
	// devices this client has not accepted yet. Send does not seal to them
	// unless Config.TrustNewDevices is set.
	ErrNewDevices = errors.New("correspondent has new devices")
	// ErrUncertifiedDevice means the server reports a device that is not in
	// the user's signed device list. The client never seals to it.
	ErrUncertifiedDevice = errors.New("device without a valid certificate")
	// ErrKeyMismatch means the server reports keys for a device that differ
	// from its certificate. The client uses only the certified keys.
	ErrKeyMismatch = errors.New("server-reported device key differs from its certificate")
	// ErrDeviceListRejected means a device list failed signature
	// verification, went back to an older version or changed under the same
	// version. It wraps the e2ee reject error.
	ErrDeviceListRejected = errors.New("device list rejected")

	// ErrMessageRejected means a fetched message failed verification or
	// decryption. It wraps the e2ee reject error; nothing was decrypted.
	ErrMessageRejected = errors.New("message rejected")
	// ErrReplayedMessage means the server delivered a message that this
	// device already accepted, under a new sequence number.
	ErrReplayedMessage = errors.New("message replayed")
	// ErrStaleDevices means the server kept rejecting the envelope set after
	// the device lists were fetched again.
	ErrStaleDevices = errors.New("envelopes still do not match the server's devices")

	// ErrNoSuchAttachment means the message has no attachment with that
	// index or id.
	ErrNoSuchAttachment = errors.New("no such attachment")
	// ErrUnsafePermissions means a state or key file can be read by other
	// users.
	ErrUnsafePermissions = errors.New("unsafe file permissions")
	// ErrInsecureServer means the server URL is plain HTTP on a
	// non-loopback host.
	ErrInsecureServer = errors.New("insecure server URL")
	// ErrDenied means a host turned this participant away from the
	// consultation's waiting room, or removed it.
	ErrDenied = errors.New("denied by the host")
	// ErrSignaling is an error message from the signaling server.
	ErrSignaling = errors.New("signaling error")
)

// APIError is an error response of the HTTP API. errors.Is matches it with
// ErrAuthRequired (401), ErrForbidden (403) and ErrNotFound (404).
type APIError struct {
	Status  int
	Code    string
	Message string
	Details map[string]any
}

func (e *APIError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	return fmt.Sprintf("server responded %d %s: %s", e.Status, e.Code, strings.TrimSpace(msg))
}

// Is maps the status to the package's sentinels.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrAuthRequired:
		return e.Status == http.StatusUnauthorized
	case ErrForbidden:
		return e.Status == http.StatusForbidden
	case ErrNotFound:
		return e.Status == http.StatusNotFound
	}
	return false
}

// TrustWarning is something the user should see about a correspondent's
// keys. Err is one of ErrNewDevices, ErrUncertifiedDevice, ErrKeyMismatch
// or ErrFirstContact; errors.Is(w, Err) holds.
type TrustWarning struct {
	Err       error
	UserID    string
	DeviceIDs []string
	Detail    string
}

// ErrFirstContact marks the warning that a correspondent's identity key
// was pinned on first use and should be checked with the safety number.
var ErrFirstContact = errors.New("identity key pinned on first contact")

func (w *TrustWarning) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "user %s: %v", w.UserID, w.Err)
	if len(w.DeviceIDs) > 0 {
		fmt.Fprintf(&b, " (devices %s)", strings.Join(w.DeviceIDs, ", "))
	}
	if w.Detail != "" {
		b.WriteString(": " + w.Detail)
	}
	return b.String()
}

// Unwrap returns the sentinel.
func (w *TrustWarning) Unwrap() error { return w.Err }
