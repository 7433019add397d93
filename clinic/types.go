package clinic

import (
	"time"

	"github.com/bedside-health/bedside/policy"
	"github.com/bedside-health/bedside/store"
)

// Participant is one account listed on a consultation, as the API shows it.
type Participant struct {
	UserID string `json:"user_id"`
	// Kind is KindPatient, KindClinician or KindGuest.
	Kind string `json:"kind"`
	// Role is the account's role when it was added, empty when unknown
	// (Deps.Users not set).
	Role    policy.Role `json:"role,omitempty"`
	AddedBy string      `json:"added_by"`
	AddedAt time.Time   `json:"added_at"`
}

// Consultation is an appointment as the API shows it. It has no clinical
// content: the reason for the visit and notes travel as end-to-end
// encrypted messages in the consultation's conversation.
type Consultation struct {
	ID           string        `json:"id"`
	PatientID    string        `json:"patient_id"`
	Participants []Participant `json:"participants"`
	Start        time.Time     `json:"start"`
	End          time.Time     `json:"end"`
	Status       Status        `json:"status"`
	CreatedBy    string        `json:"created_by"`
	CreatedAt    time.Time     `json:"created_at"`
	UpdatedAt    time.Time     `json:"updated_at"`
}

// CareTeamMember is one clinician or nurse assigned to a patient.
type CareTeamMember struct {
	UserID  string      `json:"user_id"`
	Role    policy.Role `json:"role"`
	AddedBy string      `json:"added_by"`
	AddedAt time.Time   `json:"added_at"`
}

func participantsOf(c *store.Consultation) []Participant {
	out := make([]Participant, len(c.Participants))
	for i, p := range c.Participants {
		out[i] = Participant{UserID: p.UserID, Kind: p.Kind, Role: policy.Role(p.Role),
			AddedBy: p.AddedBy, AddedAt: p.AddedAt}
	}
	return out
}

func viewConsultation(c *store.Consultation) Consultation {
	return Consultation{
		ID:           c.ID,
		PatientID:    c.PatientID,
		Participants: participantsOf(c),
		Start:        c.Start,
		End:          c.End,
		Status:       Status(c.Status),
		CreatedBy:    c.CreatedBy,
		CreatedAt:    c.CreatedAt,
		UpdatedAt:    c.UpdatedAt,
	}
}

func viewCareTeam(members []store.CareTeamMember) []CareTeamMember {
	out := make([]CareTeamMember, len(members))
	for i, m := range members {
		out[i] = CareTeamMember{UserID: m.UserID, Role: policy.Role(m.Role), AddedBy: m.AddedBy, AddedAt: m.AddedAt}
	}
	return out
}
