// Package audit owns Bedside's audit trail and security alerts.
//
// Other packages emit Event values through the Recorder interface, using
// the Type... constants as the event names. Log, created with New, is the
// Recorder of the running server. Record sanitizes an event: a deny-list
// of detail keys and value checks keep tokens, passwords, codes, keys and
// content out. It then queues the event, and a writer goroutine appends
// queued events in batches, one fsynced bbolt transaction per batch. Each record carries
// the SHA-256 hash of the previous one, and checkpoints signed with an
// Ed25519 key derived from the server key bind the chain, so Verify can
// tell an edited, deleted, inserted or reordered record. Export writes the
// log as JSON lines.
//
// Detectors watch the committed records for failed-login bursts, sign-ins
// after failures, download volume, access outside clinic hours, new
// devices on staff accounts, role changes and audit exports. Their alerts
// are stored, logged with ids only, pushed to connected administrators
// through a Notifier and, when configured, posted to a webhook with an
// HMAC signature, retried until the receiver accepts them.
//
// Caveats: Record drops an event when the queue stays full for
// Config.QueueWait, and the log then records how many it lost and raises a
// critical alert. Records after the last checkpoint are bound by no
// signature: deleting them from the end of the log is not detectable,
// which is why Close signs a final checkpoint. Detector state lives in
// memory and starts over on restart.
//
// docs/audit.md specifies the event types, the record and checkpoint
// encodings, verification, the detectors and the webhook signature.
package audit
