package client

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"time"

	"github.com/bedside-health/bedside/e2ee"
)

// deviceView is a device as GET /api/v1/users/{user}/devices reports it.
// Only the signed device list is trusted; these fields are compared with
// it.
type deviceView struct {
	UserID      string    `json:"user_id"`
	DeviceID    string    `json:"device_id"`
	Certificate []byte    `json:"certificate"`
	HPKEKey     []byte    `json:"hpke_key"`
	SigningKey  []byte    `json:"signing_key"`
	CreatedAt   time.Time `json:"created_at"`
	RevokedAt   time.Time `json:"revoked_at,omitzero"`
}

// devicesView is the response body of GET /api/v1/users/{user}/devices.
type devicesView struct {
	UserID      string       `json:"user_id"`
	IdentityKey []byte       `json:"identity_key"`
	ListVersion uint64       `json:"list_version"`
	DeviceList  []byte       `json:"device_list"`
	Devices     []deviceView `json:"devices"`
}

// currentIDs returns the ids of the devices the server reports as not
// revoked.
func (v *devicesView) currentIDs() []string {
	var ids []string
	for _, d := range v.Devices {
		if d.RevokedAt.IsZero() {
			ids = append(ids, d.DeviceID)
		}
	}
	return ids
}

func (v *devicesView) device(id string) (deviceView, bool) {
	for _, d := range v.Devices {
		if d.DeviceID == id {
			return d, true
		}
	}
	return deviceView{}, false
}

// verifiedUser is one user's devices after the trust checks.
type verifiedUser struct {
	UserID string
	List   *e2ee.DeviceList // nil when the user has no device list
	// Current holds the certified devices the server reports as current,
	// with the keys from their certificates.
	Current []e2ee.DevicePublic
	// New lists the ids in Current that were not accepted yet.
	New      []string
	Warnings []*TrustWarning
}

func (c *Client) fetchDevices(ctx context.Context, userID string) (*devicesView, error) {
	var v devicesView
	err := c.doJSON(ctx, request{method: "GET", path: "/api/v1/users/" + url.PathEscape(userID) + "/devices"}, &v)
	if err != nil {
		return nil, fmt.Errorf("devices of %s: %w", userID, err)
	}
	return &v, nil
}

// resolveUser fetches a user's devices and runs every trust check:
// the signed list under the pinned identity key (pinned now on first
// contact), no rollback, no uncertified device, certified keys only.
func (c *Client) resolveUser(ctx context.Context, userID string) (*verifiedUser, error) {
	view, err := c.fetchDevices(ctx, userID)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.checkUserLocked(userID, view)
}

// listRejected wraps an e2ee error about userID's device list, which
// names the user unless it is a parse error.
func listRejected(userID string, err error) error {
	if errors.Is(err, e2ee.ErrMalformed) {
		return fmt.Errorf("%w: device list of %s: %w", ErrDeviceListRejected, userID, err)
	}
	return fmt.Errorf("%w: %w", ErrDeviceListRejected, err)
}

