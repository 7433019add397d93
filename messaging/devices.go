package messaging

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/bedside-health/bedside/api"
	"github.com/bedside-health/bedside/audit"
	"github.com/bedside-health/bedside/e2ee"
	"github.com/bedside-health/bedside/policy"
	"github.com/bedside-health/bedside/store"
)

// registerRequest is the body of POST /api/v1/devices. Both fields are
// e2ee encodings in standard base64: the new device's certificate and the
// user's next signed device list, which must contain that certificate.
type registerRequest struct {
	Certificate []byte `json:"certificate"`
	DeviceList  []byte `json:"device_list"`
}

// publishRequest is the body of PUT /api/v1/device-list.
type publishRequest struct {
	DeviceList []byte `json:"device_list"`
}

// deviceView is a device as the API shows it: public keys only.
type deviceView struct {
	UserID      string    `json:"user_id"`
	DeviceID    string    `json:"device_id"`
	Certificate []byte    `json:"certificate"`
	HPKEKey     []byte    `json:"hpke_key"`
	SigningKey  []byte    `json:"signing_key"`
	CreatedAt   time.Time `json:"created_at"`
	RevokedAt   time.Time `json:"revoked_at,omitzero"`
}

func viewDevice(d *store.Device) deviceView {
	return deviceView{UserID: d.UserID, DeviceID: d.DeviceID, Certificate: d.Certificate, HPKEKey: d.HPKEKey,
		SigningKey: d.SigningKey, CreatedAt: d.CreatedAt, RevokedAt: d.RevokedAt}
}

// devicesView is the response body of GET /api/v1/users/{user}/devices.
type devicesView struct {
	UserID      string       `json:"user_id"`
	IdentityKey []byte       `json:"identity_key,omitempty"`
	ListVersion uint64       `json:"list_version,omitempty"`
	DeviceList  []byte       `json:"device_list,omitempty"`
	Devices     []deviceView `json:"devices"`
}

func deviceResource(userID, deviceID string) policy.Resource {
	return policy.Resource{Kind: policy.KindDevice, ID: deviceID, UserID: userID}
}

func (s *Service) handleRegisterDevice(w http.ResponseWriter, r *http.Request, actor policy.Actor) error {
	ctx := r.Context()
	if err := s.dir.Authorize(ctx, actor, policy.ActionDeviceRegisterOwn, deviceResource(actor.UserID, "")); err != nil {
		return err
	}
	var req registerRequest
	if err := api.DecodeJSON(w, r, 0, &req); err != nil {
		return err
	}
	cert, list, err := parseRegistration(actor.UserID, req)
	if err != nil {
		return err
	}

	dev := &store.Device{
		UserID:      actor.UserID,
		DeviceID:    cert.Device.DeviceID,
		Certificate: cert.Bytes(),
		HPKEKey:     cert.Device.HPKEKey,
		SigningKey:  cert.Device.SigningKey,
		CreatedAt:   s.now().UTC(),
	}
	created := false
	err = s.db.Bolt().Update(func(tx *bolt.Tx) error {
		var err error
		created, err = s.registerTx(tx, dev, list)
		return err
	})
	if err != nil {
		return err
	}

	status := http.StatusOK
	if created {
		status = http.StatusCreated
		s.record(ctx, audit.Event{Type: audit.TypeDeviceRegister, ActorID: actor.UserID, TargetID: dev.DeviceID,
			Address: api.ClientAddr(r), Outcome: audit.OutcomeSuccess,
			Detail: map[string]string{audit.DetailRole: string(actor.Role)}})
		s.log.LogAttrs(ctx, slog.LevelInfo, "device registered",
			slog.String("user", actor.UserID), slog.String("device", dev.DeviceID))
	}
	api.WriteJSON(w, status, viewDevice(dev))
	return nil
}

// parseRegistration decodes and verifies the certificate and the list:
// both of the caller, the list signed by the identity key it names, and the
// certificate one of its entries.
func parseRegistration(userID string, req registerRequest) (*e2ee.DeviceCertificate, *e2ee.DeviceList, error) {
	cert, err := e2ee.ParseDeviceCertificate(req.Certificate)
	if err != nil {
		return nil, nil, invalidDeviceData("certificate", err)
	}
	if cert.Device.UserID != userID {
		return nil, nil, api.BadRequest("user_mismatch",
			"the certificate names another user: certify this device for your own user id")
	}
	list, err := parseDeviceList(userID, req.DeviceList)
	if err != nil {
		return nil, nil, err
	}
	listed := slices.IndexFunc(list.Certificates, func(c *e2ee.DeviceCertificate) bool {
		return bytes.Equal(c.Bytes(), cert.Bytes())
	})
	if listed < 0 {
		return nil, nil, api.BadRequest("device_not_listed",
			"the device list does not contain this certificate: sign a list that includes the new device")
	}
	return cert, list, nil
}

