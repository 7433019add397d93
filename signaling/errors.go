package signaling

import (
	"errors"
	"fmt"
)

// Errors a Rooms implementation returns from AuthorizeJoin.
var (
	// ErrNotFound covers both a consultation that does not exist and an
	// actor who is not one of its participants.
	ErrNotFound = errors.New("consultation not found")
	// ErrOutsideWindow means the actor is a participant but the current time
	// lies outside the appointment window.
	ErrOutsideWindow = errors.New("outside the appointment window")
)

// ErrSessionInvalid is wrapped by the error of Authenticator.Authenticate
// for a token whose session is unknown, expired or revoked. On a session
// re-check it closes the session's connections; any other error counts as
// a server fault, and the hub checks again later.
var ErrSessionInvalid = errors.New("session invalid")

// Errors returned by Decode.
var (
	// ErrMalformed wraps every reason a message is not valid JSON of the
	// expected shape: syntax, field types, unknown or missing fields, values
	// out of range.
	ErrMalformed = errors.New("malformed message")
	// ErrUnknownType means the message's type names no client message.
	ErrUnknownType = errors.New("unknown message type")
)

// ErrNewMediaSession is wrapped by the errors of MediaPeer.HandleOffer and
// MediaPeer.HandleAnswer for a description from another client
// RTCPeerConnection than the one the peer negotiated, for example one whose
// DTLS fingerprint differs. The hub then replaces the peer with a new one.
var ErrNewMediaSession = errors.New("description from a new media session")

// ErrInvalidConfig is returned by New for a Config it cannot run with.
var ErrInvalidConfig = errors.New("invalid signaling config")

// requestError is a failure reported to the client as an error message. Its
// message text is written for the client and never contains internal detail.
type requestError struct {
	code    Code
	message string
}

func (e *requestError) Error() string { return fmt.Sprintf("%s: %s", e.code, e.message) }

func newRequestError(code Code, message string) *requestError {
	return &requestError{code: code, message: message}
}

// Errors reported to clients. Each is one value so tests and handlers
// compare them with errors.Is.
var (
	errAlreadyAuthenticated = newRequestError(CodeAlreadyAuthenticated, "this connection is already authenticated")
	errRateLimited          = newRequestError(CodeRateLimited, "too many messages: slow down")
	errNotFound             = newRequestError(CodeNotFound, "consultation not found")
	errOutsideWindow        = newRequestError(CodeOutsideWindow, "the consultation is not open at this time: join within its appointment window")
	errAlreadyJoined        = newRequestError(CodeAlreadyJoined, "this connection is already in a consultation: send leave first")
	errTooManyJoins         = newRequestError(CodeTooManyJoins, "too many joins on this connection: wait a few seconds before joining again")
	errNotJoined            = newRequestError(CodeNotJoined, "this connection is not in a consultation: send join first")
	errNotAdmitted          = newRequestError(CodeNotAdmitted, "wait in the waiting room until a host admits you")
	errNotHost              = newRequestError(CodeForbidden, "only a host of the consultation may do this")
	errHostTarget           = newRequestError(CodeForbidden, "a host cannot be denied or removed")
	errNotStarted           = newRequestError(CodeNotStarted, "the consultation is not in progress, so there is nothing to end: send leave instead")
	errUnknownParticipant   = newRequestError(CodeUnknownParticipant, "no such participant in this consultation")
	errNotWaiting           = newRequestError(CodeUnknownParticipant, "no such participant in the waiting room")
	errMediaFailed          = newRequestError(CodeMediaFailed, "the media server rejected the request: restart negotiation with a new offer")
	errInternal             = newRequestError(CodeInternal, "internal server error: try again later")
)
