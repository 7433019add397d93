package messaging

import (
	"net/http"
	"testing"

	"github.com/bedside-health/bedside/audit"
	"github.com/bedside-health/bedside/e2ee"
)

func TestDeviceRegisterAndList(t *testing.T) {
	h := newHarness(t, Config{})
	h.register(clinicianID, "phone")
	h.register(clinicianID, "laptop")

	r := h.do(request{method: "GET", path: path("users", clinicianID, "devices"), user: patientID})
	expect(t, "list as correspondent", r, http.StatusOK, "")
	var v devicesView
	r.decode(t, &v)
	if len(v.Devices) != 2 || v.Devices[0].DeviceID != "laptop" || v.Devices[1].DeviceID != "phone" {
		t.Fatalf("devices: got %+v, want laptop and phone", v.Devices)
	}
	if v.ListVersion != 2 {
		t.Errorf("list version: got %d, want 2", v.ListVersion)
	}
	list, err := e2ee.ParseDeviceList(v.DeviceList)
	if err != nil {
		t.Fatal(err)
	}
	if err := e2ee.VerifyDeviceList(h.user(clinicianID).identity.PublicKey(), list); err != nil {
		t.Errorf("stored device list: %v", err)
	}

	events := h.audit.ofType(audit.TypeDeviceRegister)
	if len(events) != 2 {
		t.Fatalf("device.register events: got %d, want 2", len(events))
	}
	if got := events[0].Detail[audit.DetailRole]; got != "clinician" {
		t.Errorf("device.register role: got %q, want clinician", got)
	}
	if events[1].TargetID != "laptop" || events[1].ActorID != clinicianID {
		t.Errorf("device.register ids: got actor %q target %q, want %s laptop",
			events[1].ActorID, events[1].TargetID, clinicianID)
	}
}

func TestDeviceRegisterSameCertificateAgain(t *testing.T) {
	h := newHarness(t, Config{})
	d, list := h.newDevice(patientID, "phone")
	expect(t, "first", h.postRegistration(patientID, d.cert.Bytes(), list.Bytes()), http.StatusCreated, "")
	expect(t, "again", h.postRegistration(patientID, d.cert.Bytes(), list.Bytes()), http.StatusOK, "")
	if n := len(h.audit.ofType(audit.TypeDeviceRegister)); n != 1 {
		t.Errorf("device.register events: got %d, want 1", n)
	}
}

func TestDeviceRegisterRejects(t *testing.T) {
	h := newHarness(t, Config{MaxDevicesPerUser: 2})
	phone := h.register(patientID, "phone")
	u := h.user(patientID)

	otherUser, otherList := h.newDevice(nurseID, "tablet")
	newDev, newList := h.newDevice(patientID, "tablet")
	// A list that leaves out the registered phone.
	withoutPhone := h.signList(u, []*testDevice{newDev}, u.version+1)
	// A list at the version already stored.
	stale := h.signList(u, []*testDevice{phone, newDev}, u.version)
	// A list under a new identity key while the phone is registered.
	thief, _ := e2ee.GenerateIdentity(nil)
	stolenCert, _ := thief.Certify(newDev.keys.Public(), h.clock.Now())
	stolenPhone, _ := thief.Certify(phone.keys.Public(), h.clock.Now())
	stolenList, _ := thief.SignDeviceList(patientID, u.version+1, h.clock.Now(),
		[]*e2ee.DeviceCertificate{stolenPhone, stolenCert})
	// A valid list that does not hold the certificate sent with it.
	corrupt := append([]byte(nil), newList.Bytes()...)
	corrupt[len(corrupt)-1] ^= 1

	tests := []struct {
		name       string
		user       string
		cert, list []byte
		status     int
		code       string
	}{
		{"certificate of another user", patientID, otherUser.cert.Bytes(), otherList.Bytes(),
			http.StatusBadRequest, "user_mismatch"},
		{"list without the certificate", patientID, newDev.cert.Bytes(), h.signList(u, []*testDevice{phone}, 5).Bytes(),
			http.StatusBadRequest, "device_not_listed"},
		{"list missing a current device", patientID, newDev.cert.Bytes(), withoutPhone.Bytes(),
			http.StatusConflict, "device_list_mismatch"},
		{"stale list version", patientID, newDev.cert.Bytes(), stale.Bytes(), http.StatusConflict, "stale_device_list"},
		{"other identity key", patientID, stolenCert.Bytes(), stolenList.Bytes(), http.StatusConflict, "identity_mismatch"},
		{"bad list signature", patientID, newDev.cert.Bytes(), corrupt, http.StatusBadRequest, "invalid_device_list"},
		{"garbage certificate", patientID, []byte("not a certificate"), newList.Bytes(),
			http.StatusBadRequest, "invalid_certificate"},
		{"no session", "", newDev.cert.Bytes(), newList.Bytes(), http.StatusUnauthorized, "unauthenticated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.postRegistration(tt.user, tt.cert, tt.list)
			expect(t, tt.name, r, tt.status, tt.code)
		})
	}

	h.register(patientID, "tablet")
	third, thirdList := h.newDevice(patientID, "watch")
	r := h.postRegistration(patientID, third.cert.Bytes(), thirdList.Bytes())
	expect(t, "third device over a limit of 2", r, http.StatusConflict, "too_many_devices")
}

