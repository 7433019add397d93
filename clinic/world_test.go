package clinic

import (
	"fmt"
	"testing"
	"time"

	"github.com/bedside-health/bedside/policy"
	"github.com/bedside-health/bedside/store"
)

// world builds fresh resources to which an actor holds a chosen relation,
// writing directly to the store so that any role can be placed in any
// relation, even ones the API would reject (an admin as a participant).
type world struct {
	f *fixture
}

// start is when consultations built by the world begin: a day after the
// fixture's clock, inside no join window.
func (w world) start() time.Time { return w.f.clock.Now().Add(24 * time.Hour) }

// patient returns a patient id that actor relates to by rel: himself for
// owner, a patient whose care team includes him for care team.
func (w world) patient(t *testing.T, actor policy.Actor, rel policy.Relation) (string, policy.Relation, bool) {
	switch rel {
	case policy.RelNone:
		return newID(), policy.RelNone, true
	case policy.RelOwner:
		return actor.UserID, policy.RelOwner, true
	case policy.RelCareTeam:
		p := newID()
		w.f.addCareTeam(t, p, store.CareTeamMember{UserID: actor.UserID, Role: string(actor.Role)})
		return p, policy.RelCareTeam, true
	}
	return "", 0, false
}

// consultation returns a consultation in status with a patient and a
// hosting clinician from the care team, plus actor in relation rel.
func (w world) consultation(t *testing.T, actor policy.Actor, rel policy.Relation, status Status) (*store.Consultation, policy.Relation, bool) {
	patient := newID()
	host := store.Participant{UserID: newID(), Kind: KindClinician, Role: string(policy.RoleClinician)}
	var extra []store.Participant
	held := policy.RelNone
	switch rel {
	case policy.RelNone:
	case policy.RelOwner:
		patient = actor.UserID
		held = policy.RelOwner | policy.RelParticipant
	case policy.RelCareTeam:
		w.f.addCareTeam(t, patient, store.CareTeamMember{UserID: actor.UserID, Role: string(actor.Role)})
		held = policy.RelCareTeam
	case policy.RelParticipant:
		extra = append(extra, store.Participant{UserID: actor.UserID, Kind: KindGuest, Role: string(actor.Role)})
		held = policy.RelParticipant
	case policy.RelHost:
		extra = append(extra, store.Participant{UserID: actor.UserID, Kind: KindClinician, Role: string(actor.Role)})
		held = policy.RelParticipant | policy.RelHost
	default:
		return nil, 0, false
	}
	w.f.addCareTeam(t, patient, store.CareTeamMember{UserID: host.UserID, Role: host.Role})
	c := w.f.addConsultation(t, patient, w.start(), status, append([]store.Participant{host}, extra...)...)
	return c, held, true
}

// account returns an account id that actor relates to by rel: his own,
// a patient in his care, or one he shares a consultation with.
func (w world) account(t *testing.T, actor policy.Actor, rel policy.Relation) (string, policy.Relation, bool) {
	switch rel {
	case policy.RelNone:
		return newID(), policy.RelNone, true
	case policy.RelOwner:
		return actor.UserID, policy.RelOwner, true
	case policy.RelCareTeam:
		p := newID()
		w.f.addCareTeam(t, p, store.CareTeamMember{UserID: actor.UserID, Role: string(actor.Role)})
		// A care team member shares the patient's care thread.
		return p, policy.RelCareTeam | policy.RelCorrespondent, true
	case policy.RelCorrespondent:
		other := newID()
		w.f.addConsultation(t, newID(), w.start(), StatusScheduled,
			store.Participant{UserID: actor.UserID, Kind: KindGuest},
			store.Participant{UserID: other, Kind: KindGuest})
		return other, policy.RelCorrespondent, true
	}
	return "", 0, false
}

// billingEntry stores a sealed entry on c through the service's sealing.
func (w world) billingEntry(t *testing.T, c *store.Consultation) string {
	t.Helper()
	e := &store.BillingEntry{ID: newID(), ConsultationID: c.ID, PatientID: c.PatientID,
		CreatedAt: w.f.clock.Now(), UpdatedAt: w.f.clock.Now()}
	var err error
	e.Sealed, err = w.f.svc.sealBilling(e, sampleBilling)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.f.db.CreateBillingEntry(e); err != nil {
		t.Fatal(err)
	}
	return e.ID
}

var sampleBilling = BillingFields{ServiceCode: "GP-101", AmountMinor: 4500, Currency: "EUR", PayerReference: "AOK 123456789"}

func rfc(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func path(format string, args ...any) string { return fmt.Sprintf(format, args...) }
