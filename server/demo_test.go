package server

import (
	"context"
	"github.com/bedside-health/bedside/clinic"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestSeedDemo(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.Media = loopbackMedia()
	// Cheap hashing keeps the test fast; the parameters are stored with
	// each hash, so sign-in works the same way.
	cfg.Auth.Password.Memory = 64
	cfg.Auth.Password.Time = 1
	srv, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	d, err := srv.SeedDemo(ctx)
	if err != nil {
		t.Fatalf("SeedDemo: %v", err)
	}
	if d.ConsultationID == "" {
		t.Fatal("no consultation seeded")
	}
	for _, u := range []DemoUser{d.Admin, d.Clinician, d.Nurse, d.Patient} {
		if u.ID == "" || u.Password == "" || u.TOTPSecret == "" {
			t.Errorf("demo user %s lacks id, password or TOTP secret", u.Role)
		}
	}
	info, err := os.Stat(filepath.Join(cfg.DataDir, DemoFileName))
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("demo file mode: got %04o, want 0600", perm)
	}
	c, err := srv.services.clinic.Consultation(ctx, d.ConsultationID)
	if err != nil {
		t.Fatalf("seeded consultation: %v", err)
	}
	if c.PatientID != d.Patient.ID {
		t.Errorf("consultation patient: got %s, want %s", c.PatientID, d.Patient.ID)
	}

	again, err := srv.SeedDemo(ctx)
	if err != nil {
		t.Fatalf("second SeedDemo: %v", err)
	}
	if again.ConsultationID != d.ConsultationID {
		t.Error("second SeedDemo seeded a new clinic instead of reusing the first")
	}
}

func TestSeedDemoNeedsLoopback(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Addr = "0.0.0.0:0"
	cfg.InsecureHTTP = true
	cfg.DataDir = t.TempDir()
	cfg.Media = loopbackMedia()
	srv, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if _, err := srv.SeedDemo(context.Background()); err == nil {
		t.Fatal("SeedDemo on a public address: got nil error")
	}
}

func TestInvitingNurseJoinsCareTeam(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.Media = loopbackMedia()
	cfg.Auth.Password.Memory = 64
	cfg.Auth.Password.Time = 1
	srv, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d, err := srv.SeedDemo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	seed := &demoSeeder{s: srv}
	token, err := seed.signIn(ctx, &d.Nurse)
	if err != nil {
		t.Fatalf("nurse sign-in: %v", err)
	}
	var inv struct {
		AccountID string `json:"account_id"`
	}
	err = seed.decode(ctx, token, "POST /api/v1/invitations", map[string]string{
		"email": "new.patient@demo.bedside.test", "role": "patient",
	}, &inv)
	if err != nil {
		t.Fatalf("invite: %v", err)
	}
	team, err := srv.services.clinic.CareTeam(ctx, inv.AccountID)
	if err != nil {
		t.Fatal(err)
	}
	if len(team) != 1 || team[0].UserID != d.Nurse.ID {
		t.Fatalf("care team of the invited patient: got %+v, want only the inviting nurse", team)
	}
}

func newDemoServer(t *testing.T, dir string) *Server {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = dir
	cfg.Media = loopbackMedia()
	cfg.Auth.Password.Memory = 64
	cfg.Auth.Password.Time = 1
	srv, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

func TestSeedDemoRefusesRealClinic(t *testing.T) {
	srv := newDemoServer(t, t.TempDir())
	ctx := context.Background()
	if _, err := createUser(ctx, srv.services.auth, CreateUserRequest{
		Email: "real@clinic.example", Role: "admin", DisplayName: "Real Admin",
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.SeedDemo(ctx); err == nil {
		t.Fatal("SeedDemo on a database with accounts: got nil error")
	}
	if _, err := srv.services.auth.AccountByEmail(ctx, "admin@demo.bedside.test"); err == nil {
		t.Fatal("SeedDemo added a demo account to a real clinic")
	}
}

func TestSeedDemoLeavesNoSessions(t *testing.T) {
	srv := newDemoServer(t, t.TempDir())
	ctx := context.Background()
	d, err := srv.SeedDemo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []DemoUser{d.Admin, d.Clinician, d.Nurse, d.Patient} {
		sessions, err := srv.services.auth.Sessions(ctx, u.ID, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(sessions) != 0 {
			t.Errorf("%s has %d sessions after seeding, want 0", u.Role, len(sessions))
		}
		code, from, err := u.NextCode(time.Now())
		if err != nil || code == "" {
			t.Fatalf("NextCode for %s: %q, %v", u.Role, code, err)
		}
		if from.After(time.Now()) {
			t.Errorf("next code of %s is valid only from %s, want at once", u.Role, from)
		}
	}
}

func TestSeedDemoBooksAgainAfterTheCall(t *testing.T) {
	srv := newDemoServer(t, t.TempDir())
	ctx := context.Background()
	d, err := srv.SeedDemo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The hub moves a consultation through these when a call ends.
	for _, st := range []clinic.Status{clinic.StatusInProgress, clinic.StatusCompleted} {
		if err := srv.services.clinic.SetStatus(ctx, d.ConsultationID, st); err != nil {
			t.Fatalf("set the demo consultation %s: %v", st, err)
		}
	}
	again, err := srv.SeedDemo(ctx)
	if err != nil {
		t.Fatalf("SeedDemo after the consultation ended: %v", err)
	}
	if again.ConsultationID == d.ConsultationID {
		t.Fatal("SeedDemo kept a cancelled consultation instead of booking a new one")
	}
	if again.Clinician.ID != d.Clinician.ID {
		t.Fatal("SeedDemo replaced the demo accounts")
	}
}
