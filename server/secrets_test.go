package server

import (
	"bytes"
	"context"
	"encoding/base32"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/bedside-health/bedside/messaging"
	"github.com/bedside-health/bedside/policy"
	"github.com/bedside-health/bedside/signaling"
	"github.com/bedside-health/bedside/store"
)

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.b.Bytes())
}

// secrets collects the secrets a scripted session used, by kind.
type secrets struct {
	exact map[string]string // secret -> kind, matched anywhere
	codes map[string]string // six-digit codes -> kind, matched as whole numbers
}

func (s *secrets) add(kind string, values ...string) {
	for _, v := range values {
		if v == "" {
			continue
		}
		s.exact[v] = kind
		// Tokens carry a prefix; their random part must not appear
		// without it either.
		if _, rest, ok := strings.Cut(v, "_"); ok && len(rest) >= 32 {
			s.exact[rest] = kind + " without prefix"
		}
	}
}

func (s *secrets) addCode(kind string, codes ...string) {
	for _, c := range codes {
		s.codes[c] = kind
	}
}

func (s *secrets) addAccount(a account) {
	s.add("password", a.Password)
	s.add("TOTP secret", a.TOTPSecret)
	if raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(a.TOTPSecret); err == nil && len(raw) > 0 {
		s.exact[string(raw)] = "TOTP secret bytes"
	}
	for _, c := range a.RecoveryCodes {
		s.add("recovery code", c, strings.ReplaceAll(c, "-", ""))
	}
	s.addCode("TOTP code", a.Codes...)
}

// find returns the kinds of the secrets that occur in data.
func (s *secrets) find(data []byte) []string {
	var found []string
	for v, kind := range s.exact {
		if bytes.Contains(data, []byte(v)) {
			found = append(found, kind)
		}
	}
	for c, kind := range s.codes {
		if regexp.MustCompile(`(^|[^0-9])` + c + `([^0-9]|$)`).Match(data) {
			found = append(found, kind+" "+c)
		}
	}
	return found
}