func (c *Client) checkUserLocked(userID string, view *devicesView) (*verifiedUser, error) {
	out := &verifiedUser{UserID: userID}
	if len(view.DeviceList) == 0 {
		if ids := view.currentIDs(); len(ids) > 0 {
			out.Warnings = append(out.Warnings, &TrustWarning{Err: ErrUncertifiedDevice, UserID: userID,
				DeviceIDs: ids, Detail: "the server reports devices but no signed device list"})
		}
		return out, nil
	}
	list, err := e2ee.ParseDeviceList(view.DeviceList)
	if err != nil {
		return nil, listRejected(userID, err)
	}
	if list.UserID != userID {
		return nil, listRejected(userID, fmt.Errorf("the list names user %s: %w", list.UserID, e2ee.ErrUserMismatch))
	}
	peer, pinned, err := c.checkListLocked(userID, list)
	if err != nil {
		return nil, err
	}
	out.List = list
	if pinned && userID != c.st.UserID {
		out.Warnings = append(out.Warnings, &TrustWarning{Err: ErrFirstContact, UserID: userID,
			Detail: "compare the safety number with this person (safety-number " + userID + ")"})
	}

	onServer := view.currentIDs()
	if uncertified, _ := e2ee.CompareDevices(list, onServer); len(uncertified) > 0 {
		out.Warnings = append(out.Warnings, &TrustWarning{Err: ErrUncertifiedDevice, UserID: userID,
			DeviceIDs: uncertified, Detail: "not in the signed device list; nothing is encrypted to them"})
	}
	var mismatched []string
	for _, cert := range list.Certificates {
		d := cert.Device
		sv, ok := view.device(d.DeviceID)
		if !ok || !sv.RevokedAt.IsZero() {
			continue // revoked, or not on the server: do not seal to it
		}
		if !bytes.Equal(sv.HPKEKey, d.HPKEKey) || !bytes.Equal(sv.SigningKey, d.SigningKey) ||
			(len(sv.Certificate) > 0 && !bytes.Equal(sv.Certificate, cert.Bytes())) {
			mismatched = append(mismatched, d.DeviceID)
		}
		out.Current = append(out.Current, d)
		if !slices.Contains(peer.Accepted, d.DeviceID) {
			out.New = append(out.New, d.DeviceID)
		}
	}
	if len(mismatched) > 0 {
		out.Warnings = append(out.Warnings, &TrustWarning{Err: ErrKeyMismatch, UserID: userID,
			DeviceIDs: mismatched, Detail: "the server's copy of the keys differs; only the certified keys are used"})
	}
	if len(out.New) > 0 {
		out.Warnings = append(out.Warnings, &TrustWarning{Err: ErrNewDevices, UserID: userID,
			DeviceIDs: out.New, Detail: "certified by the pinned identity key but not accepted yet"})
	}
	return out, nil
}

// checkListLocked verifies list against the pinned identity and the last
// accepted list, pinning both on first contact. It returns the updated
// trust entry and whether it was pinned now.
func (c *Client) checkListLocked(userID string, list *e2ee.DeviceList) (*peerTrust, bool, error) {
	peer := c.st.Peers[userID]
	if peer == nil {
		if err := e2ee.VerifyDeviceList(list.IdentityKey, list); err != nil {
			return nil, false, listRejected(userID, err)
		}
		peer = &peerTrust{IdentityKey: list.IdentityKey, PinnedAt: c.now()}
		for _, cert := range list.Certificates {
			peer.Accepted = append(peer.Accepted, cert.Device.DeviceID)
		}
		c.st.Peers[userID] = peer
		peer.remember(list)
		return peer, true, nil
	}
	if !bytes.Equal(list.IdentityKey, peer.IdentityKey) {
		if err := e2ee.VerifyDeviceList(list.IdentityKey, list); err != nil {
			return nil, false, listRejected(userID, err)
		}
		peer.PendingIdentity, peer.PendingList = list.IdentityKey, list.Bytes()
		return nil, false, fmt.Errorf("user %s: %w: compare the new safety number (safety-number %s) "+
			"and accept it with safety-number %s --accept-new-identity", userID, ErrIdentityChanged, userID, userID)
	}
	if err := e2ee.VerifyDeviceList(peer.IdentityKey, list); err != nil {
		return nil, false, listRejected(userID, err)
	}
	prev, err := e2ee.ParseDeviceList(peer.List)
	if err != nil {
		return nil, false, fmt.Errorf("pinned device list of %s in the state file: %w", userID, err)
	}
	if err := e2ee.CheckDeviceListUpdate(prev, list); err != nil {
		return nil, false, listRejected(userID, err)
	}
	peer.remember(list)
	return peer, false, nil
}

// remember stores list as the last accepted one and records its devices'
// certificates.
func (p *peerTrust) remember(list *e2ee.DeviceList) {
	p.List = list.Bytes()
	if p.Known == nil {
		p.Known = map[string][]byte{}
	}
	for _, cert := range list.Certificates {
		p.Known[cert.Device.DeviceID] = cert.Bytes()
	}
}

// knownDevice returns the certified keys of a device of userID, from the
// last accepted list or, for a device removed since, from an earlier
// verified list.
func (c *Client) knownDeviceLocked(userID, deviceID string) (e2ee.DevicePublic, bool) {
	peer := c.st.Peers[userID]
	if peer == nil {
		return e2ee.DevicePublic{}, false
	}
	raw, ok := peer.Known[deviceID]
	if !ok {
		return e2ee.DevicePublic{}, false
	}
	cert, err := e2ee.ParseDeviceCertificate(raw)
	if err != nil || cert.Verify(peer.IdentityKey) != nil || cert.Device.UserID != userID {
		return e2ee.DevicePublic{}, false
	}
	return cert.Device, true
}

