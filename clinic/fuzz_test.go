package clinic

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/bedside-health/bedside/api"
	"github.com/bedside-health/bedside/policy"
	"github.com/bedside-health/bedside/store"
)

// FuzzRequestBodies sends arbitrary bodies to the routes that decode one,
// as an actor allowed to use each, and requires a client error or success:
// never a server fault, and never a stored id containing '/'.
func FuzzRequestBodies(f *testing.F) {
	seeds := []string{
		`{"patient_id":"P","start":"2030-03-05T09:00:00Z","end":"2030-03-05T09:30:00Z"}`,
		`{"patient_id":"P","start":"2030-03-05T09:00:00Z","end":"2030-03-05T09:30:00Z","staff_ids":["D","D"]}`,
		`{"members":[{"user_id":"N","role":"nurse"}]}`,
		`{"user_id":"../x","role":"clinician"}`,
		`{"service_code":"GP-1","amount_minor":100,"currency":"EUR","payer_reference":"x"}`,
		`{"consultation_id":"C","start":"2030-03-05T09:00:00+02:00","end":"2030-03-05T08:00:00Z"}`,
		`{"reason":"x"}`, `[]`, `null`, `{"start":1e999}`, "{\"payer_reference\":\"\u0000\"}",
	}
	for i, s := range seeds {
		f.Add(uint8(i), s)
	}
	fx := newFixture(f, nil)
	fx.db.Bolt().NoSync = true
	rt := api.NewRouter(nil)
	fx.svc.Register(rt)
	doc := actorOf("D", policy.RoleClinician)
	fx.addCareTeam(f, "P", store.CareTeamMember{UserID: "D", Role: "clinician"})
	c := fx.addConsultation(f, "P", epoch.Add(24*time.Hour), StatusRequested,
		store.Participant{UserID: "D", Kind: KindClinician})
	routes := []struct {
		method, path string
		actor        policy.Actor
	}{
		{"POST", "/api/v1/consultations", doc},
		{"POST", "/api/v1/consultations/requests", actorOf("P", policy.RolePatient)},
		{"PUT", "/api/v1/patients/P/care-team", doc},
		{"POST", "/api/v1/patients/P/care-team", doc},
		{"POST", "/api/v1/consultations/" + c.ID + "/confirm", doc},
		{"POST", "/api/v1/consultations/" + c.ID + "/reschedule", doc},
		{"POST", "/api/v1/consultations/" + c.ID + "/guests", doc},
		{"POST", "/api/v1/consultations/" + c.ID + "/billing", actorOf("B", policy.RoleBilling)},
	}
	f.Fuzz(func(t *testing.T, route uint8, body string) {
		r := routes[int(route)%len(routes)]
		req := httptest.NewRequest(r.method, r.path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req = req.WithContext(policy.WithActor(req.Context(), r.actor))
		rec := httptest.NewRecorder()
		rt.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s with %q: got %d %s", r.method, r.path, body, rec.Code, rec.Body)
		}
		if rec.Code == http.StatusOK || rec.Code == http.StatusCreated {
			if bytes.Contains(rec.Body.Bytes(), []byte(`"user_id":"../`)) {
				t.Fatalf("stored an id with a path separator: %s", rec.Body)
			}
		}
	})
}

func FuzzValidID(f *testing.F) {
	for _, s := range []string{"abc", "a/b", "", strings.Repeat("a", 65), "é", "A-Z_09"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !validID(s) {
			return
		}
		if strings.ContainsAny(s, "/\x00") || len(s) > maxIDLen || s == "" {
			t.Fatalf("validID accepted %q", s)
		}
	})
}
