package audit

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func testSanitizer() *sanitizer {
	return &sanitizer{
		maxValue: DefaultMaxDetailValue,
		now:      func() time.Time { return wednesday10 },
		stripped: func(string) {},
	}
}

func TestSanitizeDetailKeys(t *testing.T) {
	tests := []struct {
		key  string
		keep bool
	}{
		{"bytes", true},
		{"role", true},
		{"old_role", true},
		{"device_id", true},
		{"message_id", true},
		{"consultation_id", true},
		{"count", true},
		{"method", true},
		{"reason", true},
		{"since", true},
		{"token", false},
		{"session_token", false},
		{"refresh-token", false},
		{"accesstoken", false},
		{"password", false},
		{"new_password", false},
		{"passwd", false},
		{"code", false},
		{"totp_code", false},
		{"recovery_codes", false},
		{"otp", false},
		{"key", false},
		{"api_key", false},
		{"device.keys", false},
		{"private_key_pem", false},
		{"secret", false},
		{"client_secret", false},
		{"content", false},
		{"body", false},
		{"message_body", false},
		{"plaintext", false},
		{"ciphertext", false},
		{"envelope", false},
		{"seed", false},
		{"cookie", false},
		{"authorization", false},
		{"nonce", false},
		{"Authorization", false}, // upper case fails the key syntax
		{"sessionToken", false},
		{"a key with spaces", false},
		{"stripped", false}, // reserved for the log itself
		{strings.Repeat("k", MaxDetailKey+1), false},
	}
	s := testSanitizer()
	for _, tc := range tests {
		t.Run(tc.key, func(t *testing.T) {
			out := s.clean(Event{Type: TypeLogin, Detail: map[string]string{tc.key: "42"}})
			kept := out.Detail[tc.key] == "42"
			if kept != tc.keep {
				t.Errorf("key %q: got kept %v, want %v", tc.key, kept, tc.keep)
			}
			if !tc.keep && out.Detail[DetailStripped] != "1" {
				t.Errorf("key %q: got stripped count %q, want 1", tc.key, out.Detail[DetailStripped])
			}
		})
	}
}

func TestSanitizeDetailValues(t *testing.T) {
	tests := []struct {
		name  string
		value string
		keep  bool
	}{
		{"decimal", "1048576", true},
		{"uuid", "1b4e28ba-2fa1-11d2-883f-0016d3cca427", true},
		{"hex id", "9f86d081884c7d659a2feaa0c55ad015", true},
		{"role", "clinician", true},
		{"rfc3339", "2025-03-12T10:00:00Z", true},
		{"max length", strings.Repeat("a b ", DefaultMaxDetailValue/4), true},
		{"too long", strings.Repeat("a b ", DefaultMaxDetailValue/4) + "x", false},
		{"bearer", "Bearer abcdef", false},
		{"pem", "-----BEGIN PRIVATE KEY-----", false},
		{"jwt", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U", false},
		{"base64url token", "Xq3pN0vA8sYt2LmK9cR4uW7zB1eD6fH5jG0iO3kT2yQ", false},
		{"sha256 hex", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", false},
		{"newline", "line one\nline two", false},
		{"nul", "a\x00b", false},
		{"line separator", "a\u2028b", false},
		{"invalid utf-8", "a\xffb", false},
	}
	s := testSanitizer()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := s.clean(Event{Type: TypeLogin, Detail: map[string]string{"reason": tc.value}})
			got, kept := out.Detail["reason"]
			if kept != tc.keep {
				t.Fatalf("value %q: got kept %v, want %v", tc.value, kept, tc.keep)
			}
			if kept && got != tc.value {
				t.Errorf("got value %q, want %q", got, tc.value)
			}
		})
	}
}

func TestSanitizeEventFields(t *testing.T) {
	s := testSanitizer()
	tests := []struct {
		name string
		in   Event
		want Event
	}{
		{
			"valid fields kept",
			Event{Type: TypeLogin, ActorID: "u1", TargetID: "u2", Address: "::ffff:192.0.2.7",
				Outcome: OutcomeFailure, Time: wednesday10.Add(time.Hour)},
			Event{Type: TypeLogin, ActorID: "u1", TargetID: "u2", Address: "192.0.2.7",
				Outcome: OutcomeFailure, Time: wednesday10.Add(time.Hour)},
		},
		{
			"zero time is now",
			Event{Type: TypeLogin},
			Event{Type: TypeLogin, Time: wednesday10},
		},
		{
			"invalid type replaced",
			Event{Type: "Login Attempt"},
			Event{Type: TypeInvalidEvent, Time: wednesday10, Detail: map[string]string{DetailStripped: "1"}},
		},
		{
			"token as target cleared",
			Event{Type: TypeSessionRevoke, TargetID: "Xq3pN0vA8sYt2LmK9cR4uW7zB1eD6fH5jG0iO3kT2yQ"},
			Event{Type: TypeSessionRevoke, Time: wednesday10, Detail: map[string]string{DetailStripped: "1"}},
		},
		{
			"address with port cleared",
			Event{Type: TypeLogin, Address: "192.0.2.7:443"},
			Event{Type: TypeLogin, Time: wednesday10, Detail: map[string]string{DetailStripped: "1"}},
		},
		{
			"unknown outcome cleared",
			Event{Type: TypeLogin, Outcome: "maybe"},
			Event{Type: TypeLogin, Time: wednesday10, Detail: map[string]string{DetailStripped: "1"}},
		},
		{
			"time out of range is now",
			Event{Type: TypeLogin, Time: time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)},
			Event{Type: TypeLogin, Time: wednesday10, Detail: map[string]string{DetailStripped: "1"}},
		},
		{
			"long actor cleared",
			Event{Type: TypeLogin, ActorID: strings.Repeat("u", MaxIDLength+1)},
			Event{Type: TypeLogin, Time: wednesday10, Detail: map[string]string{DetailStripped: "1"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := s.clean(tc.in)
			if got.Type != tc.want.Type || got.ActorID != tc.want.ActorID ||
				got.TargetID != tc.want.TargetID || got.Address != tc.want.Address ||
				got.Outcome != tc.want.Outcome || !got.Time.Equal(tc.want.Time) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
			if len(got.Detail) != len(tc.want.Detail) || got.Detail[DetailStripped] != tc.want.Detail[DetailStripped] {
				t.Errorf("got detail %v, want %v", got.Detail, tc.want.Detail)
			}
		})
	}
}

