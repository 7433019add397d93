package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/bedside-health/bedside/e2ee"
)

// Files in the state directory. The directory is created with mode 0700
// and every file with mode 0600; Open rejects files that other users may
// read.
const (
	StateFileName    = "state.json"
	DeviceKeyFile    = "device.key"   // e2ee device key file (docs/e2ee.md section 2)
	IdentityKeyFile  = "identity.key" // 32-byte Ed25519 seed of the identity key
	stateFileVersion = 1
)

// maxConversationHistory bounds the message ids remembered per
// conversation for re-reading history; older ones are forgotten and
// re-reading them reports ErrReplayedMessage.
const maxConversationHistory = 10_000

// state is the JSON content of the state file. It holds the session
// token and the trust store, never a private key or message content.
// NOTE: an attachment key of an upload in progress is kept in Uploads
// until the upload completes, so that the upload can resume.
type state struct {
	Version  int         `json:"version"`
	Server   string      `json:"server,omitempty"`
	UserID   string      `json:"user_id,omitempty"`
	Email    string      `json:"email,omitempty"`
	Role     string      `json:"role,omitempty"`
	Session  *session    `json:"session,omitempty"`
	DeviceID string      `json:"device_id,omitempty"`
	Pending  bool        `json:"device_pending,omitempty"`
	Peers    peerStore   `json:"peers,omitempty"`
	Convs    convStore   `json:"conversations,omitempty"`
	Replay   []byte      `json:"replay_guard,omitempty"`
	Uploads  uploadStore `json:"uploads,omitempty"`
}

type (
	peerStore   = map[string]*peerTrust
	convStore   = map[string]*convState
	uploadStore = map[string]*uploadState
)

// session is the signed-in session. The token is a bearer secret.
type session struct {
	Token     string    `json:"token"`
	ID        string    `json:"id"`
	ExpiresAt time.Time `json:"expires_at"`
}

// peerTrust is the trust the client keeps for one user, itself included:
// the pinned identity key, the accepted device list and devices, and the
// safety-number check.
type peerTrust struct {
	// IdentityKey is the pinned identity public key.
	IdentityKey []byte `json:"identity_key"`
	// List is the last device list accepted, for rollback detection.
	List []byte `json:"device_list"`
	// Accepted lists the device ids the user accepted for sealing.
	Accepted []string `json:"accepted_devices"`
	// Known maps every device id seen in a verified list to its
	// certificate, so that messages from since-removed devices still
	// verify.
	Known map[string][]byte `json:"known_devices,omitempty"`
	// Verified is set when the user compared the safety number.
	Verified   bool      `json:"verified,omitempty"`
	VerifiedAt time.Time `json:"verified_at,omitzero"`
	PinnedAt   time.Time `json:"pinned_at"`
	// PendingIdentity and PendingList hold a changed identity key the
	// server served, until the user accepts it.
	PendingIdentity []byte `json:"pending_identity_key,omitempty"`
	PendingList     []byte `json:"pending_device_list,omitempty"`
}

// convState is the client's read position and replay state for one
// conversation.
type convState struct {
	// Cursor is the sequence number of the last message processed.
	Cursor uint64 `json:"cursor"`
	// Accepted maps the hex message ids accepted in this conversation to
	// their sequence numbers, so that history can be read again.
	Accepted map[string]uint64 `json:"accepted,omitempty"`
}

// uploadState is an attachment upload that may be resumed.
type uploadState struct {
	ConversationID string    `json:"conversation_id"`
	Path           string    `json:"path"`
	Size           int64     `json:"size"`
	ModTime        time.Time `json:"mod_time"`
	Key            []byte    `json:"attachment_key"`
	Name           string    `json:"name"`
	MediaType      string    `json:"media_type"`
}