// TestNoSecretInLogsMetricsOrDatabase runs a scripted session with the
// server's log at debug level in a buffer. The session seeds the demo,
// signs in with a TOTP code and with a recovery code, sends a wrong
// password, accepts an invitation, resets a password, books a
// consultation, sends an encrypted message and joins over the WebSocket.
// The test then scrapes /metrics and stops the server. No password, TOTP
// secret or code, recovery code, token, challenge, message plaintext or
// server key may appear in the log, the metrics or the database file.
func TestNoSecretInLogsMetricsOrDatabase(t *testing.T) {
	logs := &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	tc := newLoggedTestClinic(t, nil, log)
	w := newWorld(tc)
	s := &secrets{exact: map[string]string{}, codes: map[string]string{}}
	ctx := context.Background()

	demo, err := tc.srv.SeedDemo(ctx)
	if err != nil {
		t.Fatalf("SeedDemo: %v", err)
	}
	for _, u := range []DemoUser{demo.Admin, demo.Clinician, demo.Nurse, demo.Patient} {
		s.add("demo password", u.Password)
		s.add("demo TOTP secret", u.TOTPSecret)
	}

	// Accounts with TOTP: enrollment confirms a code of the current step.
	admin, _ := tc.newUser(t, policy.RoleAdmin)
	clinician, clinicianActor := tc.newUser(t, policy.RoleClinician)
	nurse, _ := tc.newUser(t, policy.RoleNurse)

	// A sign-in with the next step's code, and one with a recovery code.
	code := nextCode(t, admin.TOTPSecret)
	s.addCode("TOTP code", code)
	adminToken := w.signInWith(t, s, admin, code)
	w.signInWith(t, s, nurse, nurse.RecoveryCodes[0])

	// A wrong password.
	wrong := "wrong-" + randomPassword()
	s.add("wrong password", wrong)
	res := tc.call(t, "", "POST", "/api/v1/auth/login", map[string]string{"email": clinician.Email, "password": wrong})
	if res.Status != http.StatusUnauthorized {
		t.Fatalf("wrong password: got %d %s", res.Status, res.Body)
	}

	// An invitation accepted with a password, then a password reset.
	var inv struct {
		AccountID string `json:"account_id"`
		Token     string `json:"token"`
	}
	email := newEmail()
	tc.mustCall(t, adminToken, "POST", "/api/v1/invitations", map[string]string{"email": email, "role": "patient"}, &inv)
	patient := account{ID: inv.AccountID, Email: email, Role: policy.RolePatient, Password: randomPassword()}
	s.add("invitation token", inv.Token)
	s.add("password", patient.Password)
	tc.mustCall(t, "", "POST", "/api/v1/invitations/accept", map[string]string{
		"token": inv.Token, "password": patient.Password, "display_name": "Pat Secret"}, nil)
	var reset struct {
		Token string `json:"token"`
	}
	tc.mustCall(t, adminToken, "POST", "/api/v1/admin/users/"+patient.ID+"/password-reset", nil, &reset)
	s.add("reset token", reset.Token)
	patient.Password = randomPassword()
	s.add("password", patient.Password)
	tc.mustCall(t, "", "POST", "/api/v1/password-reset", map[string]string{"token": reset.Token, "password": patient.Password}, nil)

	// A consultation booked through the API, starting now.
	tc.mustCall(t, adminToken, "PUT", "/api/v1/patients/"+patient.ID+"/care-team", map[string]any{
		"members": []map[string]string{{"user_id": clinician.ID}}}, nil)
	start := time.Now().UTC().Truncate(time.Minute)
	var c struct {
		ID string `json:"id"`
	}
	tc.mustCall(t, tc.token(t, clinicianActor), "POST", "/api/v1/consultations", map[string]any{
		"patient_id": patient.ID, "start": start.Format(time.RFC3339),
		"end": start.Add(30 * time.Minute).Format(time.RFC3339)}, &c)

	// An encrypted message from the clinician to the patient's care thread.
	canary := "CANARY-5d1c the patient reports chest pain at night"
	s.add("message plaintext", canary)
	w.registerDevice(t, clinicianActor)
	patientActor := w.signIn(t, patient)
	w.registerDevice(t, patientActor)
	conv := messaging.CareConversation(patient.ID)
	wire := w.seal(t, clinicianActor, conv.ID, conv.Resource(), canary)
	h := w.deviceHeader(t, clinicianActor)
	h.Set("Content-Type", messaging.SealedMediaType)
	tc.mustCallWith(t, tc.token(t, clinicianActor), "POST", "/api/v1/conversations/"+conv.ID+"/messages",
		rawBody(wire), h, nil)

	// A WebSocket authentication and join.
	ws, err := w.wsSession(t, clinicianActor)
	if err != nil {
		t.Fatal(err)
	}
	if f := ws.join(c.ID); f.Type != signaling.TypeJoined {
		t.Fatalf("join: got %s", f.raw)
	}
	ws.leave()

	for _, a := range []account{admin, clinician, nurse} {
		s.addAccount(a)
	}
	tc.mu.Lock()
	for _, tok := range tc.tokens {
		s.add("session token", tok)
	}
	tc.mu.Unlock()
	key, err := os.ReadFile(filepath.Join(tc.srv.cfg.DataDir, store.KeyFileName))
	if err != nil {
		t.Fatal(err)
	}
	s.exact[string(key)] = "server key file"

	metrics := scrapeMetrics(t, tc.addr)
	tc.stop()
	db, err := os.ReadFile(filepath.Join(tc.srv.cfg.DataDir, store.FileName))
	if err != nil {
		t.Fatal(err)
	}
	logged := logs.Bytes()
	if len(logged) == 0 || !bytes.Contains(metrics, []byte("bedside_http_requests_total")) || len(db) == 0 {
		t.Fatalf("got %d log bytes, %d metrics bytes, %d database bytes; the session must produce all three",
			len(logged), len(metrics), len(db))
	}
	for name, data := range map[string][]byte{"log": logged, "metrics": metrics, "database file": db} {
		for _, kind := range s.find(data) {
			t.Errorf("the %s contains a %s", name, kind)
		}
	}
	t.Logf("searched %d secrets and %d codes in %d log, %d metrics and %d database bytes",
		len(s.exact), len(s.codes), len(logged), len(metrics), len(db))
}

// signInWith signs a into a full session with a TOTP or recovery code
// and records the challenge and the session token as secrets.
func (w *world) signInWith(t *testing.T, s *secrets, a account, code string) string {
	t.Helper()
	first := w.tc.passwordLogin(t, a)
	if first.Challenge == "" {
		t.Fatalf("sign-in of %s: got no challenge", a.Role)
	}
	s.add("challenge", first.Challenge)
	var ans loginAnswer
	w.tc.mustCall(t, "", "POST", "/api/v1/auth/login/second-factor",
		map[string]string{"challenge": first.Challenge, "code": code}, &ans)
	if !ans.Session.SecondFactor {
		t.Fatalf("sign-in of %s with a code: got a session without the second factor", a.Role)
	}
	s.add("session token", ans.Session.Token)
	return ans.Session.Token
}

// nextCode returns the code of the next time step, which the server
// accepts as one step of drift after the current step's code was used.
func nextCode(t *testing.T, secret string) string {
	t.Helper()
	code, err := totp.GenerateCode(secret, time.Now().Add(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	return code
}

func scrapeMetrics(t *testing.T, addr string) []byte {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: got %d, %v", resp.StatusCode, err)
	}
	return raw
}
