package clinic

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bedside-health/bedside/policy"
	"github.com/bedside-health/bedside/store"
)

// clinicSetup is a patient with a clinician in his care team and one
// scheduled consultation with a billing entry.
type clinicSetup struct {
	c                 *apiClient
	admin, doc, pat   policy.Actor
	billing, stranger policy.Actor
	otherDoc          policy.Actor
	cons              Consultation
	entry             BillingEntry
}

func newClinicSetup(t *testing.T) *clinicSetup {
	c := newAPI(t, true)
	s := &clinicSetup{c: c, admin: c.account(policy.RoleAdmin), doc: c.account(policy.RoleClinician),
		pat: c.account(policy.RolePatient), billing: c.account(policy.RoleBilling),
		stranger: c.account(policy.RolePatient), otherDoc: c.account(policy.RoleClinician)}
	c.must(200, s.admin, "POST", "/api/v1/patients/"+s.pat.UserID+"/care-team", map[string]any{"user_id": s.doc.UserID}, nil)
	c.must(201, s.doc, "POST", "/api/v1/consultations",
		with(times(epoch.Add(24*time.Hour), 30*time.Minute), "patient_id", s.pat.UserID), &s.cons)
	c.must(201, s.billing, "POST", "/api/v1/consultations/"+s.cons.ID+"/billing", sampleBilling, &s.entry)
	return s
}

// TestGuessedAndForeignIDsLookAlike checks that a caller without relation
// gets byte-identical responses for an existing consultation and a guessed id.
func TestGuessedAndForeignIDsLookAlike(t *testing.T) {
	s := newClinicSetup(t)
	guess := newID()
	routes := []struct {
		method, path string
		body         any
	}{
		{"GET", "/api/v1/consultations/%s", nil},
		{"POST", "/api/v1/consultations/%s/cancel", nil},
		{"POST", "/api/v1/consultations/%s/confirm", nil},
		{"POST", "/api/v1/consultations/%s/reschedule", times(epoch.Add(30*time.Hour), 20*time.Minute)},
		{"POST", "/api/v1/consultations/%s/guests", map[string]any{"user_id": s.stranger.UserID}},
		{"GET", "/api/v1/consultations/%s/billing", nil},
		{"POST", "/api/v1/consultations/%s/billing", sampleBilling},
	}
	for _, actor := range []policy.Actor{s.stranger, s.otherDoc} {
		for _, r := range routes {
			foreign := s.c.do(actor, r.method, strings.Replace(r.path, "%s", s.cons.ID, 1), r.body)
			guessed := s.c.do(actor, r.method, strings.Replace(r.path, "%s", guess, 1), r.body)
			malformed := s.c.do(actor, r.method, strings.Replace(r.path, "%s", "..%2f..%2fc", 1), r.body)
			if foreign.status != http.StatusNotFound {
				t.Errorf("%s %s as %s: got %s, want 404", r.method, r.path, actor.Role, foreign)
			}
			if !bytes.Equal(foreign.body, guessed.body) || foreign.status != guessed.status {
				t.Errorf("%s %s as %s: foreign id got %s, guessed id got %s, want identical", r.method, r.path, actor.Role, foreign, guessed)
			}
			if !bytes.Equal(foreign.body, malformed.body) || foreign.status != malformed.status {
				t.Errorf("%s %s as %s: foreign id got %s, malformed id got %s, want identical", r.method, r.path, actor.Role, foreign, malformed)
			}
		}
	}
	// The patient's care team looks the same to a stranger as a made-up patient's.
	foreign := s.c.do(s.otherDoc, "GET", "/api/v1/patients/"+s.pat.UserID+"/care-team", nil)
	guessed := s.c.do(s.otherDoc, "GET", "/api/v1/patients/"+guess+"/care-team", nil)
	if foreign.status != http.StatusNotFound || !bytes.Equal(foreign.body, guessed.body) {
		t.Errorf("care team: foreign got %s, guessed got %s, want identical 404", foreign, guessed)
	}
}

