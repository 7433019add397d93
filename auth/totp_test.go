package auth

import (
	"bytes"
	"encoding/base64"
	"image/png"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/bedside-health/bedside/audit"
	"github.com/bedside-health/bedside/policy"
	"github.com/bedside-health/bedside/store"
)

func (e *env) code(secret string, at time.Time) string {
	e.t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totpOptions())
	if err != nil {
		e.t.Fatalf("generate code: %v", err)
	}
	return c
}

// enroll runs the enrollment with a session token and returns the secret
// and the recovery codes.
func (e *env) enroll(token string) (string, []string) {
	e.t.Helper()
	r := e.do("POST", "/api/v1/me/totp", token, nil)
	if r.status != http.StatusOK {
		e.t.Fatalf("start enrollment: got %d, want 200; body %s", r.status, r.raw)
	}
	secret, _ := r.body["secret"].(string)
	r = e.do("POST", "/api/v1/me/totp/confirm", token, map[string]string{"code": e.code(secret, e.clock.Now())})
	if r.status != http.StatusOK {
		e.t.Fatalf("confirm enrollment: got %d, want 200; body %s", r.status, r.raw)
	}
	var codes []string
	for _, c := range r.body["recovery_codes"].([]any) {
		codes = append(codes, c.(string))
	}
	return secret, codes
}

// challenge runs the password step of an account with a second factor.
func (e *env) challenge(email, password string) string {
	e.t.Helper()
	r := e.do("POST", "/api/v1/auth/login", "", map[string]string{"email": email, "password": password})
	if r.status != http.StatusOK || r.body["second_factor_required"] != true {
		e.t.Fatalf("login %s: got %d %s, want 200 with second_factor_required", email, r.status, r.raw)
	}
	if _, ok := r.body["session"]; ok {
		e.t.Fatalf("password step returned a session before the second factor: %s", r.raw)
	}
	return r.body["challenge"].(string)
}

func (e *env) secondFactor(challenge, code string) response {
	e.t.Helper()
	return e.do("POST", "/api/v1/auth/login/second-factor", "", map[string]string{"challenge": challenge, "code": code})
}

func sessionToken(t *testing.T, r response) string {
	t.Helper()
	sess, _ := r.body["session"].(map[string]any)
	token, _ := sess["token"].(string)
	if r.status != http.StatusOK || token == "" {
		t.Fatalf("got %d %s, want 200 with a session", r.status, r.raw)
	}
	return token
}

func TestStaffNeedsSecondFactorBeforeData(t *testing.T) {
	e := newEnv(t, nil)
	e.user("doc@example.org", policy.RoleClinician, staffPassword)
	r := e.do("POST", "/api/v1/auth/login", "", map[string]string{"email": "doc@example.org", "password": staffPassword})
	if r.body["second_factor_enrollment_required"] != true {
		t.Fatalf("got %s, want second_factor_enrollment_required true", r.raw)
	}
	token := sessionToken(t, r)

	e.want(e.do("GET", "/api/v1/test/protected", token, nil), http.StatusForbidden, "second_factor_required")
	e.want(e.do("POST", "/api/v1/invitations", token,
		map[string]string{"email": "p@example.org", "role": "patient"}), http.StatusForbidden, "second_factor_required")
	if r := e.do("GET", "/api/v1/me", token, nil); r.status != http.StatusOK {
		t.Fatalf("GET /me before enrollment: got %d, want 200", r.status)
	}

	e.enroll(token)
	if r := e.do("GET", "/api/v1/test/protected", token, nil); r.status != http.StatusOK {
		t.Fatalf("after enrollment: got %d %s, want 200", r.status, r.raw)
	}
	if got := e.audit.count("auth.totp.enroll", audit.OutcomeSuccess); got != 2 {
		t.Fatalf("got %d enrollment events, want 2 (started, confirmed)", got)
	}
}

func TestEnrollmentReturnsQRCode(t *testing.T) {
	e := newEnv(t, nil)
	e.user("pat@example.org", policy.RolePatient, patientPassword)
	token := e.login("pat@example.org", patientPassword)
	r := e.do("POST", "/api/v1/me/totp", token, nil)
	uri, _ := r.body["otpauth_uri"].(string)
	if !strings.HasPrefix(uri, "otpauth://totp/Bedside:pat@example.org?") {
		t.Fatalf("got URI %q, want otpauth://totp/Bedside:pat@example.org?...", uri)
	}
	raw, err := base64.StdEncoding.DecodeString(r.body["qr_png"].(string))
	if err != nil {
		t.Fatalf("qr_png is not base64: %v", err)
	}
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("qr_png is not a PNG: %v", err)
	}
	if got := img.Bounds().Dx(); got != qrImageSize {
		t.Fatalf("got QR width %d, want %d", got, qrImageSize)
	}
	e.want(e.do("POST", "/api/v1/me/totp/confirm", token, map[string]string{"code": "000000"}),
		http.StatusUnauthorized, "invalid_code")
}

func TestSecondFactorLoginAndReplay(t *testing.T) {
	e := newEnv(t, nil)
	e.user("nurse@example.org", policy.RoleNurse, staffPassword)
	secret, _ := e.enroll(e.login("nurse@example.org", staffPassword))

	// The code used for enrollment is spent; the next step's code works.
	e.clock.Advance(totpPeriod * time.Second)
	code := e.code(secret, e.clock.Now())
	token := sessionToken(t, e.secondFactor(e.challenge("nurse@example.org", staffPassword), code))
	if r := e.do("GET", "/api/v1/test/protected", token, nil); r.status != http.StatusOK {
		t.Fatalf("got %d, want 200 with a second-factor session", r.status)
	}

	// The same code again, on a fresh challenge, is a replay.
	e.want(e.secondFactor(e.challenge("nurse@example.org", staffPassword), code),
		http.StatusUnauthorized, "invalid_code")
	// So is the code of the previous step, inside the drift window.
	prev := e.code(secret, e.clock.Now().Add(-totpPeriod*time.Second))
	e.want(e.secondFactor(e.challenge("nurse@example.org", staffPassword), prev),
		http.StatusUnauthorized, "invalid_code")
	if got := e.audit.count("auth.second_factor", audit.OutcomeFailure); got != 2 {
		t.Fatalf("got %d second-factor failure events, want 2", got)
	}
}

