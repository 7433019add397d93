package e2ee

import "errors"

// codeError is a sentinel error with a stable code. The codes are the reject
// names used in docs/e2ee.md and in the "expect" field of the test vectors, so
// Go and TypeScript report the same outcome for the same input.
type codeError struct {
	code string
	msg  string
}

func (e *codeError) Error() string { return "e2ee: " + e.msg }

// Sentinel errors. Functions wrap them with %w and lower-case context; test
// with errors.Is and map to the reject name with Code.
var (
	// Parsing and structure.
	ErrMalformed          = &codeError{"malformed", "malformed encoding"}
	ErrUnsupportedVersion = &codeError{"unsupported_version", "unsupported format version"}
	ErrInvalidID          = &codeError{"invalid_id", "invalid identifier"}
	ErrInvalidContentType = &codeError{"invalid_content_type", "invalid content type"}
	ErrInvalidSize        = &codeError{"invalid_size", "ciphertext length is not a padded size"}
	ErrInvalidRecipients  = &codeError{"invalid_recipients", "invalid recipient list"}

	// Messages.
	ErrBadSignature   = &codeError{"bad_signature", "signature verification failed"}
	ErrSenderMismatch = &codeError{"sender_mismatch", "sender key does not belong to the header's sender device"}
	ErrNotRecipient   = &codeError{"not_recipient", "no envelope for this device"}
	ErrEnvelope       = &codeError{"envelope_open_failed", "key envelope did not open"}
	ErrKeyCommitment  = &codeError{"key_commitment_mismatch", "content key does not match its commitment"}
	ErrDecrypt        = &codeError{"decrypt_failed", "message ciphertext did not decrypt"}
	ErrPadding        = &codeError{"bad_padding", "invalid padding"}
	ErrPayload        = &codeError{"invalid_payload", "invalid message payload"}
	ErrReplay         = &codeError{"replay", "message id already accepted"}
	ErrReplayTooOld   = &codeError{"replay_window", "message is older than the replay window"}

	// Device certificates and lists.
	ErrIdentityMismatch   = &codeError{"identity_mismatch", "identity key differs from the pinned key"}
	ErrUserMismatch       = &codeError{"user_mismatch", "certificate belongs to another user"}
	ErrInvalidDeviceList  = &codeError{"invalid_device_list", "invalid device list"}
	ErrStaleDeviceList    = &codeError{"stale_device_list", "device list version is older than the accepted one"}
	ErrDeviceListConflict = &codeError{"device_list_conflict", "two different device lists carry the same version"}

	// Attachments.
	ErrAttachmentHeader    = &codeError{"attachment_bad_header", "invalid attachment stream header"}
	ErrAttachmentTruncated = &codeError{"attachment_truncated", "attachment stream ends before its final chunk"}
	ErrAttachmentTrailing  = &codeError{"attachment_trailing_data", "attachment stream continues after its final chunk"}
	ErrAttachmentChunk     = &codeError{"attachment_chunk_failed", "attachment chunk failed authentication"}
	ErrAttachmentDigest    = &codeError{"attachment_digest_mismatch", "attachment ciphertext digest does not match"}
	ErrAttachmentTooLarge  = &codeError{"attachment_too_large", "attachment exceeds the maximum size"}
)

// Code returns the reject name of the sentinel that err wraps ("ok" for a nil
// error, "error" for an error that wraps none of them).
func Code(err error) string {
	if err == nil {
		return "ok"
	}
	var ce *codeError
	if errors.As(err, &ce) {
		return ce.code
	}
	return "error"
}
