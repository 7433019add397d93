// Package messaging is the server side of Bedside's end-to-end encrypted
// messaging: the device directory, the conversations of consultations and
// care threads, the durable message store with per-device delivery, and
// encrypted attachments. It never handles plaintext: messages arrive
// sealed in the e2ee wire form and leave the same way, and attachments are
// opaque streams whose keys travel inside messages.
//
// Build a Service with New, add its endpoints with Service.Register, run
// retention with Service.Start and stop it with Service.Close. The clinic
// decides access and supplies conversation members through a Directory
// (ClinicDirectory adapts *clinic.Service), the accounts supply members'
// display names and roles through Names, and the signaling hub learns of
// new messages through a Notifier.
//
// Sending checks, in order: the calling device (DeviceHeader) is a current
// device of the signed-in user; the policy lets the user post; the body is
// a valid sealed message within the size limits whose header names this
// conversation and this device; the signature verifies under the device's
// registered key. Then, inside one batched bbolt transaction, the message
// id is looked up (a byte-identical retry returns the first
// acknowledgement, other content under the same id is rejected) and the
// envelope set is compared with the current devices of every member; a
// mismatch is answered with the missing and stale devices. The
// acknowledgement is sent only after bbolt has committed and fsynced the
// transaction. docs/messaging.md describes delivery, cursors, retention and
// durability; docs/api.md lists the endpoints.
//
// Caveats: the server cannot tell a genuine device list from one signed by
// a stolen identity key, so clients pin identity keys and compare safety
// numbers; the device directory only checks that each list is
// self-consistent, newer than the last and lists exactly the registered
// devices. Service.New sets the MaxBatchDelay of the whole database.
package messaging
