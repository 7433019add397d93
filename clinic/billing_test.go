package clinic

import (
	"bytes"
	"net/http"
	"testing"
	"time"

	"github.com/bedside-health/bedside/policy"
)

func TestBillingSealedAtRest(t *testing.T) {
	s := newClinicSetup(t)
	fields := BillingFields{ServiceCode: "PSY-777", AmountMinor: 987654, Currency: "CHF", PayerReference: "Helsana 55-44-33"}
	var e BillingEntry
	s.c.must(201, s.billing, "POST", "/api/v1/consultations/"+s.cons.ID+"/billing", fields, &e)
	if err := s.c.f.db.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := readFile(s.c.f.db.Path())
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{fields.ServiceCode, fields.PayerReference, "987654", `"CHF"`} {
		if bytes.Contains(raw, []byte(secret)) {
			t.Errorf("the database file contains %q in plaintext", secret)
		}
	}
}

func TestBillingMovedValueFailsToOpen(t *testing.T) {
	s := newClinicSetup(t)
	c2 := s.c.f.addConsultation(t, s.pat.UserID, epoch.Add(72*time.Hour), StatusScheduled)
	// Copy the sealed fields of the existing entry onto a new entry of
	// another consultation: they are bound to their location and must not
	// open there.
	stored, err := s.c.f.db.BillingEntries(s.cons.ID)
	if err != nil || len(stored) != 1 {
		t.Fatalf("got %d entries, %v; want 1", len(stored), err)
	}
	moved := *stored[0]
	moved.ConsultationID = c2.ID
	if err := s.c.f.db.CreateBillingEntry(&moved); err != nil {
		t.Fatal(err)
	}
	got := s.c.do(s.billing, "GET", "/api/v1/consultations/"+c2.ID+"/billing", nil)
	if got.status != http.StatusInternalServerError {
		t.Errorf("moved sealed entry: got %s, want 500", got)
	}
	if bytes.Contains(got.body, []byte("GP-101")) {
		t.Errorf("the error answer contains billing data: %s", got.body)
	}
}

func TestBillingAccess(t *testing.T) {
	s := newClinicSetup(t)
	nurse := s.c.account(policy.RoleNurse)
	s.c.must(200, s.admin, "POST", "/api/v1/patients/"+s.pat.UserID+"/care-team", map[string]any{"user_id": nurse.UserID}, nil)
	p := "/api/v1/consultations/" + s.cons.ID + "/billing"

	var list billingList
	s.c.must(200, s.pat, "GET", p, nil, &list)
	if len(list.Entries) != 1 || list.Entries[0].BillingFields != sampleBilling {
		t.Errorf("patient reads own billing: got %+v, want the one sample entry", list.Entries)
	}
	for _, actor := range []policy.Actor{nurse, s.doc} {
		if got := s.c.do(actor, "GET", p, nil); got.status != http.StatusForbidden {
			t.Errorf("%s of the care team reads billing: got %s, want 403", actor.Role, got)
		}
	}
	if got := s.c.do(s.pat, "POST", p, sampleBilling); got.status != http.StatusForbidden {
		t.Errorf("patient writes billing: got %s, want 403", got)
	}

	corrected := sampleBilling
	corrected.AmountMinor = 3900
	var e BillingEntry
	s.c.must(200, s.admin, "PUT", p+"/"+s.entry.ID, corrected, &e)
	if e.AmountMinor != 3900 || e.UpdatedBy != s.admin.UserID || e.CreatedBy != s.billing.UserID {
		t.Errorf("after correction: got amount %d updated by %s created by %s", e.AmountMinor, e.UpdatedBy, e.CreatedBy)
	}
	if got := s.c.do(s.admin, "PUT", p+"/"+newID(), corrected); got.status != http.StatusNotFound {
		t.Errorf("correcting an unknown entry: got %s, want 404", got)
	}

	var overview billingOverview
	s.c.must(200, s.billing, "GET", "/api/v1/billing?from="+rfc(epoch)+"&to="+rfc(epoch.Add(7*24*time.Hour)), nil, &overview)
	if len(overview.Consultations) != 1 || overview.Consultations[0].Entries != 1 {
		t.Errorf("billing overview: got %+v, want one consultation with one entry", overview.Consultations)
	}
	if len(s.c.f.events.ofType("billing.read")) < 2 || len(s.c.f.events.ofType("billing.written")) < 2 {
		t.Error("got too few billing.read or billing.written audit events")
	}
}

func TestBillingValidation(t *testing.T) {
	s := newClinicSetup(t)
	p := "/api/v1/consultations/" + s.cons.ID + "/billing"
	tests := []struct {
		name string
		edit func(f *BillingFields)
	}{
		{"empty service code", func(f *BillingFields) { f.ServiceCode = "" }},
		{"service code with space", func(f *BillingFields) { f.ServiceCode = "GP 1" }},
		{"long service code", func(f *BillingFields) { f.ServiceCode = string(bytes.Repeat([]byte("A"), 33)) }},
		{"negative amount", func(f *BillingFields) { f.AmountMinor = -1 }},
		{"huge amount", func(f *BillingFields) { f.AmountMinor = maxAmountMinor + 1 }},
		{"lower-case currency", func(f *BillingFields) { f.Currency = "eur" }},
		{"empty payer", func(f *BillingFields) { f.PayerReference = "" }},
		{"control character in payer", func(f *BillingFields) { f.PayerReference = "a\nb" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := sampleBilling
			tt.edit(&f)
			if got := s.c.do(s.billing, "POST", p, f); got.status != http.StatusBadRequest {
				t.Errorf("got %s, want 400", got)
			}
		})
	}
	for name, body := range map[string]string{
		"fractional amount": `{"service_code":"A","amount_minor":1.5,"currency":"EUR","payer_reference":"x"}`,
		"missing amount":    `{"service_code":"A","currency":"EUR","payer_reference":"x"}`,
		"null amount":       `{"service_code":"A","amount_minor":null,"currency":"EUR","payer_reference":"x"}`,
	} {
		if got := s.c.do(s.billing, "POST", p, []byte(body)); got.status != http.StatusBadRequest {
			t.Errorf("%s: got %s, want 400", name, got)
		}
	}
	var created BillingEntry
	s.c.must(201, s.billing, "POST", p, sampleBilling, &created)
	missing := []byte(`{"service_code":"A","currency":"EUR","payer_reference":"x"}`)
	if got := s.c.do(s.billing, "PUT", p+"/"+created.ID, missing); got.status != http.StatusBadRequest {
		t.Errorf("correction without amount: got %s, want 400", got)
	}
	entries, err := s.c.f.db.BillingEntries(s.cons.ID)
	if err != nil || len(entries) != 2 {
		t.Errorf("got %d entries, %v; want the setup's one and the valid one", len(entries), err)
	}
	if got := s.c.do(s.billing, "GET", "/api/v1/consultations/"+newID()+"/billing", nil); got.status != http.StatusNotFound {
		t.Errorf("billing of an unknown consultation: got %s, want 404", got)
	}
}

func TestBillingEntryLimit(t *testing.T) {
	s := newClinicSetup(t)
	s.c.f.svc.cfg.MaxBillingEntries = 2
	p := "/api/v1/consultations/" + s.cons.ID + "/billing"
	s.c.must(201, s.billing, "POST", p, sampleBilling, nil)
	if got := s.c.do(s.billing, "POST", p, sampleBilling); got.status != http.StatusBadRequest {
		t.Errorf("entry beyond the limit: got %s, want 400", got)
	}
}
