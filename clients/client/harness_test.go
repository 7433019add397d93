package client_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/bedside-health/bedside/clients/client"
	"github.com/bedside-health/bedside/clients/client/internal/tamper"
	"github.com/bedside-health/bedside/server"
	"github.com/bedside-health/bedside/sfu"
)

// account is a seeded account with what it needs to sign in.
type account struct {
	ID, Email, Password, Role string
	TOTPSecret                string

	mu       sync.Mutex
	recovery []string
	lastStep int64
}

// recoveryCode returns an unused recovery code. Tests sign staff in with
// them because a TOTP code works once per 30-second step.
func (a *account) recoveryCode() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.recovery) == 0 {
		panic("test account " + a.Email + " has no recovery codes left")
	}
	c := a.recovery[0]
	a.recovery = a.recovery[1:]
	return c
}

// totpCode returns a TOTP code of a time step not used before: the
// current one, or the next when the current one was used (the server
// accepts one step of drift).
func (a *account) totpCode() (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	step := time.Now().Unix() / 30
	if step <= a.lastStep {
		step = a.lastStep + 1
	}
	if step > time.Now().Unix()/30+1 {
		return "", fmt.Errorf("no unused TOTP step for %s within the drift window", a.Email)
	}
	a.lastStep = step
	return totp.GenerateCode(a.TOTPSecret, time.Unix(step*30, 0))
}

// credentials signs the account in with a recovery code when it has a
// second factor.
func (a *account) credentials() client.Credentials {
	c := client.Credentials{Email: a.Email, Password: a.Password}
	if a.TOTPSecret != "" {
		c.RecoveryCode = a.recoveryCode()
	}
	return c
}

// fixture is a running server with a small clinic: a clinician and a
// patient in the clinician's care, a consultation of the two starting
// now, and a nurse who is in nobody's care team.
type fixture struct {
	URL          string // the tampering proxy, transparent until armed
	DirectURL    string // the server itself
	DataDir      string
	Proxy        *tamper.Proxy
	Clinician    *account
	Patient      *account
	Nurse        *account
	Consultation string
}

func (f *fixture) careConversation() string { return "care:" + f.Patient.ID }

// startFixture starts a server on loopback with cheap password hashing
// and loopback-only media, seeds the clinic through the real invitation
// API and returns a stop function.
func startFixture(dataDir string) (*fixture, func() error, error) {
	cfg := server.DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = dataDir
	cfg.ShutdownTimeout = 5 * time.Second
	cfg.Media = sfu.Config{UDPPort: 0, AllowLoopback: true, Interfaces: []string{"lo"}}
	// Cheap hashing keeps the tests fast; the parameters are stored with
	// each hash, so sign-in works the same way.
	cfg.Auth.Password.Memory = 64
	cfg.Auth.Password.Time = 1
	cfg.Clinic.JoinBefore, cfg.Clinic.JoinGrace = 15*time.Minute, 30*time.Minute
	srv, err := server.New(cfg, nil)
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, func(a net.Addr) { addrc <- a }) }()
	var addr net.Addr
	select {
	case addr = <-addrc:
	case err := <-done:
		cancel()
		srv.Close()
		return nil, nil, fmt.Errorf("serve: %w", err)
	case <-time.After(10 * time.Second):
		cancel()
		return nil, nil, errors.New("server did not start within 10s")
	}
	proxy := tamper.New(srv.Handler())
	front := httptest.NewServer(proxy)
	stop := func() error {
		front.CloseClientConnections()
		front.Close()
		cancel()
		var err error
		select {
		case err = <-done:
		case <-time.After(15 * time.Second):
			err = errors.New("server did not stop within 15s")
		}
		return errors.Join(err, srv.Close())
	}
	f := &fixture{URL: front.URL, DirectURL: "http://" + addr.String(), DataDir: dataDir, Proxy: proxy}
	if err := f.seed(cfg); err != nil {
		stop()
		return nil, nil, fmt.Errorf("seed: %w", err)
	}
	return f, stop, nil
}

// newFixture starts a fixture stopped at the end of the test.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	f, stop, err := startFixture(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("stop server: %v", err)
		}
	})
	return f
}