// TestTamperedBodyIDs checks that an id in the body that contradicts the
// path, or names another patient, gets the response for an unknown id.
func TestTamperedBodyIDs(t *testing.T) {
	s := newClinicSetup(t)
	notFound := s.c.do(s.stranger, "GET", "/api/v1/consultations/"+newID(), nil)
	other := newID()
	tests := []struct {
		name         string
		actor        policy.Actor
		method, path string
		body         any
	}{
		{"care team patient_id", s.admin, "PUT", "/api/v1/patients/" + s.pat.UserID + "/care-team",
			map[string]any{"patient_id": other, "members": []map[string]any{{"user_id": s.doc.UserID}}}},
		{"care team member patient_id", s.doc, "POST", "/api/v1/patients/" + s.pat.UserID + "/care-team",
			map[string]any{"patient_id": other, "user_id": s.otherDoc.UserID}},
		{"billing consultation_id", s.billing, "POST", "/api/v1/consultations/" + s.cons.ID + "/billing",
			map[string]any{"consultation_id": other, "service_code": "X", "amount_minor": 1, "currency": "EUR", "payer_reference": "p"}},
		{"guest consultation_id", s.doc, "POST", "/api/v1/consultations/" + s.cons.ID + "/guests",
			map[string]any{"consultation_id": other, "user_id": s.stranger.UserID}},
		{"cancel consultation_id", s.pat, "POST", "/api/v1/consultations/" + s.cons.ID + "/cancel",
			map[string]any{"consultation_id": other}},
		{"request for another patient", s.stranger, "POST", "/api/v1/consultations/requests",
			with(times(epoch.Add(24*time.Hour), 30*time.Minute), "patient_id", s.pat.UserID)},
		{"create for a patient outside the care team", s.otherDoc, "POST", "/api/v1/consultations",
			with(times(epoch.Add(24*time.Hour), 30*time.Minute), "patient_id", s.pat.UserID)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := s.c.do(tt.actor, tt.method, tt.path, tt.body)
			if got.status != notFound.status || !bytes.Equal(got.body, notFound.body) {
				t.Errorf("got %s, want %s", got, notFound)
			}
		})
	}
	var cons Consultation
	s.c.must(200, s.pat, "GET", "/api/v1/consultations/"+s.cons.ID, nil, &cons)
	if cons.Status != StatusScheduled || len(cons.Participants) != len(s.cons.Participants) {
		t.Errorf("got status %s with %d participants after tampering, want scheduled with %d",
			cons.Status, len(cons.Participants), len(s.cons.Participants))
	}
}

func TestClinicalTextRejected(t *testing.T) {
	s := newClinicSetup(t)
	for _, field := range []string{"reason", "notes", "diagnosis"} {
		body := with(times(epoch.Add(24*time.Hour), 30*time.Minute), field, "chest pain since Monday")
		got := s.c.do(s.pat, "POST", "/api/v1/consultations/requests", body)
		if got.status != http.StatusBadRequest || !strings.Contains(string(got.body), field) {
			t.Errorf("field %s: got %s, want 400 naming the field", field, got)
		}
	}
	var sched scheduleView
	s.c.must(200, s.pat, "GET", "/api/v1/consultations", nil, &sched)
	if len(sched.Consultations) != 1 {
		t.Errorf("got %d consultations, want only the one booked by the clinician", len(sched.Consultations))
	}
	raw, err := readFile(s.c.f.db.Path())
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte("chest pain")) {
		t.Error("the database file contains the rejected clinical text")
	}
}

func TestBookingValidation(t *testing.T) {
	s := newClinicSetup(t)
	day := epoch.Add(24 * time.Hour)
	book := func(m map[string]any) map[string]any { return with(m, "patient_id", s.pat.UserID) }
	tests := []struct {
		name string
		body any
		want int
	}{
		{"end before start", book(map[string]any{"start": rfc(day), "end": rfc(day.Add(-time.Minute))}), 400},
		{"start in the past", book(times(epoch.Add(-time.Hour), 30*time.Minute)), 400},
		{"too long", book(times(day, 5*time.Hour)), 400},
		{"too far ahead", book(times(epoch.Add(3*366*24*time.Hour), time.Hour)), 400},
		{"missing times", map[string]any{"patient_id": s.pat.UserID}, 400},
		{"staff outside the care team", with(book(times(day, time.Hour)), "staff_ids", []string{s.otherDoc.UserID}), 400},
		{"invalid staff id", with(book(times(day, time.Hour)), "staff_ids", []string{"a/b"}), 400},
		{"malformed json", []byte(`{"patient_id":`), 400},
		{"time as number", map[string]any{"patient_id": s.pat.UserID, "start": 5}, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := s.c.do(s.doc, "POST", "/api/v1/consultations", tt.body); got.status != tt.want {
				t.Errorf("got %s, want %d", got, tt.want)
			}
		})
	}
	got := s.c.do(s.doc, "POST", "/api/v1/consultations", bytes.Repeat([]byte(" "), 70<<10))
	if got.status != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized body: got %s, want 413", got)
	}
}

