package audit

import "errors"

var (
	// ErrClosed reports a call on a Log after Close.
	ErrClosed = errors.New("audit log is closed")
	// ErrMalformedRecord reports stored bytes that are not a valid record
	// or checkpoint encoding.
	ErrMalformedRecord = errors.New("malformed audit record")
	// ErrTampered reports an audit log that failed verification.
	ErrTampered = errors.New("audit log failed verification")
	// ErrNoSigningKey reports a Log constructed without a checkpoint key.
	ErrNoSigningKey = errors.New("audit checkpoint signing key is missing")
	// ErrInvalidConfig reports a Config value that cannot be used.
	ErrInvalidConfig = errors.New("invalid audit configuration")
	// ErrBadSignature reports a webhook signature header that is missing,
	// malformed, stale or does not match the body.
	ErrBadSignature = errors.New("invalid webhook signature")
)
