package server

import (
	"bytes"
	"crypto/rand"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/bedside-health/bedside/api"
	"github.com/bedside-health/bedside/auth"
	"github.com/bedside-health/bedside/clinic"
	"github.com/bedside-health/bedside/policy"
	"github.com/bedside-health/bedside/policy/policytest"
	"github.com/bedside-health/bedside/store"
)

// world builds, for one actor, fresh resources to which he holds a chosen
// relation. Patients and account targets are real accounts, because the
// server checks the role of a patient id and the state of an account.
// Care teams and consultations are written to the store, so that any role
// can hold any relation, even one the API would reject (an administrator
// as a participant), and the policy must still deny what the table denies.
type world struct {
	tc *testClinic

	mu    sync.Mutex
	clerk policy.Actor // a billing account that writes billing entries
	// hostActor is the clinician who hosts the signaling cases' rooms and
	// is a member of the messaging cases' conversations.
	hostActor policy.Actor
	// e2ee holds the client side of accounts that registered devices.
	e2ee map[string]*e2eeUser
}

func newWorld(tc *testClinic) *world { return &world{tc: tc, e2ee: map[string]*e2eeUser{}} }

// patient returns a patient account id that actor relates to by rel: his
// own account for owner, when he is a patient, and a patient whose care
// team includes him for care team.
func (w *world) patient(t *testing.T, actor policy.Actor, rel policy.Relation) (string, policy.Relation, bool) {
	t.Helper()
	switch rel {
	case policy.RelNone:
		return w.tc.inviteAccount(t, policy.RolePatient).ID, policy.RelNone, true
	case policy.RelOwner:
		// Only a patient owns a patient record: a staff id is no patient,
		// and the server responds 404 for it even where the table allows.
		if actor.Role != policy.RolePatient {
			return "", 0, false
		}
		return actor.UserID, policy.RelOwner, true
	case policy.RelCareTeam:
		p := w.tc.inviteAccount(t, policy.RolePatient).ID
		w.addCareTeam(t, p, actor)
		return p, policy.RelCareTeam, true
	}
	return "", 0, false
}

// consultation returns a consultation in status starting at start, with a
// patient account and a hosting clinician id from the care team, plus
// actor in relation rel. The host id names no account unless host is set.
func (w *world) consultation(t *testing.T, actor policy.Actor, rel policy.Relation, status clinic.Status,
	start time.Time, host string) (*store.Consultation, policy.Relation, bool) {
	t.Helper()
	if host == "" {
		host = rand.Text()
	}
	var patient string
	var extra []store.Participant
	held := policy.RelNone
	switch rel {
	case policy.RelNone:
	case policy.RelOwner:
		patient = actor.UserID
		held = policy.RelOwner | policy.RelParticipant
	case policy.RelCareTeam:
		held = policy.RelCareTeam
	case policy.RelParticipant:
		extra = append(extra, store.Participant{UserID: actor.UserID, Kind: clinic.KindGuest, Role: string(actor.Role)})
		held = policy.RelParticipant
	case policy.RelHost:
		extra = append(extra, store.Participant{UserID: actor.UserID, Kind: clinic.KindClinician, Role: string(actor.Role)})
		held = policy.RelParticipant | policy.RelHost
	default:
		return nil, 0, false
	}
	if patient == "" {
		patient = w.tc.inviteAccount(t, policy.RolePatient).ID
	}
	if rel == policy.RelCareTeam {
		w.addCareTeam(t, patient, actor)
	}
	w.addCareTeam(t, patient, policy.Actor{UserID: host, Role: policy.RoleClinician})
	hostPart := store.Participant{UserID: host, Kind: clinic.KindClinician, Role: string(policy.RoleClinician)}
	c := w.addConsultation(t, patient, start, status, append([]store.Participant{hostPart}, extra...)...)
	return c, held, true
}

// account returns an active account that actor relates to by rel: his
// own, a patient in his care (also a correspondent through the care
// thread), or one he shares a consultation with.
func (w *world) account(t *testing.T, actor policy.Actor, rel policy.Relation) (string, policy.Relation, bool) {
	t.Helper()
	switch rel {
	case policy.RelNone:
		return w.tc.createAccount(t, policy.RolePatient).ID, policy.RelNone, true
	case policy.RelOwner:
		return actor.UserID, policy.RelOwner, true
	case policy.RelCareTeam:
		p := w.tc.createAccount(t, policy.RolePatient).ID
		w.addCareTeam(t, p, actor)
		return p, policy.RelCareTeam | policy.RelCorrespondent, true
	case policy.RelCorrespondent:
		other := w.tc.createAccount(t, policy.RolePatient).ID
		w.addConsultation(t, w.tc.inviteAccount(t, policy.RolePatient).ID, later(), clinic.StatusScheduled,
			store.Participant{UserID: actor.UserID, Kind: clinic.KindGuest, Role: string(actor.Role)},
			store.Participant{UserID: other, Kind: clinic.KindGuest, Role: string(policy.RolePatient)})
		return other, policy.RelCorrespondent, true
	}
	return "", 0, false
}

