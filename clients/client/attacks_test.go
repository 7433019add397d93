package client_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/bedside-health/bedside/clients/client"
	"github.com/bedside-health/bedside/clients/client/internal/tamper"
	"github.com/bedside-health/bedside/e2ee"
)

func hasWarning(ws []*client.TrustWarning, target error) bool {
	return slices.ContainsFunc(ws, func(w *client.TrustWarning) bool { return errors.Is(w, target) })
}

// lastPostedRecipients returns the envelope recipients of the last
// message posted through the proxy.
func lastPostedRecipients(t *testing.T, f *fixture) []e2ee.DeviceRef {
	t.Helper()
	posted := f.Proxy.Posted()
	if len(posted) == 0 {
		t.Fatal("nothing was posted")
	}
	m, err := e2ee.ParseSealed(posted[len(posted)-1])
	if err != nil {
		t.Fatal(err)
	}
	return m.Recipients()
}

func TestMaliciousServerAddsDevice(t *testing.T) {
	f := newFixture(t)
	clin := signIn(t, f, f.Clinician)
	pat := signIn(t, f, f.Patient)
	conv := f.careConversation()
	send(t, clin, conv, "before the attack")

	f.Proxy.Arm(tamper.AddDevice, f.Patient.ID)
	res := send(t, clin, conv, "during the attack")
	if !hasWarning(res.Warnings, client.ErrUncertifiedDevice) {
		t.Errorf("send warnings: got %v, want ErrUncertifiedDevice", res.Warnings)
	}
	for _, r := range lastPostedRecipients(t, f) {
		if r.DeviceID == tamper.RogueDeviceID {
			t.Errorf("the message was sealed to the rogue device %s", r)
		}
	}
	_, warnings, err := clin.ListDevices(testContext(t), f.Patient.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !hasWarning(warnings, client.ErrUncertifiedDevice) {
		t.Errorf("device list warnings: got %v, want ErrUncertifiedDevice", warnings)
	}
	f.Proxy.Disarm()
	got := readTexts(t, pat, conv)
	if !equalStrings(got, []string{"before the attack", "during the attack"}) {
		t.Errorf("patient read: got %q", got)
	}
}

func TestMaliciousServerSwapsKey(t *testing.T) {
	f := newFixture(t)
	clin := signIn(t, f, f.Clinician)
	pat := signIn(t, f, f.Patient)
	conv := f.careConversation()
	send(t, clin, conv, "pin the patient's keys")

	f.Proxy.Arm(tamper.SwapKey, f.Patient.ID)
	res := send(t, clin, conv, "sealed to the certified key")
	if !hasWarning(res.Warnings, client.ErrKeyMismatch) {
		t.Errorf("send warnings: got %v, want ErrKeyMismatch", res.Warnings)
	}
	f.Proxy.Disarm()
	// The patient opens it, so it was sealed to the certified key and not
	// to the server's substitute.
	got := readTexts(t, pat, conv)
	if !equalStrings(got, []string{"pin the patient's keys", "sealed to the certified key"}) {
		t.Errorf("patient read: got %q", got)
	}

	f.Proxy.Arm(tamper.SwapListKey, f.Patient.ID)
	before := len(f.Proxy.Posted())
	_, err := clin.Send(testContext(t), conv, e2ee.Payload{Text: "must not be sent"})
	if !errors.Is(err, client.ErrDeviceListRejected) || !errors.Is(err, e2ee.ErrBadSignature) {
		t.Errorf("send with a key swapped inside the signed list: got %v, want ErrDeviceListRejected and ErrBadSignature", err)
	}
	if n := len(f.Proxy.Posted()); n != before {
		t.Errorf("messages posted: got %d more, want none", n-before)
	}
}

func TestMaliciousServerRollsBackDeviceList(t *testing.T) {
	f := newFixture(t)
	clin := signIn(t, f, f.Clinician)
	pat := signIn(t, f, f.Patient)
	conv := f.careConversation()
	send(t, clin, conv, "first contact") // the proxy records list version 1

	second, _ := openClient(t, f.URL, false)
	setup := login(t, second, f.Patient)
	if !setup.Pending {
		t.Fatalf("second device: got %+v, want a pending request", setup)
	}
	if _, err := pat.ApproveDevice(testContext(t), setup.Request.String()); err != nil {
		t.Fatalf("approve: %v", err)
	}
	if _, err := clin.AcceptDevices(testContext(t), f.Patient.ID); err != nil { // pins version 2
		t.Fatal(err)
	}

	f.Proxy.Arm(tamper.RollbackList, f.Patient.ID)
	_, err := clin.Send(testContext(t), conv, e2ee.Payload{Text: "must not be sent"})
	if !errors.Is(err, client.ErrDeviceListRejected) || !errors.Is(err, e2ee.ErrStaleDeviceList) {
		t.Errorf("send with a rolled-back list: got %v, want ErrDeviceListRejected and ErrStaleDeviceList", err)
	}
}

func TestMaliciousServerReplaysMessage(t *testing.T) {
	f := newFixture(t)
	clin := signIn(t, f, f.Clinician)
	pat := signIn(t, f, f.Patient)
	conv := f.careConversation()
	send(t, clin, conv, "take one tablet")
	if got := readTexts(t, pat, conv); !equalStrings(got, []string{"take one tablet"}) {
		t.Fatalf("first read: got %q", got)
	}

	f.Proxy.Arm(tamper.ReplayMessage, conv)
	res, err := pat.Read(testContext(t), conv, client.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Messages) != 1 {
		t.Fatalf("replayed read: got %d messages, want 1", len(res.Messages))
	}
	m := res.Messages[0]
	if !errors.Is(m.Err, client.ErrReplayedMessage) {
		t.Errorf("replayed message: got %v, want ErrReplayedMessage", m.Err)
	}
	if m.Text != "" {
		t.Errorf("replayed message text: got %q, want none", m.Text)
	}
}

func TestMaliciousServerTampersEnvelopes(t *testing.T) {
	tests := []struct {
		attack tamper.Attack
		want   error
	}{
		// The signature covers the recipient list.
		{tamper.DropEnvelope, e2ee.ErrBadSignature},
		// HPKE info binds each envelope to its recipient device.
		{tamper.SwapEnvelope, e2ee.ErrEnvelope},
	}
	f := newFixture(t)
	clin := signIn(t, f, f.Clinician)
	pat := signIn(t, f, f.Patient)
	conv := f.careConversation()
	for _, tt := range tests {
		t.Run(string(tt.attack), func(t *testing.T) {
			send(t, clin, conv, "dose changed")
			f.Proxy.Arm(tt.attack, conv)
			defer f.Proxy.Disarm()
			res, err := pat.Read(testContext(t), conv, client.ReadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Messages) != 1 {
				t.Fatalf("got %d messages, want 1", len(res.Messages))
			}
			m := res.Messages[0]
			if !errors.Is(m.Err, client.ErrMessageRejected) || !errors.Is(m.Err, tt.want) {
				t.Errorf("got %v, want ErrMessageRejected and %v", m.Err, tt.want)
			}
			if m.Text != "" {
				t.Errorf("text of a rejected message: got %q, want none", m.Text)
			}
		})
	}
}
