package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/bedside-health/bedside/policy"
	"github.com/bedside-health/bedside/store"
)

// DemoFileName is the file in the data directory where --demo writes the
// demo accounts' credentials (mode 0600).
const DemoFileName = "demo.json"

// DemoUser is one seeded demo account with the secrets needed to sign in.
type DemoUser struct {
	ID         string      `json:"id"`
	Email      string      `json:"email"`
	Role       policy.Role `json:"role"`
	Name       string      `json:"name"`
	Password   string      `json:"password"`
	TOTPSecret string      `json:"totp_secret"`
	// TOTPStepUsed is the last 30-second TOTP time step the seeding used
	// for this account. The server accepts each step once, so the next
	// sign-in needs a later one.
	TOTPStepUsed int64 `json:"totp_step_used"`
}

// NextCode returns the TOTP code of the first time step after the ones
// seeding used, and the time from which the server accepts it. The server
// accepts one step of drift, so a code of the next step works at once.
func (u DemoUser) NextCode(now time.Time) (code string, validFrom time.Time, err error) {
	step := max(now.Unix()/30, u.TOTPStepUsed+1)
	code, err = totp.GenerateCode(u.TOTPSecret, time.Unix(step*30, 0))
	return code, time.Unix((step-1)*30, 0), err
}

// Demo is what --demo seeds: four accounts and a consultation that starts
// at seeding time.
type Demo struct {
	Admin          DemoUser `json:"admin"`
	Clinician      DemoUser `json:"clinician"`
	Nurse          DemoUser `json:"nurse"`
	Patient        DemoUser `json:"patient"`
	ConsultationID string   `json:"consultation_id"`
}

// SeedDemo creates a demo clinic through the server's own HTTP API, so the
// demo data passes every check real data does, and writes the credentials
// to DATA-DIR/demo.json. A data directory seeded before is reused, with a
// new consultation booked when the last one has ended. It refuses to run
// unless the server listens on loopback only, because the demo passwords
// are printed and stored in plain text, and refuses a database that holds
// accounts of its own, so demo accounts never enter a real clinic.
func (s *Server) SeedDemo(ctx context.Context) (Demo, error) {
	host, _, _ := net.SplitHostPort(s.cfg.Addr)
	if !isLoopbackHost(host) {
		return Demo{}, fmt.Errorf("--demo needs a loopback --addr such as 127.0.0.1:8080, got %q", s.cfg.Addr)
	}
	path := filepath.Join(s.cfg.DataDir, DemoFileName)
	raw, err := os.ReadFile(path)
	switch {
	case err == nil:
		var d Demo
		if err := json.Unmarshal(raw, &d); err != nil {
			return Demo{}, fmt.Errorf("read %s: %w; delete the data directory to seed a new demo", path, err)
		}
		return s.refreshDemo(ctx, path, d)
	case !errors.Is(err, fs.ErrNotExist):
		return Demo{}, err
	}
	accounts, err := s.services.auth.Accounts(ctx, "", 1)
	if err != nil {
		return Demo{}, err
	}
	if len(accounts) > 0 {
		return Demo{}, fmt.Errorf("--demo needs a new data directory, but %s already holds accounts; "+
			"use another --data-dir such as ./demo-data", s.cfg.DataDir)
	}

	seed := &demoSeeder{s: s}
	defer seed.signOut(ctx)
	var d Demo
	users := []struct {
		dst   *DemoUser
		email string
		role  policy.Role
		name  string
	}{
		{&d.Admin, "admin@demo.bedside.test", policy.RoleAdmin, "Ada Admin"},
		{&d.Clinician, "clinician@demo.bedside.test", policy.RoleClinician, "Dr. Carla Clinician"},
		{&d.Nurse, "nurse@demo.bedside.test", policy.RoleNurse, "Noah Nurse"},
		{&d.Patient, "patient@demo.bedside.test", policy.RolePatient, "Pat Patient"},
	}
	for _, u := range users {
		created, err := seed.user(ctx, u.email, u.role, u.name)
		if err != nil {
			return Demo{}, fmt.Errorf("seed %s: %w", u.role, err)
		}
		*u.dst = created
	}
	if err := seed.careTeam(ctx, &d); err != nil {
		return Demo{}, err
	}
	if d.ConsultationID, err = seed.book(ctx, &d.Clinician, d.Patient.ID); err != nil {
		return Demo{}, err
	}
	return d, writeDemo(path, d)
}