func TestDeviceListAccess(t *testing.T) {
	h := newHarness(t, Config{})
	h.register(patientID, "phone")
	tests := []struct {
		user   string
		status int
	}{
		{patientID, http.StatusOK},
		{clinicianID, http.StatusOK}, // shares the consultation
		{nurseID, http.StatusOK},     // care team
		{adminID, http.StatusOK},
		{outsiderID, http.StatusNotFound},
	}
	for _, tt := range tests {
		r := h.do(request{method: "GET", path: path("users", patientID, "devices"), user: tt.user})
		expect(t, "device list as "+tt.user, r, tt.status, "")
	}
}

func TestRevokeDevice(t *testing.T) {
	h := newHarness(t, Config{})
	phone := h.register(patientID, "phone")
	laptop := h.register(patientID, "laptop")
	h.register(clinicianID, "phone")

	r := h.do(request{method: "DELETE", path: path("users", patientID, "devices", "laptop"), user: outsiderID})
	expect(t, "revoke by an outsider", r, http.StatusNotFound, "not_found")
	r = h.do(request{method: "DELETE", path: path("devices", "nosuch"), user: patientID})
	expect(t, "revoke of an unknown device", r, http.StatusNotFound, "not_found")

	r = h.do(request{method: "DELETE", path: path("devices", "laptop"), user: patientID})
	expect(t, "revoke own device", r, http.StatusOK, "")
	if n := len(h.audit.ofType(audit.TypeDeviceRevoke)); n != 1 {
		t.Errorf("device.revoke events: got %d, want 1", n)
	}

	// The revoked device can no longer send or fetch.
	m := h.seal(laptop, consultConv, "from a revoked device", h.recipients(patientID, clinicianID))
	expect(t, "send from revoked device", h.post(laptop, consultConv, m.Marshal()),
		http.StatusForbidden, "device_revoked")
	r = h.do(request{method: "GET", path: path("conversations", consultConv, "messages"),
		user: patientID, device: "laptop"})
	expect(t, "fetch from revoked device", r, http.StatusForbidden, "device_revoked")

	// Its id stays taken.
	u := h.user(patientID)
	again := h.deviceKeys(patientID, "laptop")
	list := h.signList(u, []*testDevice{phone, again}, u.version+1)
	r = h.postRegistration(patientID, again.cert.Bytes(), list.Bytes())
	expect(t, "register a revoked id again", r, http.StatusConflict, "device_revoked")

	// The owner publishes a list without it; senders then leave it out.
	next := h.signList(u, []*testDevice{phone}, u.version+1)
	r = h.doJSON("PUT", "/api/v1/device-list", patientID, "", map[string][]byte{"device_list": next.Bytes()})
	expect(t, "publish list after revoke", r, http.StatusOK, "")
	u.devices, u.version = []*testDevice{phone}, next.Version
	h.send(phone, consultConv, "hello after revoke", patientID, clinicianID)

	r = h.do(request{method: "DELETE", path: path("users", clinicianID, "devices", "phone"), user: adminID})
	expect(t, "revoke by an administrator", r, http.StatusOK, "")
}