// acceptDevicesLocked marks device ids of userID as accepted for sealing.
func (c *Client) acceptDevicesLocked(userID string, ids []string) {
	peer := c.st.Peers[userID]
	if peer == nil {
		return
	}
	for _, id := range ids {
		if !slices.Contains(peer.Accepted, id) {
			peer.Accepted = append(peer.Accepted, id)
		}
	}
}

func (c *Client) now() time.Time { return c.cfg.Now().UTC().Truncate(time.Millisecond) }

// SafetyInfo is the safety number of the signed-in user and a
// correspondent.
type SafetyInfo struct {
	UserID   string
	Number   e2ee.SafetyNumber
	Verified bool
	// Pending is the safety number under a changed identity key the
	// server serves, waiting for AcceptIdentity; nil when there is none.
	Pending *e2ee.SafetyNumber
}

// SafetyNumber fetches userID's device list (pinning the identity key on
// first contact) and returns the safety number to compare out of band.
// A changed identity key is not an error here: it is returned in Pending.
func (c *Client) SafetyNumber(ctx context.Context, userID string) (*SafetyInfo, error) {
	view, err := c.fetchDevices(ctx, userID)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	own := c.st.Peers[c.st.UserID]
	if own == nil {
		return nil, fmt.Errorf("safety number: %w: this device has no pinned identity of its own", ErrDeviceNotApproved)
	}
	if _, err := c.checkUserLocked(userID, view); err != nil && !errors.Is(err, ErrIdentityChanged) {
		return nil, err
	}
	peer := c.st.Peers[userID]
	if peer == nil {
		return nil, fmt.Errorf("safety number: user %s has no device list yet", userID)
	}
	info := &SafetyInfo{UserID: userID, Verified: peer.Verified}
	info.Number, err = e2ee.ComputeSafetyNumber(c.st.UserID, own.IdentityKey, userID, peer.IdentityKey)
	if err != nil {
		return nil, err
	}
	if len(peer.PendingIdentity) > 0 {
		n, err := e2ee.ComputeSafetyNumber(c.st.UserID, own.IdentityKey, userID, peer.PendingIdentity)
		if err != nil {
			return nil, err
		}
		info.Pending = &n
	}
	return info, c.saveLocked()
}

// MarkVerified records that the user compared the safety number with
// userID out of band.
func (c *Client) MarkVerified(userID string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	peer := c.st.Peers[userID]
	if peer == nil {
		return fmt.Errorf("user %s: no pinned identity: show the safety number first", userID)
	}
	peer.Verified, peer.VerifiedAt = true, c.now()
	return c.saveLocked()
}

// AcceptIdentity replaces userID's pinned identity key with the changed
// one the server served, accepts its devices and clears the verified mark.
// Call it only after comparing the new safety number.
func (c *Client) AcceptIdentity(userID string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	peer := c.st.Peers[userID]
	if peer == nil || len(peer.PendingIdentity) == 0 {
		return fmt.Errorf("user %s: no changed identity key is waiting", userID)
	}
	list, err := e2ee.ParseDeviceList(peer.PendingList)
	if err != nil {
		return err
	}
	if err := e2ee.VerifyDeviceList(ed25519.PublicKey(peer.PendingIdentity), list); err != nil {
		return listRejected(userID, err)
	}
	fresh := &peerTrust{IdentityKey: peer.PendingIdentity, PinnedAt: c.now()}
	for _, cert := range list.Certificates {
		fresh.Accepted = append(fresh.Accepted, cert.Device.DeviceID)
	}
	fresh.remember(list)
	c.st.Peers[userID] = fresh
	return c.saveLocked()
}

// AcceptDevices marks the current devices of userID as accepted for
// sealing, after the user checked them.
func (c *Client) AcceptDevices(ctx context.Context, userID string) ([]string, error) {
	u, err := c.resolveUser(ctx, userID)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.acceptDevicesLocked(userID, u.New)
	return u.New, c.saveLocked()
}