// parseDeviceList decodes a device list of userID and verifies it under
// the identity key it names. The server cannot know the right identity
// key; clients pin it and compare safety numbers.
func parseDeviceList(userID string, raw []byte) (*e2ee.DeviceList, error) {
	list, err := e2ee.ParseDeviceList(raw)
	if err != nil {
		return nil, invalidDeviceData("device_list", err)
	}
	if list.UserID != userID {
		return nil, api.BadRequest("user_mismatch", "the device list names another user: sign your own list")
	}
	if err := e2ee.VerifyDeviceList(list.IdentityKey, list); err != nil {
		return nil, invalidDeviceData("device_list", err)
	}
	return list, nil
}

func invalidDeviceData(field string, err error) *api.Error {
	return &api.Error{Status: http.StatusBadRequest, Code: "invalid_" + field,
		Message: "the " + field + " field is not a valid e2ee encoding or its signature does not verify",
		Details: map[string]string{"reason": e2ee.Code(err)}}
}

// registerTx stores dev and list unless the device exists already. It
// returns created false, and no error, when the same certificate is
// registered again.
func (s *Service) registerTx(tx *bolt.Tx, dev *store.Device, list *e2ee.DeviceList) (bool, error) {
	old, err := store.DeviceTx(tx, dev.UserID, dev.DeviceID)
	switch {
	case err == nil && old.Revoked():
		return false, api.Conflict("device_revoked",
			"this device id was revoked: generate new device keys under a new device id")
	case err == nil && bytes.Equal(old.Certificate, dev.Certificate):
		*dev = *old
		return false, nil
	case err == nil:
		return false, api.Conflict("device_exists",
			"another certificate is registered under this device id: choose a new device id")
	case !errors.Is(err, store.ErrNotFound):
		return false, err
	}

	current, err := store.CurrentDevicesTx(tx, dev.UserID)
	if err != nil {
		return false, err
	}
	if len(current) >= s.cfg.MaxDevicesPerUser {
		return false, &api.Error{Status: http.StatusConflict, Code: "too_many_devices",
			Message: fmt.Sprintf("your account already has %d devices, the maximum: revoke one first", len(current)),
			Details: map[string]int{"max_devices": s.cfg.MaxDevicesPerUser}}
	}
	want := append(deviceIDs(current), dev.DeviceID)
	if err := checkListUpdate(tx, list, want, len(current) > 0); err != nil {
		return false, err
	}
	if err := store.PutDeviceTx(tx, dev); err != nil {
		return false, err
	}
	return true, putDeviceList(tx, list, dev.CreatedAt)
}

func deviceIDs(devs []*store.Device) []string {
	out := make([]string, len(devs))
	for i, d := range devs {
		out[i] = d.DeviceID
	}
	return out
}

// checkListUpdate checks that list may replace the stored device list. It
// needs a higher version and exactly the devices in want. The identity key
// must stay the same while the user has current devices, because only a
// user who lost every device may start over with a new identity.
func checkListUpdate(tx *bolt.Tx, list *e2ee.DeviceList, want []string, hasDevices bool) error {
	prev, err := store.DeviceListTx(tx, list.UserID)
	if err != nil {
		return err
	}
	if prev != nil && hasDevices && !bytes.Equal(prev.IdentityKey, list.IdentityKey) {
		return api.Conflict("identity_mismatch",
			"the device list is signed by another identity key than your current devices use: "+
				"sign it on a device that holds your identity key")
	}
	if prev != nil && list.Version <= prev.Version {
		return &api.Error{Status: http.StatusConflict, Code: "stale_device_list",
			Message: fmt.Sprintf("device list version %d is not newer than the stored version %d: "+
				"sign the next version", list.Version, prev.Version),
			Details: map[string]uint64{"current_version": prev.Version}}
	}
	var listed []string
	for _, c := range list.Certificates {
		listed = append(listed, c.Device.DeviceID)
	}
	unlisted, unregistered := setDifference(want, listed), setDifference(listed, want)
	if len(unlisted) > 0 || len(unregistered) > 0 {
		return &api.Error{Status: http.StatusConflict, Code: "device_list_mismatch",
			Message: "the device list must contain exactly your current devices: " +
				"fetch them with GET /api/v1/users/{user}/devices and sign a matching list",
			Details: map[string][]string{"unlisted": unlisted, "unregistered": unregistered}}
	}
	return nil
}

