package server

import (
	"context"
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
	// The nurse has used only the current TOTP step while seeding, so the
	// next one signs her in; the clinician has used both.
	seed := demoSeeder{s: srv, step: map[string]int64{d.Nurse.ID: time.Now().Unix() / 30}}
	token, err := seed.signIn(ctx, d.Nurse)
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
