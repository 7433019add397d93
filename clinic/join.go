package clinic

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/bedside-health/bedside/audit"
	"github.com/bedside-health/bedside/policy"
	"github.com/bedside-health/bedside/store"
)

// The kinds of consultation participants.
const (
	// KindPatient is the patient the consultation is about.
	KindPatient = "patient"
	// KindClinician is a care team member (role clinician or nurse) who
	// takes part as staff; clinicians of this kind host the consultation.
	KindClinician = "clinician"
	// KindGuest is an account invited for this consultation only, such as
	// an interpreter or a family member.
	KindGuest = "guest"
)

// Grant is the permission AuthorizeJoin gives a participant.
type Grant struct {
	// Host is true when the participant may admit others from the waiting
	// room (policy.ActionConsultationAdmit).
	Host bool
	// Role is the actor's role.
	Role policy.Role
	// Kind is the participant kind: KindPatient, KindClinician or
	// KindGuest.
	Kind string
}

// AuthorizeJoin decides whether actor may enter consultation id at now.
// Only listed participants may, and only while the consultation is
// scheduled, waiting or in progress, from Config.JoinBefore before the
// scheduled start until Config.JoinGrace after the scheduled end.
//
// It returns ErrNotFound for a consultation that does not exist and, with
// the identical error, for one the actor is not a participant of or may
// not join in his role. Participants get ErrNotJoinable or
// ErrOutsideWindow, and staff sessions without a second factor
// ErrSecondFactor whatever the id. Denials are audited as "access.denied".
func (s *Service) AuthorizeJoin(ctx context.Context, actor policy.Actor, consultationID string, now time.Time) (Grant, error) {
	res := policy.Consultation(consultationID)
	if d, ok := policy.Precheck(actor, policy.ActionConsultationJoin, res); !ok {
		s.recordDenial(ctx, actor, policy.ActionConsultationJoin, res, d)
		if errors.Is(d.Reason, policy.ErrSecondFactor) {
			return Grant{}, ErrSecondFactor
		}
		return Grant{}, ErrNotFound
	}
	c, err := s.loadConsultation(consultationID)
	if errors.Is(err, ErrNotFound) {
		s.recordDenial(ctx, actor, policy.ActionConsultationJoin, res,
			policy.Decision{Reason: policy.ErrNoRelation, Hidden: true})
		return Grant{}, ErrNotFound
	}
	if err != nil {
		return Grant{}, err
	}
	d, err := s.decideLoaded(ctx, actor, policy.ActionConsultationJoin, c)
	if !d.Allowed {
		if d.Reason == nil { // lookup failure
			return Grant{}, err
		}
		if errors.Is(d.Reason, policy.ErrSecondFactor) {
			return Grant{}, ErrSecondFactor
		}
		return Grant{}, ErrNotFound
	}

	if !Status(c.Status).joinable() {
		return Grant{}, fmt.Errorf("join consultation %s in status %s: %w", c.ID, c.Status, ErrNotJoinable)
	}
	opens := c.Start.Add(-s.cfg.JoinBefore)
	closes := c.End.Add(s.cfg.JoinGrace)
	if now.Before(opens) || now.After(closes) {
		return Grant{}, fmt.Errorf("join consultation %s: %w (open from %s to %s)",
			c.ID, ErrOutsideWindow, opens.UTC().Format(time.RFC3339), closes.UTC().Format(time.RFC3339))
	}

	g := Grant{Role: actor.Role, Kind: KindGuest}
	for _, p := range c.Participants {
		if p.UserID == actor.UserID {
			g.Kind = p.Kind
		}
	}
	g.Host = policy.Decide(actor, policy.ActionConsultationAdmit, res, d.Relations).Allowed
	return g, nil
}