// refreshDemo books a new consultation for a reused demo whose last one is
// over, so a restarted demo can still be tried.
func (s *Server) refreshDemo(ctx context.Context, path string, d Demo) (Demo, error) {
	c, err := s.services.clinic.Consultation(ctx, d.ConsultationID)
	if err == nil && !c.Status.Final() && time.Now().Before(c.End) {
		return d, nil
	}
	seed := &demoSeeder{s: s}
	defer seed.signOut(ctx)
	// The clinician may have signed in with the current step's code since
	// the file was written, so the booking uses the next one.
	d.Clinician.TOTPStepUsed = max(d.Clinician.TOTPStepUsed, time.Now().Unix()/30)
	if d.ConsultationID, err = seed.book(ctx, &d.Clinician, d.Patient.ID); err != nil {
		return Demo{}, err
	}
	return d, writeDemo(path, d)
}

// writeDemo replaces the demo file atomically, with mode 0600.
func writeDemo(path string, d Demo) error {
	raw, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".new"
	os.Remove(tmp)
	_, err = store.WriteFileExclusive(tmp, func(w io.Writer) (int64, error) {
		n, err := w.Write(raw)
		return int64(n), err
	})
	if err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// demoSeeder calls the server's handler in process, as a client on
// loopback would.
type demoSeeder struct {
	s *Server
	// tokens are the sessions seeding opened, ended by signOut so that no
	// account shows a session its owner did not start.
	tokens []string
}

func (ds *demoSeeder) user(ctx context.Context, email string, role policy.Role, name string) (DemoUser, error) {
	inv, err := createUser(ctx, ds.s.services.auth, CreateUserRequest{Email: email, Role: string(role), DisplayName: name})
	if err != nil {
		return DemoUser{}, err
	}
	u := DemoUser{ID: inv.AccountID, Email: inv.Email, Role: role, Name: name, Password: randomPassword()}
	_, err = ds.call(ctx, "", "POST /api/v1/invitations/accept", map[string]string{
		"token": inv.Token, "password": u.Password, "display_name": name,
	})
	if err != nil {
		return DemoUser{}, err
	}
	var login struct {
		Session struct{ Token string } `json:"session"`
	}
	if err := ds.decode(ctx, "", "POST /api/v1/auth/login", map[string]string{
		"email": email, "password": u.Password,
	}, &login); err != nil {
		return DemoUser{}, err
	}
	ds.tokens = append(ds.tokens, login.Session.Token)
	var enroll struct{ Secret string }
	if err := ds.decode(ctx, login.Session.Token, "POST /api/v1/me/totp", nil, &enroll); err != nil {
		return DemoUser{}, err
	}
	u.TOTPSecret = enroll.Secret
	// Confirming with the previous step's code, which the server accepts
	// as clock drift, keeps the current and next steps free for sign-in.
	u.TOTPStepUsed = time.Now().Unix()/30 - 2
	code, err := ds.code(&u)
	if err != nil {
		return DemoUser{}, err
	}
	if _, err := ds.call(ctx, login.Session.Token, "POST /api/v1/me/totp/confirm", map[string]string{"code": code}); err != nil {
		return DemoUser{}, err
	}
	return u, nil
}

// signIn returns a full session token for u and records the TOTP step
// it used.
func (ds *demoSeeder) signIn(ctx context.Context, u *DemoUser) (string, error) {
	var first struct{ Challenge string }
	if err := ds.decode(ctx, "", "POST /api/v1/auth/login", map[string]string{
		"email": u.Email, "password": u.Password,
	}, &first); err != nil {
		return "", err
	}
	code, err := ds.code(u)
	if err != nil {
		return "", err
	}
	var second struct {
		Session struct{ Token string } `json:"session"`
	}
	err = ds.decode(ctx, "", "POST /api/v1/auth/login/second-factor", map[string]string{
		"challenge": first.Challenge, "code": code,
	}, &second)
	if err != nil {
		return "", err
	}
	ds.tokens = append(ds.tokens, second.Session.Token)
	return second.Session.Token, nil
}

// signOut ends every session the seeding opened.
func (ds *demoSeeder) signOut(ctx context.Context) {
	for _, token := range ds.tokens {
		if _, err := ds.call(ctx, token, "POST /api/v1/auth/logout", nil); err != nil {
			ds.s.log.Warn("demo: could not end a seeding session", "err", err)
		}
	}
	ds.tokens = nil
}

// careTeam puts the clinician and the nurse on the patient's care team.
func (ds *demoSeeder) careTeam(ctx context.Context, d *Demo) error {
	adminToken, err := ds.signIn(ctx, &d.Admin)
	if err != nil {
		return fmt.Errorf("admin sign-in: %w", err)
	}
	_, err = ds.call(ctx, adminToken, "PUT /api/v1/patients/"+d.Patient.ID+"/care-team", map[string]any{
		"members": []map[string]string{{"user_id": d.Clinician.ID}, {"user_id": d.Nurse.ID}},
	})
	if err != nil {
		return fmt.Errorf("set care team: %w", err)
	}
	return nil
}

// book has the clinician book a one-hour consultation with the patient
// that starts now, and returns its id.
func (ds *demoSeeder) book(ctx context.Context, clinician *DemoUser, patientID string) (string, error) {
	token, err := ds.signIn(ctx, clinician)
	if err != nil {
		return "", fmt.Errorf("clinician sign-in: %w", err)
	}
	now := time.Now().UTC().Truncate(time.Minute)
	var c struct{ ID string }
	err = ds.decode(ctx, token, "POST /api/v1/consultations", map[string]any{
		"patient_id": patientID,
		"start":      now.Format(time.RFC3339),
		"end":        now.Add(time.Hour).Format(time.RFC3339),
	}, &c)
	if err != nil {
		return "", fmt.Errorf("book consultation: %w", err)
	}
	return c.ID, nil
}

// code returns the TOTP code of the first step after the last one used for
// u, and records it as used. It fails when that step is more than one step
// ahead of the clock, which the server would reject.
func (ds *demoSeeder) code(u *DemoUser) (string, error) {
	now := time.Now().Unix() / 30
	step := max(now-1, u.TOTPStepUsed+1)
	if step > now+1 {
		return "", fmt.Errorf("no TOTP code of %s is free before %s; start again in a minute",
			u.Email, time.Unix((step-1)*30, 0).Format(time.TimeOnly))
	}
	u.TOTPStepUsed = step
	return totp.GenerateCode(u.TOTPSecret, time.Unix(step*30, 0))
}

func (ds *demoSeeder) call(ctx context.Context, token, route string, body any) ([]byte, error) {
	method, path, _ := strings.Cut(route, " ")
	var rd io.Reader = http.NoBody
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req := httptest.NewRequestWithContext(ctx, method, path, rd)
	req.RemoteAddr = "127.0.0.1:1"
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	ds.s.handler.ServeHTTP(rec, req)
	if rec.Code/100 != 2 {
		return nil, fmt.Errorf("%s: status %d: %s", route, rec.Code, bytes.TrimSpace(rec.Body.Bytes()))
	}
	return rec.Body.Bytes(), nil
}

func (ds *demoSeeder) decode(ctx context.Context, token, route string, body, out any) error {
	raw, err := ds.call(ctx, token, route, body)
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, out)
}

// randomPassword returns 20 random base32 characters (100 bits).
func randomPassword() string {
	b := make([]byte, 13)
	rand.Read(b)
	return base32.StdEncoding.EncodeToString(b)[:20]
}