func TestParticipantLimit(t *testing.T) {
	s := newClinicSetup(t)
	max := s.c.f.svc.cfg.MaxParticipants
	for i := len(s.cons.Participants); i < max; i++ {
		s.c.must(200, s.doc, "POST", "/api/v1/consultations/"+s.cons.ID+"/guests",
			map[string]any{"user_id": s.c.account(policy.RolePatient).UserID}, nil)
	}
	got := s.c.do(s.doc, "POST", "/api/v1/consultations/"+s.cons.ID+"/guests",
		map[string]any{"user_id": s.c.account(policy.RolePatient).UserID})
	if got.status != http.StatusBadRequest {
		t.Errorf("guest beyond %d participants: got %s, want 400", max, got)
	}
	for _, role := range []policy.Role{policy.RoleAdmin, policy.RoleBilling} {
		cons := s.c.f.addConsultation(t, s.pat.UserID, epoch.Add(48*time.Hour), StatusScheduled,
			store.Participant{UserID: s.doc.UserID, Kind: KindClinician})
		got := s.c.do(s.doc, "POST", "/api/v1/consultations/"+cons.ID+"/guests",
			map[string]any{"user_id": s.c.account(role).UserID})
		if got.status != http.StatusBadRequest {
			t.Errorf("%s as guest: got %s, want 400", role, got)
		}
	}
}

func TestCareTeamRoles(t *testing.T) {
	s := newClinicSetup(t)
	p := "/api/v1/patients/" + s.pat.UserID + "/care-team"
	tests := []struct {
		name string
		body map[string]any
		want int
	}{
		{"billing staff", map[string]any{"user_id": s.billing.UserID}, 400},
		{"a patient", map[string]any{"user_id": s.stranger.UserID}, 400},
		{"the patient himself", map[string]any{"user_id": s.pat.UserID}, 400},
		{"unknown account", map[string]any{"user_id": newID()}, 400},
		{"role contradicting the account", map[string]any{"user_id": s.otherDoc.UserID, "role": "nurse"}, 400},
		{"already a member", map[string]any{"user_id": s.doc.UserID}, 409},
		{"clinician", map[string]any{"user_id": s.otherDoc.UserID}, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := s.c.do(s.admin, "POST", p, tt.body); got.status != tt.want {
				t.Errorf("got %s, want %d", got, tt.want)
			}
		})
	}
	if got := s.c.do(s.admin, "GET", "/api/v1/patients/"+s.doc.UserID+"/care-team", nil); got.status != http.StatusNotFound {
		t.Errorf("care team of a clinician account: got %s, want 404", got)
	}
	if got := s.c.do(s.doc, "DELETE", p+"/"+newID(), nil); got.status != http.StatusNotFound {
		t.Errorf("removing a non-member: got %s, want 404", got)
	}
	var view careTeamView
	s.c.must(200, s.doc, "DELETE", p+"/"+s.otherDoc.UserID, nil, &view)
	if len(view.Members) != 1 {
		t.Errorf("after removal: got %d members, want 1", len(view.Members))
	}
}

// TestBookingWithoutSecondFactor checks that a staff session without a
// second factor is told so before the patient id is looked at, whatever id
// it sends.
func TestBookingWithoutSecondFactor(t *testing.T) {
	s := newClinicSetup(t)
	noTOTP := s.doc
	noTOTP.SecondFactor = false
	for _, patient := range []string{s.pat.UserID, newID(), "not an id", ""} {
		for _, path := range []string{"/api/v1/consultations", "/api/v1/consultations/requests"} {
			body := with(times(epoch.Add(24*time.Hour), 30*time.Minute), "patient_id", patient)
			res := s.c.do(noTOTP, "POST", path, body)
			if res.status != http.StatusForbidden || !bytes.Contains(res.body, []byte(`"second_factor_required"`)) {
				t.Errorf("POST %s with patient %q: got %s, want 403 second_factor_required", path, patient, res)
			}
		}
	}
}
