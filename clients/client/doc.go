// Package client is the Go client library of Bedside: it signs in, keeps
// the device's keys and a trust store, sends and reads end-to-end
// encrypted messages and attachments over the HTTP API, and joins video
// consultations over the signaling WebSocket as a headless media peer.
// The command-line client (cmd/bedside-client), the tests and load
// generators use it.
//
// Open a state directory with Open, sign in with Client.Login and create
// or approve the device with Client.EnsureDevice. The first device of an
// account creates the account's identity key; a later device shows a
// DeviceRequest that the first device certifies with
// Client.ApproveDevice. Then Client.Send, Client.Read,
// Client.UploadAttachment and Client.DownloadAttachment exchange
// messages, and Client.Call joins a consultation. A call whose WebSocket
// drops reconnects, resumes its participant and restarts ICE on its
// PeerConnection when the server kept the media session.
//
// Trust: the client pins each correspondent's identity key on first use
// and the last device list it accepted, in the state file. A changed
// identity key fails with ErrIdentityChanged until Client.AcceptIdentity;
// a list that fails verification, goes back to an older version or
// changes under the same version fails with ErrDeviceListRejected. Devices
// the server reports outside the signed list (ErrUncertifiedDevice) are
// never sealed to; devices added to a verified list since the client last
// accepted it (ErrNewDevices) are sealed to only with
// Config.TrustNewDevices or after Client.AcceptDevices. Received messages
// go through every check of docs/e2ee.md section 3.6 and a replay guard.
// docs/client.md describes the files, the flows and the command-line
// client.
//
// Files in the state directory: state.json (session token, trust store,
// read positions, replay state), device.key (the e2ee device key file)
// and identity.key (on the first device only), all with mode 0600 in a
// directory with mode 0700. No message or attachment plaintext is
// written there.
//
// Caveats: the session token and the private keys are protected by file
// permissions only; the attachment key of an upload in progress stays in
// the state file until the upload completes, so that it can resume; one
// process at a time may use a state directory (a lock enforces it on Unix).
package client
