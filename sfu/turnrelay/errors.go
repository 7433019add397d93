package turnrelay

import "errors"

var (
	// ErrNoListener is returned by New when neither a UDP nor a TCP listen
	// address is configured.
	ErrNoListener = errors.New("turn: no listen address configured")

	// ErrNoTargets is returned by New when the relay has no media address to
	// reach, which would make every allocation useless.
	ErrNoTargets = errors.New("turn: no relay target configured")

	// ErrShortSecret is returned by New for a shared secret under 16 bytes.
	ErrShortSecret = errors.New("turn: shared secret shorter than 16 bytes")

	// ErrPeerNotAllowed is returned by a relay socket asked to send to an
	// address that is not one of the SFU's media addresses.
	ErrPeerNotAllowed = errors.New("turn: peer address is not an SFU media address")

	// ErrTCPRelayUnsupported is returned for TCP relay allocations (RFC 6062).
	ErrTCPRelayUnsupported = errors.New("turn: TCP relay allocations are not supported")
)