// setDifference returns the elements of a that are not in b, sorted.
func setDifference(a, b []string) []string {
	out := []string{}
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	slices.Sort(out)
	return out
}

func putDeviceList(tx *bolt.Tx, list *e2ee.DeviceList, at time.Time) error {
	return store.PutDeviceListTx(tx, &store.DeviceList{
		UserID:      list.UserID,
		IdentityKey: list.IdentityKey,
		Version:     list.Version,
		List:        list.Bytes(),
		UpdatedAt:   at,
	})
}

// handlePublishDeviceList stores a new signed list of the caller's current
// devices, typically after revoking one.
func (s *Service) handlePublishDeviceList(w http.ResponseWriter, r *http.Request, actor policy.Actor) error {
	if err := s.dir.Authorize(r.Context(), actor, policy.ActionDeviceRegisterOwn,
		deviceResource(actor.UserID, "")); err != nil {
		return err
	}
	var req publishRequest
	if err := api.DecodeJSON(w, r, 0, &req); err != nil {
		return err
	}
	list, err := parseDeviceList(actor.UserID, req.DeviceList)
	if err != nil {
		return err
	}
	err = s.db.Bolt().Update(func(tx *bolt.Tx) error {
		current, err := store.CurrentDevicesTx(tx, actor.UserID)
		if err != nil {
			return err
		}
		if err := checkListUpdate(tx, list, deviceIDs(current), len(current) > 0); err != nil {
			return err
		}
		return putDeviceList(tx, list, s.now().UTC())
	})
	if err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusOK, map[string]uint64{"list_version": list.Version})
	return nil
}

func (s *Service) handleListDevices(w http.ResponseWriter, r *http.Request, actor policy.Actor) error {
	userID := r.PathValue("user")
	if err := s.dir.Authorize(r.Context(), actor, policy.ActionDeviceList, deviceResource(userID, "")); err != nil {
		return err
	}
	devs, list, err := s.db.UserDevices(userID)
	if err != nil {
		return err
	}
	out := devicesView{UserID: userID, Devices: make([]deviceView, 0, len(devs))}
	for _, d := range devs {
		out.Devices = append(out.Devices, viewDevice(d))
	}
	if list != nil {
		out.IdentityKey, out.ListVersion, out.DeviceList = list.IdentityKey, list.Version, list.List
	}
	api.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (s *Service) handleRevokeOwnDevice(w http.ResponseWriter, r *http.Request, actor policy.Actor) error {
	return s.revokeDevice(w, r, actor, actor.UserID, r.PathValue("device"))
}

func (s *Service) handleRevokeDevice(w http.ResponseWriter, r *http.Request, actor policy.Actor) error {
	return s.revokeDevice(w, r, actor, r.PathValue("user"), r.PathValue("device"))
}

// revokeDevice marks the device revoked. Revoking a revoked device again
// succeeds and changes nothing. The stored device list is left as it is:
// the owner publishes the next version without the device.
func (s *Service) revokeDevice(w http.ResponseWriter, r *http.Request, actor policy.Actor, userID, deviceID string) error {
	ctx := r.Context()
	if err := s.dir.Authorize(ctx, actor, policy.ActionDeviceRevoke, deviceResource(userID, deviceID)); err != nil {
		return err
	}
	var dev *store.Device
	changed := false
	err := s.db.Bolt().Update(func(tx *bolt.Tx) error {
		var err error
		dev, err = store.DeviceTx(tx, userID, deviceID)
		if errors.Is(err, store.ErrNotFound) {
			return api.NotFound()
		}
		if err != nil || dev.Revoked() {
			return err
		}
		dev.RevokedAt, dev.RevokedBy = s.now().UTC(), actor.UserID
		changed = true
		return store.PutDeviceTx(tx, dev)
	})
	if err != nil {
		return err
	}
	if changed {
		s.record(ctx, audit.Event{Type: audit.TypeDeviceRevoke, ActorID: actor.UserID, TargetID: deviceID,
			Address: api.ClientAddr(r), Outcome: audit.OutcomeSuccess,
			Detail: map[string]string{audit.DetailRole: string(actor.Role), "user": userID}})
		s.log.LogAttrs(ctx, slog.LevelInfo, "device revoked",
			slog.String("user", userID), slog.String("device", deviceID), slog.String("by", actor.UserID))
	}
	api.WriteJSON(w, http.StatusOK, viewDevice(dev))
	return nil
}
