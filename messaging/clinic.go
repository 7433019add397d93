package messaging

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/bedside-health/bedside/clinic"
	"github.com/bedside-health/bedside/policy"
	"github.com/bedside-health/bedside/store"
)

// ClinicDirectory is the Directory backed by the clinic: access decisions
// from clinic.Service.Authorize, members from the consultation records and
// care teams in the store. Both fields are required.
type ClinicDirectory struct {
	Clinic *clinic.Service
	DB     *store.DB
}

// maxListedConsultations bounds the consultation conversations listed for
// one user.
const maxListedConsultations = 1000

// Authorize implements Directory with clinic.Service.Authorize, which also
// records denials in the audit log.
func (d ClinicDirectory) Authorize(ctx context.Context, actor policy.Actor, action policy.Action,
	res policy.Resource) error {
	return d.Clinic.Authorize(ctx, actor, action, res)
}

// ConversationMembers implements Directory: every participant of the
// consultation, or the patient and every member of his care team.
func (d ClinicDirectory) ConversationMembers(ctx context.Context, conv Conversation) ([]string, error) {
	if conv.Kind == KindCare {
		team, err := d.Clinic.CareTeam(ctx, conv.Subject)
		if err != nil {
			return nil, fmt.Errorf("care team of %s: %w", conv.Subject, err)
		}
		members := []string{conv.Subject}
		for _, m := range team {
			members = append(members, m.UserID)
		}
		return members, nil
	}
	c, err := d.DB.Consultation(conv.Subject)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("consultation %s: %w", conv.Subject, ErrConversationNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("consultation %s: %w", conv.Subject, err)
	}
	members := make([]string, 0, len(c.Participants))
	for _, p := range c.Participants {
		members = append(members, p.UserID)
	}
	return members, nil
}

// Conversations implements Directory: the care thread of a patient, the
// care threads of the patients whose care team includes the actor, and
// the conversations of the consultations that list the actor.
//
// TODO(messaging): list at most maxListedConsultations consultations, the
// earliest first, because the store's index has no newest-first scan.
func (d ClinicDirectory) Conversations(_ context.Context, actor policy.Actor) ([]Conversation, error) {
	var out []Conversation
	if actor.Role == policy.RolePatient {
		out = append(out, CareConversation(actor.UserID))
	}
	patients, err := d.DB.CareTeamPatients(actor.UserID)
	if err != nil {
		return nil, fmt.Errorf("care teams of %s: %w", actor.UserID, err)
	}
	for _, p := range patients {
		out = append(out, CareConversation(p))
	}
	// Index keys are Unix seconds; start at the epoch and end far ahead.
	from, to := time.Unix(0, 0), time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	consultations, err := d.DB.ConsultationsOfUser(actor.UserID, from, to, maxListedConsultations)
	if err != nil {
		return nil, fmt.Errorf("consultations of %s: %w", actor.UserID, err)
	}
	for _, c := range consultations {
		out = append(out, ConsultationConversation(c.ID))
	}
	return out, nil
}
