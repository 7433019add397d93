package clinic

import (
	"context"
	"testing"
	"time"

	"github.com/bedside-health/bedside/policy"
	"github.com/bedside-health/bedside/store"
)

// BenchmarkAuthorize measures one access check that resolves relations in
// the store: a nurse of the care team reading a consultation. The baseline,
// BenchmarkDecideOnly, is the same decision with the relations given.
func BenchmarkAuthorize(b *testing.B) {
	f := newFixture(b, nil)
	f.addCareTeam(b, "pat", store.CareTeamMember{UserID: "nur", Role: "nurse"})
	c := f.addConsultation(b, "pat", epoch.Add(time.Hour), StatusScheduled,
		store.Participant{UserID: "doc", Kind: KindClinician})
	nurse := actorOf("nur", policy.RoleNurse)
	res := policy.Consultation(c.ID)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := f.svc.Authorize(ctx, nurse, policy.ActionConsultationRead, res); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecideOnly(b *testing.B) {
	nurse := actorOf("nur", policy.RoleNurse)
	res := policy.Consultation("c")
	b.ReportAllocs()
	for b.Loop() {
		if !policy.Decide(nurse, policy.ActionConsultationRead, res, policy.RelCareTeam).Allowed {
			b.Fatal("denied")
		}
	}
}

// BenchmarkAuthorizeJoin measures the join check of a participant.
func BenchmarkAuthorizeJoin(b *testing.B) {
	f := newFixture(b, nil)
	start := epoch.Add(time.Hour)
	c := f.addConsultation(b, "pat", start, StatusScheduled, store.Participant{UserID: "doc", Kind: KindClinician})
	doc := actorOf("doc", policy.RoleClinician)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.svc.AuthorizeJoin(ctx, doc, c.ID, start); err != nil {
			b.Fatal(err)
		}
	}
}
