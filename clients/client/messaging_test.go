package client_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/bedside-health/bedside/clients/client"
	"github.com/bedside-health/bedside/e2ee"
)

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// openClient opens a client on a fresh state directory.
func openClient(t *testing.T, url string, trustNew bool) (*client.Client, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "state")
	c, err := client.Open(client.Config{ServerURL: url, StateDir: dir, TrustNewDevices: trustNew})
	if err != nil {
		t.Fatalf("open client: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c, dir
}

// signIn opens a client for a, signs in and sets up its device.
func signIn(t *testing.T, f *fixture, a *account) *client.Client {
	t.Helper()
	c, _ := openClient(t, f.URL, false)
	login(t, c, a)
	return c
}

func login(t *testing.T, c *client.Client, a *account) *client.DeviceSetup {
	t.Helper()
	ctx := testContext(t)
	if _, err := c.Login(ctx, a.credentials()); err != nil {
		t.Fatalf("login %s: %v", a.Email, err)
	}
	setup, err := c.EnsureDevice(ctx)
	if err != nil {
		t.Fatalf("device of %s: %v", a.Email, err)
	}
	return setup
}

func send(t *testing.T, c *client.Client, conv, text string) *client.SendResult {
	t.Helper()
	res, err := c.Send(testContext(t), conv, e2ee.Payload{Text: text})
	if err != nil {
		t.Fatalf("send %q: %v", text, err)
	}
	return res
}

// readTexts reads new messages and fails on any rejected one.
func readTexts(t *testing.T, c *client.Client, conv string) []string {
	t.Helper()
	res, err := c.Read(testContext(t), conv, client.ReadOptions{})
	if err != nil {
		t.Fatalf("read %s: %v", conv, err)
	}
	var out []string
	for _, m := range res.Messages {
		if m.Err != nil {
			t.Fatalf("message %d rejected: %v", m.Seq, m.Err)
		}
		out = append(out, m.Text)
	}
	return out
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestMessagesBetweenClinicianAndPatient(t *testing.T) {
	f := newFixture(t)
	clin := signIn(t, f, f.Clinician)
	pat := signIn(t, f, f.Patient)
	conv := f.careConversation()

	first := send(t, clin, conv, "How is the rash today?")
	if len(first.Recipients) != 2 {
		t.Errorf("recipients: got %v, want the clinician's and the patient's devices", first.Recipients)
	}
	if got, want := readTexts(t, pat, conv), []string{"How is the rash today?"}; !equalStrings(got, want) {
		t.Fatalf("patient read: got %q, want %q", got, want)
	}
	send(t, pat, conv, "Better, thank you.")
	got := readTexts(t, clin, conv)
	want := []string{"How is the rash today?", "Better, thank you."}
	if !equalStrings(got, want) {
		t.Fatalf("clinician read: got %q, want %q", got, want)
	}
	if again := readTexts(t, clin, conv); len(again) != 0 {
		t.Errorf("second read: got %q, want no new messages", again)
	}

	// The consultation's conversation works the same way.
	cons := "consultation:" + f.Consultation
	send(t, clin, cons, "See you at nine.")
	if got := readTexts(t, pat, cons); !equalStrings(got, []string{"See you at nine."}) {
		t.Errorf("consultation read: got %q", got)
	}

	// Reading the whole history again marks the messages as read before.
	res, err := pat.Read(testContext(t), conv, client.ReadOptions{FromStart: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range res.Messages {
		if m.Err != nil || !m.Again && !m.Own {
			t.Errorf("history message %d: got again %t, err %v; want a re-read", m.Seq, m.Again, m.Err)
		}
	}
	assertNoPlaintext(t, f.DataDir, "How is the rash today?", "Better, thank you.")
}

// assertNoPlaintext fails when any file under dir contains one of the
// texts.
func assertNoPlaintext(t *testing.T, dir string, texts ...string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return nil // sockets and files removed meanwhile
		}
		for _, text := range texts {
			if bytes.Contains(raw, []byte(text)) {
				t.Errorf("%s contains the plaintext %q", path, text)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestOutsiderCannotReadOrDecrypt(t *testing.T) {
	f := newFixture(t)
	clin := signIn(t, f, f.Clinician)
	signIn(t, f, f.Patient)
	nurseDir := filepath.Join(t.TempDir(), "nurse")
	nurse, err := client.Open(client.Config{ServerURL: f.URL, StateDir: nurseDir})
	if err != nil {
		t.Fatal(err)
	}
	defer nurse.Close()
	login(t, nurse, f.Nurse)
	conv := f.careConversation()
	send(t, clin, conv, "private note")

	ctx := testContext(t)
	_, err = nurse.Read(ctx, conv, client.ReadOptions{})
	if !errors.Is(err, client.ErrNotFound) && !errors.Is(err, client.ErrForbidden) {
		t.Errorf("nurse outside the care team reads: got %v, want not found or forbidden", err)
	}
	if _, err := nurse.Send(ctx, conv, e2ee.Payload{Text: "hello"}); !errors.Is(err, client.ErrNotFound) &&
		!errors.Is(err, client.ErrForbidden) {
		t.Errorf("nurse outside the care team sends: got %v, want not found or forbidden", err)
	}

	// Even with the ciphertext in hand, the nurse's device has no envelope.
	posted := f.Proxy.Posted()
	if len(posted) == 0 {
		t.Fatal("no message was posted through the proxy")
	}
	sealed, err := e2ee.ParseSealed(posted[len(posted)-1])
	if err != nil {
		t.Fatal(err)
	}
	keyFile, err := os.ReadFile(filepath.Join(nurseDir, client.DeviceKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := e2ee.ParseDeviceKeys(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	clinKeys := readDeviceKeys(t, clin)
	if _, err := e2ee.Open(keys, sealed, clinKeys.Public()); !errors.Is(err, e2ee.ErrNotRecipient) {
		t.Errorf("nurse opens the ciphertext: got %v, want ErrNotRecipient", err)
	}
}

// readDeviceKeys is the device key file of an open client, for tests that
// need the public keys.
func readDeviceKeys(t *testing.T, c *client.Client) *e2ee.DeviceKeys {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(c.StateDir(), client.DeviceKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := e2ee.ParseDeviceKeys(raw)
	if err != nil {
		t.Fatal(err)
	}
	return keys
}