// SetStatus moves a consultation to status on behalf of the signaling hub:
// waiting, in_progress, completed, no_show, or back to scheduled when the
// waiting room empties before the call starts. Other changes fail with
// ErrInvalidTransition, an unknown id with ErrNotFound.
func (s *Service) SetStatus(ctx context.Context, consultationID string, status Status) error {
	if !validID(consultationID) {
		return ErrNotFound
	}
	var from Status
	_, err := s.db.UpdateConsultation(consultationID, func(c *store.Consultation) error {
		from = Status(c.Status)
		if from == status {
			return nil
		}
		if !CanTransition(from, status, TriggerHub) {
			return fmt.Errorf("%w: %s to %s", ErrInvalidTransition, from, status)
		}
		c.Status = string(status)
		c.UpdatedAt = s.now()
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("set status of consultation %s: %w", consultationID, err)
	}
	if from != status {
		s.record(ctx, "consultation.status", policy.Actor{}, consultationID, audit.OutcomeSuccess,
			map[string]string{"from": string(from), "to": string(status)})
	}
	return nil
}

// Participants returns the participants of a consultation, or ErrNotFound.
// It does not check access: call Authorize first.
func (s *Service) Participants(_ context.Context, consultationID string) ([]Participant, error) {
	c, err := s.loadConsultation(consultationID)
	if err != nil {
		return nil, err
	}
	return participantsOf(c), nil
}

// IsParticipant reports whether userID is listed on the consultation. An
// unknown consultation is reported as false with no error.
func (s *Service) IsParticipant(_ context.Context, consultationID, userID string) (bool, error) {
	c, err := s.loadConsultation(consultationID)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	for _, p := range c.Participants {
		if p.UserID == userID {
			return true, nil
		}
	}
	return false, nil
}

// Consultation returns a consultation by id, or ErrNotFound. It does not
// check access: call Authorize first.
func (s *Service) Consultation(_ context.Context, consultationID string) (Consultation, error) {
	c, err := s.loadConsultation(consultationID)
	if err != nil {
		return Consultation{}, err
	}
	return viewConsultation(c), nil
}

func (s *Service) loadConsultation(id string) (*store.Consultation, error) {
	if !validID(id) {
		return nil, ErrNotFound
	}
	c, err := s.db.Consultation(id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("load consultation: %w", err)
	}
	return c, nil
}

// ConversationMembers returns the account ids of a conversation's members,
// the recipients of its messages, in a stable order. A consultation's
// conversation (res.ConsultationID) has its participants and the patient's
// care team. A care thread (res.PatientID only) has the patient and his care
// team. It does not check access: call Authorize first.
func (s *Service) ConversationMembers(_ context.Context, res policy.Resource) ([]string, error) {
	patientID := res.PatientID
	var out []string
	seen := map[string]bool{}
	add := func(id string) {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	if res.ConsultationID != "" {
		c, err := s.loadConsultation(res.ConsultationID)
		if err != nil {
			return nil, err
		}
		if patientID != "" && patientID != c.PatientID {
			return nil, ErrNotFound
		}
		patientID = c.PatientID
		for _, p := range c.Participants {
			add(p.UserID)
		}
	}
	if !validID(patientID) {
		return nil, ErrNotFound
	}
	add(patientID)
	team, err := s.db.CareTeam(patientID)
	if err != nil {
		return nil, fmt.Errorf("load care team: %w", err)
	}
	for _, m := range team {
		add(m.UserID)
	}
	return out, nil
}

// abandonedLookback bounds how far back CompleteAbandoned looks for
// consultations left in progress.
const abandonedLookback = 30 * 24 * time.Hour

// CompleteAbandoned marks as completed every consultation still in
// progress whose join window closed before now. The signaling hub
// completes a call when its room stays empty past the window, but only
// while it runs; the server calls this at start-up for calls that a stop
// or crash left open. It returns how many it completed.
func (s *Service) CompleteAbandoned(ctx context.Context, now time.Time) (int, error) {
	from := now.Add(-abandonedLookback - s.cfg.MaxDuration)
	list, err := s.db.ConsultationsBetween(from, now, 100_000)
	if err != nil {
		return 0, fmt.Errorf("list consultations to complete: %w", err)
	}
	done := 0
	for _, c := range list {
		if Status(c.Status) != StatusInProgress || !now.After(c.End.Add(s.cfg.JoinGrace)) {
			continue
		}
		if err := s.SetStatus(ctx, c.ID, StatusCompleted); err != nil {
			return done, err
		}
		done++
	}
	return done, nil
}