func (f *fixture) seed(cfg server.Config) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	api := &seedAPI{base: f.DirectURL}
	var err error
	if f.Clinician, err = api.staff(ctx, cfg, "clinician@test.bedside", "clinician", "Dr. Carla Clinician"); err != nil {
		return err
	}
	if f.Nurse, err = api.staff(ctx, cfg, "nurse@test.bedside", "nurse", "Noah Nurse"); err != nil {
		return err
	}
	clinToken, err := api.signIn(ctx, f.Clinician)
	if err != nil {
		return err
	}
	// The inviting clinician joins the new patient's care team.
	if f.Patient, err = api.patient(ctx, clinToken, "patient@test.bedside", "Pat Patient"); err != nil {
		return err
	}
	start := time.Now().UTC().Truncate(time.Minute)
	var c struct{ ID string }
	err = api.call(ctx, clinToken, "POST", "/api/v1/consultations", map[string]any{
		"patient_id": f.Patient.ID,
		"start":      start.Format(time.RFC3339),
		"end":        start.Add(time.Hour).Format(time.RFC3339),
	}, &c)
	f.Consultation = c.ID
	return err
}

// seedAPI calls the server's HTTP API during seeding.
type seedAPI struct{ base string }

func (s *seedAPI) call(ctx context.Context, token, method, path string, body, out any) error {
	var rd io.Reader = http.NoBody
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: status %d: %s", method, path, resp.StatusCode, bytes.TrimSpace(raw))
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

// staff creates a staff account through the control socket, sets its
// password and enrolls TOTP, keeping the recovery codes.
func (s *seedAPI) staff(ctx context.Context, cfg server.Config, email, role, name string) (*account, error) {
	inv, err := server.CreateUser(ctx, cfg, server.CreateUserRequest{Email: email, Role: role, DisplayName: name})
	if err != nil {
		return nil, err
	}
	a := &account{ID: inv.AccountID, Email: email, Role: role, Password: randomPassword()}
	if err := s.accept(ctx, inv.Token, a.Password, name); err != nil {
		return nil, err
	}
	var login struct {
		Session struct{ Token string } `json:"session"`
	}
	if err := s.call(ctx, "", "POST", "/api/v1/auth/login",
		map[string]string{"email": email, "password": a.Password}, &login); err != nil {
		return nil, err
	}
	var enroll struct{ Secret string }
	if err := s.call(ctx, login.Session.Token, "POST", "/api/v1/me/totp", nil, &enroll); err != nil {
		return nil, err
	}
	a.TOTPSecret = enroll.Secret
	code, err := a.totpCode()
	if err != nil {
		return nil, err
	}
	var confirm struct {
		RecoveryCodes []string `json:"recovery_codes"`
	}
	if err := s.call(ctx, login.Session.Token, "POST", "/api/v1/me/totp/confirm",
		map[string]string{"code": code}, &confirm); err != nil {
		return nil, err
	}
	a.recovery = confirm.RecoveryCodes
	return a, nil
}

func (s *seedAPI) accept(ctx context.Context, token, password, name string) error {
	return s.call(ctx, "", "POST", "/api/v1/invitations/accept",
		map[string]string{"token": token, "password": password, "display_name": name}, nil)
}

// signIn returns a full session token, spending a recovery code.
func (s *seedAPI) signIn(ctx context.Context, a *account) (string, error) {
	var first struct{ Challenge string }
	if err := s.call(ctx, "", "POST", "/api/v1/auth/login",
		map[string]string{"email": a.Email, "password": a.Password}, &first); err != nil {
		return "", err
	}
	var second struct {
		Session struct{ Token string } `json:"session"`
	}
	err := s.call(ctx, "", "POST", "/api/v1/auth/login/second-factor",
		map[string]string{"challenge": first.Challenge, "code": a.recoveryCode()}, &second)
	return second.Session.Token, err
}

// patient invites a patient as the clinician of token and accepts the
// invitation.
func (s *seedAPI) patient(ctx context.Context, token, email, name string) (*account, error) {
	var inv struct {
		AccountID string `json:"account_id"`
		Token     string `json:"token"`
	}
	if err := s.call(ctx, token, "POST", "/api/v1/invitations",
		map[string]string{"email": email, "role": "patient", "display_name": name}, &inv); err != nil {
		return nil, err
	}
	a := &account{ID: inv.AccountID, Email: email, Role: "patient", Password: randomPassword()}
	return a, s.accept(ctx, inv.Token, a.Password, name)
}

// randomPassword returns 20 random base32 characters.
func randomPassword() string {
	b := make([]byte, 13)
	rand.Read(b)
	return strings.ToLower(base32.StdEncoding.EncodeToString(b)[:20])
}