// addCareTeam puts member on patient's care team in the store.
func (w *world) addCareTeam(t *testing.T, patient string, member policy.Actor) {
	t.Helper()
	_, err := w.tc.srv.DB().UpdateCareTeam(patient, func(cur []store.CareTeamMember) ([]store.CareTeamMember, error) {
		for _, m := range cur {
			if m.UserID == member.UserID {
				return cur, nil
			}
		}
		return append(cur, store.CareTeamMember{PatientID: patient, UserID: member.UserID,
			Role: string(member.Role), AddedAt: time.Now()}), nil
	})
	if err != nil {
		t.Fatalf("update care team: %v", err)
	}
}

// addConsultation stores a 30-minute consultation of patient directly.
func (w *world) addConsultation(t *testing.T, patient string, start time.Time, status clinic.Status,
	participants ...store.Participant) *store.Consultation {
	t.Helper()
	now := time.Now().UTC()
	c := &store.Consultation{
		ID:        rand.Text(),
		PatientID: patient,
		Participants: append([]store.Participant{{UserID: patient, Kind: clinic.KindPatient,
			Role: string(policy.RolePatient)}}, participants...),
		Start:     start.UTC(),
		End:       start.Add(30 * time.Minute).UTC(),
		Status:    string(status),
		CreatedAt: now,
		UpdatedAt: now,
	}
	if err := w.tc.srv.DB().CreateConsultation(c); err != nil {
		t.Fatalf("create consultation: %v", err)
	}
	return c
}

// billingEntry writes an entry on consultation id through the API, as
// billing staff would, and returns its id.
func (w *world) billingEntry(t *testing.T, id string) string {
	t.Helper()
	w.mu.Lock()
	if w.clerk.Anonymous() {
		w.clerk = w.tc.newActor(t, policy.RoleBilling)
	}
	clerk := w.clerk
	w.mu.Unlock()
	var e struct {
		ID string `json:"id"`
	}
	w.tc.mustCall(t, w.tc.token(t, clerk), "POST", "/api/v1/consultations/"+id+"/billing", sampleBilling, &e)
	return e.ID
}

var sampleBilling = map[string]any{
	"service_code": "GP-101", "amount_minor": 4500, "currency": "EUR", "payer_reference": "AOK 123456789",
}

// later returns a start time a day ahead, inside no join window and valid
// for booking and rescheduling.
func later() time.Time { return time.Now().Add(24 * time.Hour).Truncate(time.Minute) }

// times returns a booking body's start and end, two days ahead.
func times() map[string]any {
	s := time.Now().Add(48 * time.Hour).Truncate(time.Minute).UTC()
	return map[string]any{"start": s.Format(time.RFC3339), "end": s.Add(20 * time.Minute).Format(time.RFC3339)}
}

// disable marks account id disabled in the store, as an administrator
// would.
func (w *world) disable(t *testing.T, id string) {
	t.Helper()
	_, err := w.tc.srv.DB().UpdateAccount(id, func(a *store.Account) error {
		a.Status = string(auth.StatusDisabled)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// alert stores an unacknowledged alert and returns its id.
func (w *world) alert(t *testing.T) uint64 {
	t.Helper()
	a := &store.Alert{Type: "failed_logins.account", Severity: "warning", Time: time.Now().UTC()}
	if err := w.tc.srv.DB().InsertAlerts([]*store.Alert{a}, false); err != nil {
		t.Fatal(err)
	}
	return a.ID
}

// totpCode returns the TOTP code of secret for the current time step.
func totpCode(t *testing.T, secret string) string {
	t.Helper()
	code, err := totp.GenerateCode(secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// newEmail returns an address no account has.
func newEmail() string { return strings.ToLower(rand.Text()) + "@test.bedside.test" }

// checkAnswer fails unless res is exactly the response of want.
func checkAnswer(t *testing.T, name string, res apiResult, want *api.Error) {
	t.Helper()
	exp := policytest.Render(want)
	if res.Status != exp.Status || !bytes.Equal(res.Body, exp.Body) {
		t.Errorf("%s: got %d %s, want %s", name, res.Status, bytes.TrimSpace(res.Body), exp)
	}
}