// loadState reads the state file, or returns an empty state when there is
// none.
func loadState(dir string) (*state, error) {
	path := filepath.Join(dir, StateFileName)
	raw, err := readPrivateFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return newState(), nil
	}
	if err != nil {
		return nil, err
	}
	st := newState()
	if err := json.Unmarshal(raw, st); err != nil {
		return nil, fmt.Errorf("read %s: %w; move the file away to start over", path, err)
	}
	if st.Version != stateFileVersion {
		return nil, fmt.Errorf("state file %s has version %d, this client reads version %d",
			path, st.Version, stateFileVersion)
	}
	if st.Peers == nil {
		st.Peers = peerStore{}
	}
	if st.Convs == nil {
		st.Convs = convStore{}
	}
	if st.Uploads == nil {
		st.Uploads = uploadStore{}
	}
	return st, nil
}

func newState() *state {
	return &state{Version: stateFileVersion, Peers: peerStore{}, Convs: convStore{}, Uploads: uploadStore{}}
}

// save writes the state file atomically with mode 0600.
func (st *state) save(dir string) error {
	raw, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	return writePrivateFile(filepath.Join(dir, StateFileName), raw)
}

// ensureStateDir creates dir with mode 0700, or checks that an existing
// one is not open to other users.
func ensureStateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create state directory: %w", err)
	}
	info, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("state directory: %w", err)
	}
	if info.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("state directory %s has mode %04o: %w; run chmod 700 %s",
			dir, info.Mode().Perm(), ErrUnsafePermissions, dir)
	}
	return nil
}

// readPrivateFile reads a file that must not be readable by other users.
func readPrivateFile(path string) ([]byte, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if info.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s has mode %04o: %w; run chmod 600 %s",
			path, info.Mode().Perm(), ErrUnsafePermissions, path)
	}
	return os.ReadFile(path)
}

// writePrivateFile writes data to a temporary file with mode 0600, syncs
// it and renames it over path, so a crash leaves the old or the new file.
func writePrivateFile(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("replace %s: %w", path, err)
	}
	return nil
}

// loadDeviceKeys reads the device key file, or returns nil when there is
// none.
func loadDeviceKeys(dir string) (*e2ee.DeviceKeys, error) {
	raw, err := readPrivateFile(filepath.Join(dir, DeviceKeyFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	keys, err := e2ee.ParseDeviceKeys(raw)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", DeviceKeyFile, err)
	}
	return keys, nil
}

// loadIdentity reads the identity key file, or returns nil when there is
// none.
func loadIdentity(dir string) (*e2ee.Identity, error) {
	raw, err := readPrivateFile(filepath.Join(dir, IdentityKeyFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	id, err := e2ee.IdentityFromSeed(raw)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", IdentityKeyFile, err)
	}
	return id, nil
}

func saveDeviceKeys(dir string, keys *e2ee.DeviceKeys) error {
	raw, err := keys.MarshalBinary()
	if err != nil {
		return err
	}
	return writePrivateFile(filepath.Join(dir, DeviceKeyFile), raw)
}

func saveIdentity(dir string, id *e2ee.Identity) error {
	return writePrivateFile(filepath.Join(dir, IdentityKeyFile), id.Seed())
}

// conv returns the state of a conversation, creating it.
func (st *state) conv(id string) *convState {
	c := st.Convs[id]
	if c == nil {
		c = &convState{Accepted: map[string]uint64{}}
		st.Convs[id] = c
	}
	if c.Accepted == nil {
		c.Accepted = map[string]uint64{}
	}
	return c
}

// remember records an accepted message and forgets the oldest ones beyond
// maxConversationHistory.
func (c *convState) remember(id string, seq uint64) {
	c.Accepted[id] = seq
	for len(c.Accepted) > maxConversationHistory {
		var oldestID string
		oldest := ^uint64(0)
		for k, v := range c.Accepted {
			if v < oldest {
				oldestID, oldest = k, v
			}
		}
		delete(c.Accepted, oldestID)
	}
}
