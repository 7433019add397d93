// Package e2ee owns the end-to-end encryption formats of Bedside: device
// keys, signed device lists, HPKE key envelopes, sealed messages, encrypted
// attachment streams, safety numbers and replay detection. It does no I/O
// beyond the io.Reader and io.Writer values callers pass in. The byte-level
// specification, the threat model and the numbered reject rules are in
// docs/e2ee.md. The Go and browser implementations both check the test
// vectors in testdata/e2ee.
//
// Flow on a client:
//
//   - The first device of a user calls GenerateIdentity and GenerateDeviceKeys,
//     certifies itself with Identity.Certify and publishes
//     Identity.SignDeviceList (version 1). A later device is certified by a
//     device that holds the identity key, which publishes the next version.
//   - A correspondent pins a user's identity key on first contact, confirms it
//     with ComputeSafetyNumber, checks every fetched list with
//     VerifyDeviceList and CheckDeviceListUpdate, and flags device ids the
//     server reports that CompareDevices calls uncertified.
//   - Seal encrypts a Message to the devices of the verified lists; the wire
//     form is SealedMessage.Marshal. A recipient calls ParseSealed, looks up
//     the sender device in the sender's verified list, calls Open, and then
//     ReplayGuard.Accept.
//   - Attachments are encrypted with EncryptAttachment or AttachmentWriter;
//     their key and digest travel in the Payload of the message that
//     references them.
//
// Server side, without any private key: ParseSealed validates the structure,
// SealedMessage.VerifySignature checks the sender device, and
// CompareRecipients compares the envelope set with the current devices.
//
// Caveats: there is no forward secrecy yet (a device's HPKE key decrypts
// every envelope ever sealed to it); the HPKE ephemeral keys always come from
// crypto/hpke's internal generator, so sealed messages are not reproducible
// even with a deterministic rand; and Ed25519 verification follows
// crypto/ed25519, whose edge-case rules (non-canonical points) may differ
// from other libraries.
package e2ee