func TestSecondFactorClockDrift(t *testing.T) {
	tests := []struct {
		name   string
		offset time.Duration
		ok     bool
	}{
		{"one step behind", -totpPeriod * time.Second, true},
		{"one step ahead", totpPeriod * time.Second, true},
		{"two steps behind", -2 * totpPeriod * time.Second, false},
		{"two steps ahead", 2 * totpPeriod * time.Second, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			e.user("pat@example.org", policy.RolePatient, patientPassword)
			secret, _ := e.enroll(e.login("pat@example.org", patientPassword))
			e.clock.Advance(10 * totpPeriod * time.Second)
			r := e.secondFactor(e.challenge("pat@example.org", patientPassword),
				e.code(secret, e.clock.Now().Add(tt.offset)))
			if got := r.status == http.StatusOK; got != tt.ok {
				t.Fatalf("got status %d, want success %v; body %s", r.status, tt.ok, r.raw)
			}
		})
	}
}

func TestRecoveryCodesSingleUse(t *testing.T) {
	e := newEnv(t, nil)
	e.user("admin@example.org", policy.RoleAdmin, staffPassword)
	_, codes := e.enroll(e.login("admin@example.org", staffPassword))
	if len(codes) != recoveryCodeCount {
		t.Fatalf("got %d recovery codes, want %d", len(codes), recoveryCodeCount)
	}
	seen := map[string]bool{}
	for _, c := range codes {
		if seen[c] {
			t.Fatalf("recovery code %q repeats", c)
		}
		seen[c] = true
	}
	token := sessionToken(t, e.secondFactor(e.challenge("admin@example.org", staffPassword), strings.ToLower(codes[3])))
	me := e.do("GET", "/api/v1/me", token, nil)
	acct := me.body["account"].(map[string]any)
	if got := acct["recovery_codes_left"]; got != float64(recoveryCodeCount-1) {
		t.Fatalf("got recovery_codes_left %v, want %d", got, recoveryCodeCount-1)
	}
	e.want(e.secondFactor(e.challenge("admin@example.org", staffPassword), codes[3]),
		http.StatusUnauthorized, "invalid_code")
}

func TestChallengeSingleUseAndExpiry(t *testing.T) {
	e := newEnv(t, nil)
	e.user("pat@example.org", policy.RolePatient, patientPassword)
	secret, _ := e.enroll(e.login("pat@example.org", patientPassword))

	e.clock.Advance(totpPeriod * time.Second)
	ch := e.challenge("pat@example.org", patientPassword)
	sessionToken(t, e.secondFactor(ch, e.code(secret, e.clock.Now())))
	e.clock.Advance(totpPeriod * time.Second)
	e.want(e.secondFactor(ch, e.code(secret, e.clock.Now())), http.StatusUnauthorized, "invalid_token")

	ch = e.challenge("pat@example.org", patientPassword)
	e.clock.Advance(DefaultConfig().ChallengeTTL + time.Second)
	e.want(e.secondFactor(ch, e.code(secret, e.clock.Now())), http.StatusUnauthorized, "invalid_token")

	// A challenge survives ChallengeAttempts-1 wrong codes, then is gone.
	ch = e.challenge("pat@example.org", patientPassword)
	for range DefaultConfig().ChallengeAttempts - 1 {
		e.want(e.secondFactor(ch, "000000"), http.StatusUnauthorized, "invalid_code")
	}
	e.want(e.secondFactor(ch, "000000"), http.StatusUnauthorized, "invalid_code")
	e.want(e.secondFactor(ch, e.code(secret, e.clock.Now())), http.StatusUnauthorized, "invalid_token")
}

func TestTOTPSecretSealedAtRest(t *testing.T) {
	e := newEnv(t, nil)
	acct := e.user("pat@example.org", policy.RolePatient, patientPassword)
	secret, codes := e.enroll(e.login("pat@example.org", patientPassword))
	raw, err := e.db.Account(acct.ID)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw.TOTPSeed, []byte(secret)) {
		t.Fatal("stored TOTP seed contains the secret in plaintext")
	}
	plain, err := store.NewSealer(mustKey(t, e.dir)).Open(totpLocation(acct.ID), raw.TOTPSeed)
	if err != nil || string(plain) != secret {
		t.Fatalf("unsealing the stored seed: got %q, %v; want the enrolled secret", plain, err)
	}
	if _, err := e.svc.sealer.Open(totpLocation("another"), raw.TOTPSeed); err == nil {
		t.Fatal("seed opened at another account's location, want it bound to its own")
	}
	if err := e.db.Close(); err != nil {
		t.Fatal(err)
	}
	file, err := os.ReadFile(filepath.Join(e.dir, store.FileName))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range append([]string{secret, patientPassword}, codes...) {
		if bytes.Contains(file, []byte(s)) {
			t.Fatalf("database file contains a secret (%d bytes) in plaintext", len(s))
		}
	}
}

func mustKey(t *testing.T, dir string) *store.ServerKey {
	t.Helper()
	k, err := store.LoadKey(filepath.Join(dir, store.KeyFileName))
	if err != nil {
		t.Fatal(err)
	}
	return k
}