func TestSanitizeKeepsAtMostMaxEntries(t *testing.T) {
	in := map[string]string{}
	for i := range MaxDetailEntries + 4 {
		in[string(rune('a'+i))+"_id"] = "1"
	}
	out := testSanitizer().clean(Event{Type: TypeLogin, Detail: in})
	if got := len(out.Detail); got != MaxDetailEntries+1 { // plus "stripped"
		t.Errorf("got %d entries, want %d", got, MaxDetailEntries+1)
	}
	if out.Detail[DetailStripped] != "4" {
		t.Errorf("got stripped %q, want 4", out.Detail[DetailStripped])
	}
}

func TestSanitizeDoesNotModifyInput(t *testing.T) {
	in := map[string]string{"password": "x", "bytes": "1"}
	testSanitizer().clean(Event{Type: TypeLogin, Detail: in})
	if len(in) != 2 || in["password"] != "x" {
		t.Errorf("input detail changed to %v", in)
	}
}

// canary marks every secret fed to the log below; it must appear nowhere
// on disk, in logs or in metrics.
const canary = "CANARYc4n4ry"

// secretFixtures are events as a careless emitter might build them.
func secretFixtures() []Event {
	token := canary + "Xq3pN0vA8sYt2LmK9cR4uW7zB1eD6fH5jG0iO3k"
	return []Event{
		{Type: TypeLogin, TargetID: "u1", Outcome: OutcomeFailure, Detail: map[string]string{
			"password": canary + "-hunter2", "email_password": canary, "bytes": "12",
		}},
		{Type: TypeSecondFactor, TargetID: "u1", Outcome: OutcomeFailure, Detail: map[string]string{
			"code": canary + "123456", "totp": canary, "method": "totp",
		}},
		{Type: TypeSessionRevoke, ActorID: "u1", TargetID: token, Detail: map[string]string{
			"session_token": token, "authorization": "Bearer " + canary,
		}},
		{Type: TypeMessageSend, ActorID: "u1", TargetID: "c1", Outcome: OutcomeSuccess, Detail: map[string]string{
			"content": canary + " I have a rash", "body": canary, "ciphertext": canary,
			"envelope": canary, "message_id": "m1", "note": canary + " free text",
			"reason": "see " + token,
		}},
		{Type: TypeDeviceRegister, ActorID: "u1", TargetID: "d1", Outcome: OutcomeSuccess, Detail: map[string]string{
			"public_key": canary, "seed": canary, "role": "patient", "cookie": canary,
		}},
		{Type: TypeLogin, ActorID: "Bearer " + canary, Address: canary, Detail: map[string]string{
			"multi\nline": canary, "x": "-----BEGIN " + canary,
		}},
	}
}

func TestNoSecretReachesDiskLogsOrMetrics(t *testing.T) {
	db := openDB(t)
	var logs bytes.Buffer
	reg := prometheus.NewRegistry()
	l := newTestLog(t, db, Config{Registerer: reg}, Deps{
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	for _, e := range secretFixtures() {
		l.Record(context.Background(), e)
	}
	flush(t, l)

	for _, r := range readAll(t, db) {
		line, err := r.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(line, []byte(canary)) {
			t.Errorf("record %d contains the canary: %s", r.Seq, line)
		}
		if r.Detail[DetailStripped] == "" {
			t.Errorf("record %d: no stripped count", r.Seq)
		}
	}
	closeLog(t, l)
	file, err := os.ReadFile(db.Path())
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(file, []byte(canary)) {
		t.Error("the database file contains the canary")
	}
	if bytes.Contains(logs.Bytes(), []byte(canary)) {
		t.Errorf("the log output contains the canary: %s", logs.String())
	}
	mfs, err := reg.Gather()
	if err != nil || len(mfs) == 0 {
		t.Fatalf("gather metrics: %d families, %v", len(mfs), err)
	}
	for _, mf := range mfs {
		if strings.Contains(mf.String(), canary) {
			t.Errorf("metric %s contains the canary", mf.GetName())
		}
	}
	if got := counterValue(t, l.met.stripped.WithLabelValues(stripDeniedKey)); got != 14 {
		t.Errorf("got %v denied keys counted, want 14", got)
	}
}
