// Reject codes shared with the Go package e2ee and the "expect" fields of
// testdata/e2ee. docs/e2ee.md section 9 defines when each one applies.
export type RejectCode =
  | 'malformed'
  | 'unsupported_version'
  | 'invalid_id'
  | 'invalid_content_type'
  | 'invalid_size'
  | 'invalid_recipients'
  | 'bad_signature'
  | 'sender_mismatch'
  | 'not_recipient'
  | 'envelope_open_failed'
  | 'key_commitment_mismatch'
  | 'decrypt_failed'
  | 'bad_padding'
  | 'invalid_payload'
  | 'replay'
  | 'replay_window'
  | 'identity_mismatch'
  | 'user_mismatch'
  | 'invalid_device_list'
  | 'stale_device_list'
  | 'device_list_conflict'
  | 'attachment_bad_header'
  | 'attachment_truncated'
  | 'attachment_trailing_data'
  | 'attachment_chunk_failed'
  | 'attachment_digest_mismatch'
  | 'attachment_too_large';

/** E2EEError is a rejected input or a failed check, with its reject code. */
export class E2EEError extends Error {
  readonly code: RejectCode;

  constructor(code: RejectCode, message: string) {
    super(`e2ee: ${message} (${code})`);
    this.name = 'E2EEError';
    this.code = code;
  }
}

/** codeOf returns "ok" for no error, the reject code of an E2EEError, or "error". */
export function codeOf(err: unknown): RejectCode | 'ok' | 'error' {
  if (err === undefined || err === null) return 'ok';
  return err instanceof E2EEError ? err.code : 'error';
}
