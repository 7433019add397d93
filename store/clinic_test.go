package store

import (
	"errors"
	"testing"
	"time"
)

func openClinicDB(t *testing.T) *DB {
	t.Helper()
	db, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestConsultationIndexFollowsUpdates(t *testing.T) {
	db := openClinicDB(t)
	t0 := time.Date(2030, 1, 1, 10, 0, 0, 0, time.UTC)
	c := &Consultation{ID: "c1", PatientID: "p1", Start: t0, End: t0.Add(time.Hour), Status: "scheduled",
		Participants: []Participant{{UserID: "p1", Kind: "patient"}, {UserID: "d1", Kind: "clinician"}}}
	if err := db.CreateConsultation(c); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateConsultation(c); !errors.Is(err, ErrExists) {
		t.Errorf("second create: got %v, want ErrExists", err)
	}
	moved := t0.Add(48 * time.Hour)
	_, err := db.UpdateConsultation("c1", func(c *Consultation) error {
		c.Start, c.End = moved, moved.Add(time.Hour)
		c.Participants = c.Participants[:1] // the clinician leaves
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	count := func(got []*Consultation, err error) int {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return len(got)
	}
	checks := []struct {
		name string
		got  int
		want int
	}{
		{"patient at old time", count(db.ConsultationsOfPatient("p1", t0, t0.Add(time.Hour), 10)), 0},
		{"patient at new time", count(db.ConsultationsOfPatient("p1", moved, moved.Add(time.Hour), 10)), 1},
		{"removed clinician", count(db.ConsultationsOfUser("d1", t0, moved.Add(time.Hour), 10)), 0},
		{"patient as participant", count(db.ConsultationsOfUser("p1", t0, moved.Add(time.Hour), 10)), 1},
		{"all at new time", count(db.ConsultationsBetween(moved, moved.Add(time.Second), 10)), 1},
		{"end is exclusive", count(db.ConsultationsBetween(t0, moved, 10)), 0},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %d, want %d", c.name, c.got, c.want)
		}
	}
	if err := db.Check(); err != nil {
		t.Error(err)
	}
}

func TestUpdateConsultationErrorWritesNothing(t *testing.T) {
	db := openClinicDB(t)
	t0 := time.Date(2030, 1, 1, 10, 0, 0, 0, time.UTC)
	if err := db.CreateConsultation(&Consultation{ID: "c1", PatientID: "p1", Start: t0, Status: "requested"}); err != nil {
		t.Fatal(err)
	}
	stop := errors.New("stop")
	_, err := db.UpdateConsultation("c1", func(c *Consultation) error {
		c.Status = "scheduled"
		return stop
	})
	if !errors.Is(err, stop) {
		t.Fatalf("got %v, want the change's error", err)
	}
	c, err := db.Consultation("c1")
	if err != nil || c.Status != "requested" {
		t.Errorf("got status %v, %v; want requested", c.Status, err)
	}
	if _, err := db.UpdateConsultation("nope", func(*Consultation) error { return nil }); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown id: got %v, want ErrNotFound", err)
	}
}

func TestCareTeamIndexes(t *testing.T) {
	db := openClinicDB(t)
	set := func(patient string, members ...string) {
		t.Helper()
		_, err := db.UpdateCareTeam(patient, func([]CareTeamMember) ([]CareTeamMember, error) {
			var out []CareTeamMember
			for _, m := range members {
				out = append(out, CareTeamMember{UserID: m, Role: "clinician"})
			}
			return out, nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	set("p1", "d1", "n1")
	set("p2", "n1")
	set("p1", "d1") // n1 leaves p1's team
	patients, err := db.CareTeamPatients("n1")
	if err != nil || len(patients) != 1 || patients[0] != "p2" {
		t.Errorf("patients of n1: got %v, %v; want [p2]", patients, err)
	}
	tests := []struct {
		a, b string
		want bool
	}{
		{"p1", "d1", true},  // patient and member
		{"d1", "p1", true},  // member and patient
		{"n1", "p2", true},  // member and patient
		{"n1", "d1", false}, // no shared team any more
		{"p1", "p2", false}, // two patients
	}
	for _, tt := range tests {
		got, err := db.SharesCareTeam(tt.a, tt.b)
		if err != nil || got != tt.want {
			t.Errorf("SharesCareTeam(%s, %s): got %v, %v; want %v", tt.a, tt.b, got, err, tt.want)
		}
	}
}

func TestSharesConsultation(t *testing.T) {
	db := openClinicDB(t)
	t0 := time.Date(2030, 1, 1, 10, 0, 0, 0, time.UTC)
	err := db.CreateConsultation(&Consultation{ID: "c1", PatientID: "p1", Start: t0,
		Participants: []Participant{{UserID: "p1"}, {UserID: "g1"}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		a, b string
		want bool
	}{{"p1", "g1", true}, {"g1", "p1", true}, {"p1", "x", false}, {"g", "p1", false}} {
		got, err := db.SharesConsultation(tt.a, tt.b)
		if err != nil || got != tt.want {
			t.Errorf("SharesConsultation(%s, %s): got %v, %v; want %v", tt.a, tt.b, got, err, tt.want)
		}
	}
}

func TestBillingEntryNeedsConsultation(t *testing.T) {
	db := openClinicDB(t)
	err := db.CreateBillingEntry(&BillingEntry{ID: "e1", ConsultationID: "missing"})
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("got %v, want ErrNotFound", err)
	}
}
