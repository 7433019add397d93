package client_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bedside-health/bedside/clients/client"
	"github.com/bedside-health/bedside/e2ee"
)

func TestParseServerURL(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr error
	}{
		{"https://clinic.example", "https://clinic.example", nil},
		{"https://clinic.example:8443/", "https://clinic.example:8443", nil},
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080", nil},
		{"http://[::1]:8080", "http://[::1]:8080", nil},
		{"http://localhost:8080", "http://localhost:8080", nil},
		{"http://clinic.example", "", client.ErrInsecureServer},
		{"http://10.0.0.5:8080", "", client.ErrInsecureServer},
		{"ftp://clinic.example", "", nil},
		{"https://user:pw@clinic.example", "", nil},
		{"https://clinic.example/api", "", nil},
		{"https://clinic.example?token=x", "", nil},
		{"clinic.example", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			u, err := client.ParseServerURL(tt.in)
			if tt.want != "" {
				if err != nil || u.String() != tt.want {
					t.Fatalf("got %v, %v; want %s", u, err, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("got %s, want an error", u)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("got %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestOpenRejectsUnsafePermissions(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	c, err := client.Open(client.Config{StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(filepath.Join(dir, client.StateFileName))
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("state file mode: got %04o, want 0600", perm)
	}

	if err := os.Chmod(filepath.Join(dir, client.StateFileName), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Open(client.Config{StateDir: dir}); !errors.Is(err, client.ErrUnsafePermissions) {
		t.Errorf("world-readable state file: got %v, want ErrUnsafePermissions", err)
	}
	os.Chmod(filepath.Join(dir, client.StateFileName), 0o600)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Open(client.Config{StateDir: dir}); !errors.Is(err, client.ErrUnsafePermissions) {
		t.Errorf("world-readable state directory: got %v, want ErrUnsafePermissions", err)
	}
}

func TestOpenLocksStateDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	c, err := client.Open(client.Config{StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := client.Open(client.Config{StateDir: dir}); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("second Open: got %v, want the directory in use", err)
	}
}

func TestOpenRejectsOtherServer(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	state := `{"version": 1, "server": "https://a.example", "user_id": "u1"}`
	if err := os.WriteFile(filepath.Join(dir, client.StateFileName), []byte(state), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := client.Open(client.Config{StateDir: dir, ServerURL: "https://b.example"})
	if err == nil || !strings.Contains(err.Error(), "belongs to https://a.example") {
		t.Errorf("open with another server: got %v, want the state directory's server named", err)
	}
	c, err := client.Open(client.Config{StateDir: dir})
	if err != nil {
		t.Fatalf("open without a server URL: %v", err)
	}
	defer c.Close()
	if got := c.ServerURL(); got != "https://a.example" {
		t.Errorf("server URL: got %q, want the remembered one", got)
	}
}

func testRequest(t testing.TB) client.DeviceRequest {
	keys, err := e2ee.GenerateDeviceKeys(bytes.NewReader(make([]byte, 64)), "user-1", "device-2")
	if err != nil {
		t.Fatal(err)
	}
	return client.DeviceRequest{Device: keys.Public()}
}

func TestDeviceRequestRoundTrip(t *testing.T) {
	req := testRequest(t)
	got, err := client.ParseDeviceRequest("  " + req.String() + "\n")
	if err != nil {
		t.Fatal(err)
	}
	d := got.Device
	if d.UserID != "user-1" || d.DeviceID != "device-2" || !bytes.Equal(d.HPKEKey, req.Device.HPKEKey) ||
		!ed25519.PublicKey(d.SigningKey).Equal(req.Device.SigningKey) {
		t.Errorf("round trip: got %+v, want %+v", d, req.Device)
	}
}

func TestParseDeviceRequestRejects(t *testing.T) {
	valid := testRequest(t).String()
	tests := map[string]string{
		"empty":          "",
		"no prefix":      strings.TrimPrefix(valid, client.DeviceRequestPrefix),
		"not base64":     client.DeviceRequestPrefix + "!!!",
		"truncated":      valid[:len(valid)-4],
		"trailing":       valid + "AAAA",
		"other version":  client.DeviceRequestPrefix + "Ag",
		"too long":       client.DeviceRequestPrefix + strings.Repeat("A", 400),
		"invalid id":     (client.DeviceRequest{Device: withUser(testRequest(t).Device, "a b")}).String(),
		"empty user id":  (client.DeviceRequest{Device: withUser(testRequest(t).Device, "")}).String(),
		"only a version": client.DeviceRequestPrefix + "AQ",
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := client.ParseDeviceRequest(in); !errors.Is(err, client.ErrInvalidDeviceRequest) {
				t.Errorf("got %v, want ErrInvalidDeviceRequest", err)
			}
		})
	}
}

func withUser(d e2ee.DevicePublic, user string) e2ee.DevicePublic {
	d.UserID = user
	return d
}

func FuzzParseDeviceRequest(f *testing.F) {
	f.Add(testRequest(f).String())
	f.Add(client.DeviceRequestPrefix + "AQ")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		req, err := client.ParseDeviceRequest(s)
		if err != nil {
			return
		}
		again, err := client.ParseDeviceRequest(req.String())
		if err != nil {
			t.Fatalf("re-parse of %q: %v", req.String(), err)
		}
		if again.String() != req.String() {
			t.Fatalf("not canonical: %q and %q", req.String(), again.String())
		}
	})
}
