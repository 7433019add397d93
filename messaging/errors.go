package messaging

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/bedside-health/bedside/api"
	"github.com/bedside-health/bedside/e2ee"
)

var (
	// ErrInvalidConfig reports a Config or Deps value that cannot be used.
	ErrInvalidConfig = errors.New("invalid messaging configuration")
	// ErrConversationNotFound reports a conversation id that names no
	// consultation or patient. Directory implementations wrap it.
	ErrConversationNotFound = errors.New("conversation not found")
)

// DeviceHeader is the request header in which a client names the device it
// sends from. Endpoints that deliver or accept ciphertext require it and
// check that the device is a current device of the signed-in user.
const DeviceHeader = "X-Bedside-Device"

// The client-visible errors of this package. Each message states what was
// wrong and what to do, and none contains content or keys.

func errDeviceRequired() *api.Error {
	return api.BadRequest("device_required",
		"send this device's id in the "+DeviceHeader+" header; register the device first with POST /api/v1/devices")
}

func errUnknownDevice() *api.Error {
	return &api.Error{Status: http.StatusForbidden, Code: "unknown_device",
		Message: "the device in the " + DeviceHeader + " header is not registered to your account: " +
			"register it with POST /api/v1/devices"}
}

func errDeviceRevoked() *api.Error {
	return &api.Error{Status: http.StatusForbidden, Code: "device_revoked",
		Message: "this device was revoked: generate new device keys and register them under a new device id"}
}

func errTooLarge(code, msg string, details any) *api.Error {
	return &api.Error{Status: http.StatusRequestEntityTooLarge, Code: code, Message: msg, Details: details}
}

func errBodyTooLarge(limit int64) *api.Error {
	return errTooLarge("body_too_large", fmt.Sprintf("the request body exceeds the limit of %d bytes", limit),
		map[string]int64{"max_bytes": limit})
}

func errMediaType(want string) *api.Error {
	return &api.Error{Status: http.StatusUnsupportedMediaType, Code: "unsupported_media_type",
		Message: "send the request body as Content-Type: " + want}
}

// errInvalidMessage reports a sealed message that failed e2ee's structural
// or signature checks; Details.reason is the e2ee reject code.
func errInvalidMessage(err error, msg string) *api.Error {
	return &api.Error{Status: http.StatusBadRequest, Code: "invalid_message", Message: msg,
		Details: map[string]string{"reason": e2ee.Code(err)}}
}

// deviceRefView is a device reference as the API shows it.
type deviceRefView struct {
	UserID   string `json:"user_id"`
	DeviceID string `json:"device_id"`
}

func refViews(refs []e2ee.DeviceRef) []deviceRefView {
	out := make([]deviceRefView, len(refs))
	for i, r := range refs {
		out[i] = deviceRefView{UserID: r.UserID, DeviceID: r.DeviceID}
	}
	return out
}

// errStaleDevices reports an envelope set that does not match the current
// devices: the client refetches the device lists of the conversation's
// members and seals again.
func errStaleDevices(m *e2ee.RecipientMismatchError) *api.Error {
	return &api.Error{Status: http.StatusConflict, Code: "stale_devices",
		Message: "the envelopes do not match the current devices of the conversation's members: " +
			"fetch their device lists again and seal the message for exactly those devices",
		Details: map[string][]deviceRefView{"missing": refViews(m.Missing), "stale": refViews(m.Extra)}}
}

func errMessageIDReused() *api.Error {
	return api.Conflict("message_id_reused",
		"a different message with this id is already stored: seal the message again, which picks a new id")
}
