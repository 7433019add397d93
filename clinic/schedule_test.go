package clinic

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/bedside-health/bedside/policy"
	"github.com/bedside-health/bedside/store"
)

func TestSchedules(t *testing.T) {
	c := newAPI(t, true)
	doc, nurse := c.account(policy.RoleClinician), c.account(policy.RoleNurse)
	pat, other := c.account(policy.RolePatient), c.account(policy.RolePatient)
	c.f.addCareTeam(t, pat.UserID, store.CareTeamMember{UserID: nurse.UserID, Role: "nurse"})
	day := epoch.Add(24 * time.Hour)
	past := c.f.addConsultation(t, pat.UserID, epoch.Add(-48*time.Hour), StatusCompleted,
		store.Participant{UserID: doc.UserID, Kind: KindClinician})
	soon := c.f.addConsultation(t, pat.UserID, day, StatusScheduled,
		store.Participant{UserID: doc.UserID, Kind: KindClinician})
	foreign := c.f.addConsultation(t, other.UserID, day.Add(time.Hour), StatusScheduled,
		store.Participant{UserID: doc.UserID, Kind: KindClinician})
	foreign2 := c.f.addConsultation(t, other.UserID, day.Add(2*time.Hour), StatusScheduled)

	tests := []struct {
		name  string
		actor policy.Actor
		query string
		want  []string
	}{
		{"patient default range", pat, "", []string{past.ID, soon.ID}},
		{"patient upcoming", pat, "?from=" + url.QueryEscape(rfc(epoch)), []string{soon.ID}},
		{"clinician participates", doc, "", []string{past.ID, soon.ID, foreign.ID}},
		{"nurse care team", nurse, "", []string{past.ID, soon.ID}},
		{"clinician one day", doc, "?from=" + url.QueryEscape(rfc(day)) + "&to=" + url.QueryEscape(rfc(day.Add(time.Hour))),
			[]string{soon.ID}},
		{"other patient", other, "", []string{foreign.ID, foreign2.ID}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var view scheduleView
			c.must(200, tt.actor, "GET", "/api/v1/consultations"+tt.query, nil, &view)
			if len(view.Consultations) != len(tt.want) {
				t.Fatalf("got %d consultations, want %d", len(view.Consultations), len(tt.want))
			}
			for i, id := range tt.want {
				if view.Consultations[i].ID != id {
					t.Errorf("item %d: got %s, want %s", i, view.Consultations[i].ID, id)
				}
			}
		})
	}
}

func TestScheduleRange(t *testing.T) {
	c := newAPI(t, false)
	pat := actorOf(newID(), policy.RolePatient)
	q := func(from, to string) string {
		return "/api/v1/consultations?from=" + url.QueryEscape(from) + "&to=" + url.QueryEscape(to)
	}
	tests := []struct {
		name string
		path string
		want int
	}{
		{"to before from", q(rfc(epoch), rfc(epoch.Add(-time.Hour))), 400},
		{"span too long", q(rfc(epoch), rfc(epoch.Add(400*24*time.Hour))), 400},
		{"malformed from", "/api/v1/consultations?from=yesterday", 400},
		{"before 1970", q("1960-01-01T00:00:00Z", "1960-02-01T00:00:00Z"), 400},
		{"valid", q(rfc(epoch), rfc(epoch.Add(time.Hour))), 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := c.do(pat, "GET", tt.path, nil); got.status != tt.want {
				t.Errorf("got %s, want %d", got, tt.want)
			}
		})
	}
	for _, role := range []policy.Role{policy.RoleAdmin, policy.RoleBilling} {
		if got := c.do(actorOf(newID(), role), "GET", "/api/v1/consultations", nil); got.status != http.StatusForbidden {
			t.Errorf("%s lists consultations: got %s, want 403", role, got)
		}
	}
}

func TestScheduleTruncated(t *testing.T) {
	c := newAPI(t, false)
	c.f.svc.cfg.MaxListItems = 3
	pat := actorOf(newID(), policy.RolePatient)
	for i := range 5 {
		c.f.addConsultation(t, pat.UserID, epoch.Add(time.Duration(i+1)*time.Hour), StatusScheduled)
	}
	var view scheduleView
	c.must(200, pat, "GET", "/api/v1/consultations", nil, &view)
	if len(view.Consultations) != 3 || !view.Truncated {
		t.Errorf("got %d consultations, truncated %v; want 3, true", len(view.Consultations), view.Truncated)
	}
	if !view.Consultations[0].Start.Equal(epoch.Add(time.Hour)) {
		t.Errorf("got first start %s, want the earliest %s", view.Consultations[0].Start, epoch.Add(time.Hour))
	}
}
