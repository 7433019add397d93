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
// to DATA-DIR/demo.json. A data directory seeded before is reused as it is.
// It refuses to run unless the server listens on loopback only, because
// the demo passwords are printed and stored in plain text.
func (s *Server) SeedDemo(ctx context.Context) (Demo, error) {
	host, _, _ := net.SplitHostPort(s.cfg.Addr)
	if !isLoopbackHost(host) {
		return Demo{}, fmt.Errorf("--demo needs a loopback --addr such as 127.0.0.1:8080, got %q", s.cfg.Addr)
	}
	path := filepath.Join(s.cfg.DataDir, DemoFileName)
	if raw, err := os.ReadFile(path); err == nil {
		var d Demo
		if err := json.Unmarshal(raw, &d); err != nil {
			return Demo{}, fmt.Errorf("read %s: %w; delete the data directory to seed a new demo", path, err)
		}
		return d, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return Demo{}, err
	}

	seed := demoSeeder{s: s}
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
	id, err := seed.clinic(ctx, d)
	if err != nil {
		return Demo{}, err
	}
	d.ConsultationID = id
	raw, _ := json.MarshalIndent(d, "", "  ")
	_, err = store.WriteFileExclusive(path, func(w io.Writer) (int64, error) {
		n, err := w.Write(raw)
		return int64(n), err
	})
	return d, err
}

// demoSeeder calls the server's handler in process, as a client on
// loopback would.
type demoSeeder struct {
	s *Server
	// step is the last TOTP time step used, because each code is accepted
	// once per account and the seeder signs in twice within a minute.
	step map[string]int64
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
	var enroll struct{ Secret string }
	if err := ds.decode(ctx, login.Session.Token, "POST /api/v1/me/totp", nil, &enroll); err != nil {
		return DemoUser{}, err
	}
	code, err := ds.code(u.ID, enroll.Secret)
	if err != nil {
		return DemoUser{}, err
	}
	if _, err := ds.call(ctx, login.Session.Token, "POST /api/v1/me/totp/confirm", map[string]string{"code": code}); err != nil {
		return DemoUser{}, err
	}
	u.TOTPSecret = enroll.Secret
	return u, nil
}

// signIn returns a full session token for u.
func (ds *demoSeeder) signIn(ctx context.Context, u DemoUser) (string, error) {
	var first struct{ Challenge string }
	if err := ds.decode(ctx, "", "POST /api/v1/auth/login", map[string]string{
		"email": u.Email, "password": u.Password,
	}, &first); err != nil {
		return "", err
	}
	code, err := ds.code(u.ID, u.TOTPSecret)
	if err != nil {
		return "", err
	}
	var second struct {
		Session struct{ Token string } `json:"session"`
	}
	err = ds.decode(ctx, "", "POST /api/v1/auth/login/second-factor", map[string]string{
		"challenge": first.Challenge, "code": code,
	}, &second)
	return second.Session.Token, err
}

// clinic puts the clinician and nurse on the patient's care team and books
// a one-hour consultation starting now.
func (ds *demoSeeder) clinic(ctx context.Context, d Demo) (string, error) {
	adminToken, err := ds.signIn(ctx, d.Admin)
	if err != nil {
		return "", fmt.Errorf("admin sign-in: %w", err)
	}
	_, err = ds.call(ctx, adminToken, "PUT /api/v1/patients/"+d.Patient.ID+"/care-team", map[string]any{
		"members": []map[string]string{{"user_id": d.Clinician.ID}, {"user_id": d.Nurse.ID}},
	})
	if err != nil {
		return "", fmt.Errorf("set care team: %w", err)
	}
	clinToken, err := ds.signIn(ctx, d.Clinician)
	if err != nil {
		return "", fmt.Errorf("clinician sign-in: %w", err)
	}
	now := time.Now().UTC().Truncate(time.Minute)
	var c struct{ ID string }
	err = ds.decode(ctx, clinToken, "POST /api/v1/consultations", map[string]any{
		"patient_id": d.Patient.ID,
		"start":      now.Format(time.RFC3339),
		"end":        now.Add(time.Hour).Format(time.RFC3339),
	}, &c)
	if err != nil {
		return "", fmt.Errorf("book consultation: %w", err)
	}
	return c.ID, nil
}

// code returns a TOTP code for a time step this seeder has not used yet
// for the account, which may be the next step (one step of drift is
// accepted).
func (ds *demoSeeder) code(userID, secret string) (string, error) {
	if ds.step == nil {
		ds.step = map[string]int64{}
	}
	step := time.Now().Unix() / 30
	if last, ok := ds.step[userID]; ok && step <= last {
		step = last + 1
	}
	ds.step[userID] = step
	return totp.GenerateCode(secret, time.Unix(step*30, 0))
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
