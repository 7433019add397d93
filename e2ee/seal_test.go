package e2ee_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/bedside-health/bedside/e2ee"
)

// testRand returns a deterministic reader for test keys.
func testRand(label string) *rand.ChaCha8 {
	var seed [32]byte
	copy(seed[:], label)
	return rand.NewChaCha8(seed)
}

func newDevice(t testing.TB, user, device string) *e2ee.DeviceKeys {
	t.Helper()
	k, err := e2ee.GenerateDeviceKeys(testRand(user+"/"+device), user, device)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

type party struct {
	sender     *e2ee.DeviceKeys
	recipients []*e2ee.DeviceKeys
}

func newParty(t testing.TB, n int) party {
	p := party{sender: newDevice(t, "u-alice", "d-0")}
	for i := range n {
		p.recipients = append(p.recipients, newDevice(t, fmt.Sprintf("u-%02d", i%3), fmt.Sprintf("d-%02d", i)))
	}
	return p
}

func (p party) publics() []e2ee.DevicePublic {
	out := make([]e2ee.DevicePublic, len(p.recipients))
	for i, r := range p.recipients {
		out[i] = r.Public()
	}
	return out
}

func testMessage(payload []byte) e2ee.Message {
	return e2ee.Message{
		ConversationID: "c-1",
		ContentType:    e2ee.ContentMessage,
		Time:           time.Date(2026, 2, 1, 9, 30, 0, 123_456_789, time.UTC),
		Payload:        payload,
	}
}

func TestSealOpenRoundTrip(t *testing.T) {
	for _, size := range []int{0, 1, 255, 256, 1000, 70_000, e2ee.MaxPayloadSize} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			p := newParty(t, 4)
			payload := bytes.Repeat([]byte{0x5a}, size)
			m, err := e2ee.Seal(nil, p.sender, testMessage(payload), p.publics())
			if err != nil {
				t.Fatal(err)
			}
			wire := m.Marshal()
			parsed, err := e2ee.ParseSealed(wire)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := len(parsed.Ciphertext), e2ee.PaddedSize(size)+16; got != want {
				t.Errorf("ciphertext length: got %d, want %d", got, want)
			}
			if got := parsed.Header.Time; !got.Equal(time.Date(2026, 2, 1, 9, 30, 0, 123_000_000, time.UTC)) {
				t.Errorf("time: got %v, want millisecond precision", got)
			}
			for _, r := range p.recipients {
				got, err := e2ee.Open(r, parsed, p.sender.Public())
				if err != nil {
					t.Fatalf("open for %s: %v", r.Ref(), err)
				}
				if !bytes.Equal(got, payload) {
					t.Fatalf("open for %s: payload differs", r.Ref())
				}
			}
		})
	}
}

func TestSealRejectsBadInput(t *testing.T) {
	p := newParty(t, 2)
	dup := append(p.publics(), p.recipients[0].Public())
	tests := []struct {
		name       string
		msg        e2ee.Message
		recipients []e2ee.DevicePublic
		want       error
	}{
		{"no recipients", testMessage(nil), nil, e2ee.ErrInvalidRecipients},
		{"duplicate recipient", testMessage(nil), dup, e2ee.ErrInvalidRecipients},
		{"payload too large", testMessage(make([]byte, e2ee.MaxPayloadSize+1)), p.publics(), e2ee.ErrInvalidSize},
		{"bad conversation id", e2ee.Message{ConversationID: "a b", ContentType: e2ee.ContentMessage},
			p.publics(), e2ee.ErrInvalidID},
		{"unknown content type", e2ee.Message{ConversationID: "c", ContentType: 9}, p.publics(),
			e2ee.ErrInvalidContentType},
		{"short HPKE key", testMessage(nil), []e2ee.DevicePublic{{UserID: "u", DeviceID: "d", HPKEKey: []byte{1},
			SigningKey: make([]byte, 32)}}, e2ee.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e2ee.Seal(nil, p.sender, tt.msg, tt.recipients)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}

func TestDeviceKeysMarshalRoundTrip(t *testing.T) {
	k := newDevice(t, "u-1", "d-1")
	b, err := k.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	back, err := e2ee.ParseDeviceKeys(b)
	if err != nil {
		t.Fatal(err)
	}
	a, z := k.Public(), back.Public()
	if a.Ref() != z.Ref() || !bytes.Equal(a.HPKEKey, z.HPKEKey) || !bytes.Equal(a.SigningKey, z.SigningKey) {
		t.Fatalf("got %+v, want %+v", z, a)
	}
	if _, err := e2ee.ParseDeviceKeys(b[:len(b)-1]); !errors.Is(err, e2ee.ErrMalformed) {
		t.Fatalf("truncated key file: got %v, want ErrMalformed", err)
	}
}

func TestCompareRecipients(t *testing.T) {
	p := newParty(t, 3)
	m, err := e2ee.Seal(nil, p.sender, testMessage([]byte("x")), p.publics())
	if err != nil {
		t.Fatal(err)
	}
	current := m.Recipients()
	if err := e2ee.CompareRecipients(m, append(current, p.sender.Ref())); err != nil {
		t.Fatalf("matching set with the sender: got %v, want nil", err)
	}
	extraDevice := e2ee.DeviceRef{UserID: "u-00", DeviceID: "d-new"}
	err = e2ee.CompareRecipients(m, append(current[1:], extraDevice))
	var mismatch *e2ee.RecipientMismatchError
	if !errors.As(err, &mismatch) || !errors.Is(err, e2ee.ErrInvalidRecipients) {
		t.Fatalf("got %v, want a RecipientMismatchError", err)
	}
	if len(mismatch.Missing) != 1 || mismatch.Missing[0] != extraDevice {
		t.Errorf("missing: got %v, want [%v]", mismatch.Missing, extraDevice)
	}
	if len(mismatch.Extra) != 1 || mismatch.Extra[0] != current[0] {
		t.Errorf("extra: got %v, want [%v]", mismatch.Extra, current[0])
	}
}

func TestLogValueRedactsKeys(t *testing.T) {
	k := newDevice(t, "u-1", "d-1")
	b, _ := k.MarshalBinary()
	var logs bytes.Buffer
	slog.New(slog.NewTextHandler(&logs, nil)).Info("device", "keys", k)
	for _, secret := range [][]byte{b[len(b)-64 : len(b)-32], b[len(b)-32:]} {
		if strings.Contains(logs.String(), hex.EncodeToString(secret)) || bytes.Contains(logs.Bytes(), secret) {
			t.Fatalf("log line exposes key material: %q", logs.String())
		}
	}
	if !strings.Contains(logs.String(), "d-1") {
		t.Errorf("log line lacks the device id: %q", logs.String())
	}
}
