package messaging

import (
	"bytes"
	"net/http"
	"reflect"
	"testing"

	"github.com/bedside-health/bedside/audit"
	"github.com/bedside-health/bedside/policy"
)

func TestMembersListsNamesAndRoles(t *testing.T) {
	h := newHarness(t, Config{})
	patient := memberView{UserID: patientID, Role: policy.RolePatient, DisplayName: "Pat Doe"}
	clinician := memberView{UserID: clinicianID, Role: policy.RoleClinician, DisplayName: "Dr Lee"}
	// The nurse has no account record, so the response has only the id.
	nurse := memberView{UserID: nurseID}
	tests := []struct {
		name, conv, user string
		want             []memberView
	}{
		{"consultation by patient", consultConv, patientID, []memberView{patient, clinician}},
		{"consultation by clinician", consultConv, clinicianID, []memberView{patient, clinician}},
		{"care thread by patient", careConv, patientID, []memberView{patient, clinician, nurse}},
		{"care thread by nurse", careConv, nurseID, []memberView{patient, clinician, nurse}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.do(request{method: "GET", path: "/api/v1/conversations/" + tt.conv + "/members", user: tt.user})
			expect(t, "members", r, http.StatusOK, "")
			var got membersView
			r.decode(t, &got)
			if !reflect.DeepEqual(got.Members, tt.want) {
				t.Errorf("got %+v, want %+v", got.Members, tt.want)
			}
			if bytes.Contains(r.body, []byte("@example.org")) {
				t.Errorf("response contains an email address: %s", r.body)
			}
		})
	}
	h.audit.mu.Lock()
	defer h.audit.mu.Unlock()
	if n := len(h.audit.events); n != 0 {
		t.Errorf("audit events after reading names: got %d, want 0", n)
	}
}

func TestMembersDenied(t *testing.T) {
	h := newHarness(t, Config{})
	tests := []struct {
		name, path, user string
		status           int
		code             string
	}{
		{"outsider on consultation", "/api/v1/conversations/" + consultConv + "/members", outsiderID,
			http.StatusNotFound, "not_found"},
		{"outsider on care thread", "/api/v1/conversations/" + careConv + "/members", outsiderID,
			http.StatusNotFound, "not_found"},
		{"unknown consultation", "/api/v1/conversations/" + ConsultationConversation("nope").ID + "/members",
			clinicianID, http.StatusNotFound, "not_found"},
		{"malformed id", "/api/v1/conversations/x%3Ay/members", clinicianID, http.StatusNotFound, "not_found"},
		{"staff without second factor", "/api/v1/conversations/" + consultConv + "/members", clinicianNo2FA,
			http.StatusForbidden, "second_factor_required"},
		{"signed out", "/api/v1/conversations/" + consultConv + "/members", "", http.StatusUnauthorized, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.do(request{method: "GET", path: tt.path, user: tt.user})
			expect(t, tt.name, r, tt.status, tt.code)
		})
	}
	h.audit.mu.Lock()
	defer h.audit.mu.Unlock()
	for _, e := range h.audit.events {
		if e.Outcome != audit.OutcomeDenied {
			t.Errorf("audit event %s with outcome %s: want only denials", e.Type, e.Outcome)
		}
	}
}
