package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// BucketDevices holds two kinds of keys:
//
//	"d/" + user id + "/" + device id -> Device as JSON
//	"l/" + user id                   -> DeviceList as JSON
//
// Device and user ids never contain "/" (package e2ee restricts them to
// letters, digits and "-_.:"), so a prefix scan over "d/" + user id + "/"
// finds exactly one user's devices. Package messaging decides what may be
// stored; these functions only keep the records.
var (
	prefixDevice     = []byte("d/")
	prefixDeviceList = []byte("l/")
)

// Device is one registered device of a user: its public keys and the
// certificate that the user's identity key signed over them. A revoked
// device keeps its record, with RevokedAt set, so that its id is never
// reused for other keys.
type Device struct {
	UserID      string    `json:"user_id"`
	DeviceID    string    `json:"device_id"`
	Certificate []byte    `json:"certificate"`
	HPKEKey     []byte    `json:"hpke_key"`
	SigningKey  []byte    `json:"signing_key"`
	CreatedAt   time.Time `json:"created_at"`
	RevokedAt   time.Time `json:"revoked_at,omitzero"`
	// RevokedBy is the user id of the account that revoked the device:
	// its owner or an administrator.
	RevokedBy string `json:"revoked_by,omitempty"`
}

// Revoked reports whether the device was revoked.
func (d *Device) Revoked() bool { return !d.RevokedAt.IsZero() }

// DeviceList is the latest signed device list a user published: the
// encoded list, and its identity key and version copied out of it so that
// the next registration can be checked without parsing.
type DeviceList struct {
	UserID      string    `json:"user_id"`
	IdentityKey []byte    `json:"identity_key"`
	Version     uint64    `json:"version"`
	List        []byte    `json:"list"`
	UpdatedAt   time.Time `json:"updated_at"`
}

func deviceKey(userID, deviceID string) []byte {
	return prefixedKey(prefixDevice, []byte(userID+"/"+deviceID))
}

func deviceListKey(userID string) []byte { return prefixedKey(prefixDeviceList, []byte(userID)) }

// DeviceTx returns the device record, revoked or not, or ErrNotFound.
func DeviceTx(tx *bolt.Tx, userID, deviceID string) (*Device, error) {
	raw := tx.Bucket(BucketDevices).Get(deviceKey(userID, deviceID))
	if raw == nil {
		return nil, fmt.Errorf("device %s/%s: %w", userID, deviceID, ErrNotFound)
	}
	var d Device
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, fmt.Errorf("decode device %s/%s: %w", userID, deviceID, err)
	}
	return &d, nil
}

// Device returns the device record, revoked or not, or ErrNotFound.
func (db *DB) Device(userID, deviceID string) (*Device, error) {
	var d *Device
	err := db.bolt.View(func(tx *bolt.Tx) error {
		var err error
		d, err = DeviceTx(tx, userID, deviceID)
		return err
	})
	return d, err
}

// UserDevicesTx returns every device record of the user, revoked ones
// included, in device id order.
func UserDevicesTx(tx *bolt.Tx, userID string) ([]*Device, error) {
	prefix := deviceKey(userID, "")
	var out []*Device
	c := tx.Bucket(BucketDevices).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		var d Device
		if err := json.Unmarshal(v, &d); err != nil {
			return nil, fmt.Errorf("decode device %s: %w", k, err)
		}
		out = append(out, &d)
	}
	return out, nil
}

// CurrentDevicesTx returns the user's devices that are not revoked, in
// device id order.
func CurrentDevicesTx(tx *bolt.Tx, userID string) ([]*Device, error) {
	all, err := UserDevicesTx(tx, userID)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, d := range all {
		if !d.Revoked() {
			out = append(out, d)
		}
	}
	return out, nil
}

// UserDevices returns the user's devices that are not revoked and the
// latest signed device list, nil when the user never published one.
func (db *DB) UserDevices(userID string) ([]*Device, *DeviceList, error) {
	var devs []*Device
	var list *DeviceList
	err := db.bolt.View(func(tx *bolt.Tx) error {
		var err error
		if devs, err = CurrentDevicesTx(tx, userID); err != nil {
			return err
		}
		list, err = DeviceListTx(tx, userID)
		return err
	})
	return devs, list, err
}

// PutDeviceTx stores d, replacing any record with the same user and device
// id. Callers that must not replace a record look it up first with
// DeviceTx.
func PutDeviceTx(tx *bolt.Tx, d *Device) error {
	raw, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("encode device %s/%s: %w", d.UserID, d.DeviceID, err)
	}
	if err := tx.Bucket(BucketDevices).Put(deviceKey(d.UserID, d.DeviceID), raw); err != nil {
		return fmt.Errorf("store device %s/%s: %w", d.UserID, d.DeviceID, err)
	}
	return nil
}

// DeviceListTx returns the user's latest device list, or nil and no error
// when there is none.
func DeviceListTx(tx *bolt.Tx, userID string) (*DeviceList, error) {
	raw := tx.Bucket(BucketDevices).Get(deviceListKey(userID))
	if raw == nil {
		return nil, nil
	}
	var l DeviceList
	if err := json.Unmarshal(raw, &l); err != nil {
		return nil, fmt.Errorf("decode device list of %s: %w", userID, err)
	}
	return &l, nil
}

// PutDeviceListTx stores l as the user's latest device list.
func PutDeviceListTx(tx *bolt.Tx, l *DeviceList) error {
	raw, err := json.Marshal(l)
	if err != nil {
		return fmt.Errorf("encode device list of %s: %w", l.UserID, err)
	}
	if err := tx.Bucket(BucketDevices).Put(deviceListKey(l.UserID), raw); err != nil {
		return fmt.Errorf("store device list of %s: %w", l.UserID, err)
	}
	return nil
}
