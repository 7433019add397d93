package client_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/bedside-health/bedside/clients/client"
	"github.com/bedside-health/bedside/e2ee"
)

func TestSecondDeviceApprovalAndRevocation(t *testing.T) {
	f := newFixture(t)
	clin := signIn(t, f, f.Clinician)
	first := signIn(t, f, f.Patient)
	conv := f.careConversation()
	send(t, clin, conv, "before the second device")

	second, _ := openClient(t, f.URL, false)
	setup := login(t, second, f.Patient)
	if !setup.Pending || setup.First {
		t.Fatalf("second device setup: got %+v, want pending", setup)
	}
	ctx := testContext(t)
	if _, err := second.Send(ctx, conv, e2ee.Payload{Text: "x"}); !errors.Is(err, client.ErrDeviceNotApproved) {
		t.Errorf("send before approval: got %v, want ErrDeviceNotApproved", err)
	}
	if _, err := second.ApproveDevice(ctx, setup.Request.String()); !errors.Is(err, client.ErrNoIdentityKey) {
		t.Errorf("approve on a device without the identity key: got %v, want ErrNoIdentityKey", err)
	}
	approved, err := first.ApproveDevice(ctx, setup.Request.String())
	if err != nil {
		t.Fatalf("approve: %v", err)
	}
	if approved.ListVersion != 2 {
		t.Errorf("list version after approval: got %d, want 2", approved.ListVersion)
	}
	again, err := second.EnsureDevice(ctx)
	if err != nil || again.Pending {
		t.Fatalf("second device after approval: got %+v, %v; want approved", again, err)
	}

	// The clinician learns of the new device and must accept it.
	_, err = clin.Send(ctx, conv, e2ee.Payload{Text: "not yet"})
	if !errors.Is(err, client.ErrNewDevices) {
		t.Fatalf("send after the patient added a device: got %v, want ErrNewDevices", err)
	}
	accepted, err := clin.AcceptDevices(ctx, f.Patient.ID)
	if err != nil || !slices.Equal(accepted, []string{setup.DeviceID}) {
		t.Fatalf("accept devices: got %v, %v; want [%s]", accepted, err, setup.DeviceID)
	}
	res := send(t, clin, conv, "to both devices")
	if !slices.ContainsFunc(res.Recipients, func(r e2ee.DeviceRef) bool { return r.DeviceID == setup.DeviceID }) {
		t.Errorf("recipients: got %v, want the second device too", res.Recipients)
	}
	if got := readTexts(t, second, conv); !slices.Contains(got, "to both devices") {
		t.Errorf("second device read: got %q", got)
	}

	// Revoking it publishes list version 3 without it.
	rev, err := first.RevokeDevice(ctx, setup.DeviceID)
	if err != nil {
		t.Fatalf("revoke: %v", err)
	}
	if rev.ListVersion != 3 {
		t.Errorf("list version after revocation: got %d, want 3", rev.ListVersion)
	}
	res = send(t, clin, conv, "after the revocation")
	if slices.ContainsFunc(res.Recipients, func(r e2ee.DeviceRef) bool { return r.DeviceID == setup.DeviceID }) {
		t.Errorf("recipients: got %v, want no revoked device", res.Recipients)
	}
}

func TestChangedIdentityNeedsAcceptance(t *testing.T) {
	f := newFixture(t)
	clin := signIn(t, f, f.Clinician)
	pat := signIn(t, f, f.Patient)
	conv := f.careConversation()
	send(t, clin, conv, "first contact")
	ctx := testContext(t)
	before, err := clin.SafetyNumber(ctx, f.Patient.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := clin.MarkVerified(f.Patient.ID); err != nil {
		t.Fatal(err)
	}

	// The patient loses the device: it is revoked and a new one starts a
	// new identity.
	if _, err := pat.RevokeDevice(ctx, pat.DeviceID()); err != nil {
		t.Fatalf("revoke the only device: %v", err)
	}
	fresh, _ := openClient(t, f.URL, false)
	if setup := login(t, fresh, f.Patient); !setup.First {
		t.Fatalf("fresh device: got %+v, want a new identity", setup)
	}

	_, err = clin.Send(ctx, conv, e2ee.Payload{Text: "must not be sent"})
	if !errors.Is(err, client.ErrIdentityChanged) {
		t.Fatalf("send after the identity changed: got %v, want ErrIdentityChanged", err)
	}
	info, err := clin.SafetyNumber(ctx, f.Patient.ID)
	if err != nil {
		t.Fatal(err)
	}
	if info.Pending == nil || info.Pending.Digits == before.Number.Digits {
		t.Fatalf("safety number: got pending %v, want a new number", info.Pending)
	}
	if err := clin.AcceptIdentity(f.Patient.ID); err != nil {
		t.Fatal(err)
	}
	info, err = clin.SafetyNumber(ctx, f.Patient.ID)
	if err != nil {
		t.Fatal(err)
	}
	if info.Verified || info.Pending != nil {
		t.Errorf("after accepting: got verified %t pending %v, want unverified and nothing pending", info.Verified, info.Pending)
	}
	send(t, clin, conv, "welcome back")
	if got := readTexts(t, fresh, conv); !slices.Contains(got, "welcome back") {
		t.Errorf("new device read: got %q", got)
	}
}

func TestSafetyNumberMatchesOnBothSides(t *testing.T) {
	f := newFixture(t)
	clin := signIn(t, f, f.Clinician)
	pat := signIn(t, f, f.Patient)
	ctx := testContext(t)
	a, err := clin.SafetyNumber(ctx, f.Patient.ID)
	if err != nil {
		t.Fatal(err)
	}
	b, err := pat.SafetyNumber(ctx, f.Clinician.ID)
	if err != nil {
		t.Fatal(err)
	}
	if a.Number.Digits != b.Number.Digits || !slices.Equal(a.Number.Words, b.Number.Words) {
		t.Errorf("safety numbers differ: %s and %s", a.Number, b.Number)
	}
	if len(a.Number.Digits) != 60 || len(a.Number.Words) != 8 {
		t.Errorf("safety number shape: got %d digits and %d words, want 60 and 8",
			len(a.Number.Digits), len(a.Number.Words))
	}
}
