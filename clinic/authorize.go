package clinic

import (
	"context"
	"errors"
	"fmt"

	"github.com/bedside-health/bedside/audit"
	"github.com/bedside-health/bedside/policy"
	"github.com/bedside-health/bedside/store"
)

// Authorize decides whether actor may perform action on res, from the
// actor's role and his relations to res in the store. It returns nil when
// allowed. A denial is recorded as an "access.denied" audit event and
// returned as the *api.Error to send:
//
//   - api.Unauthorized for an anonymous actor;
//   - policy.SecondFactorError for a staff session without a second factor;
//   - api.NotFound when res names a consultation, patient or account the
//     actor has no relation to, exactly as for an id that does not exist;
//   - policy.ForbiddenError when the actor has a relation to res but the
//     table does not grant the action, or res is a collection.
//
// A failed lookup is returned as a plain error, which api.WriteError shows
// as an internal error.
func (s *Service) Authorize(ctx context.Context, actor policy.Actor, action policy.Action, res policy.Resource) error {
	d, err := policy.Check(ctx, s, actor, action, res)
	if err != nil {
		return err
	}
	if !d.Allowed {
		s.recordDenial(ctx, actor, action, res, d)
	}
	return d.Err()
}

// decideLoaded is Authorize for a consultation the caller has already
// loaded, so the decision and the operation read the same record.
func (s *Service) decideLoaded(ctx context.Context, actor policy.Actor, action policy.Action,
	c *store.Consultation) (policy.Decision, error) {
	res := policy.Consultation(c.ID)
	if d, ok := policy.Precheck(actor, action, res); !ok {
		s.recordDenial(ctx, actor, action, res, d)
		return d, d.Err()
	}
	rel, err := s.consultationRelations(actor, c)
	if err != nil {
		return policy.Decision{}, err
	}
	d := policy.Decide(actor, action, res, rel)
	if !d.Allowed {
		s.recordDenial(ctx, actor, action, res, d)
	}
	return d, d.Err()
}

func (s *Service) recordDenial(ctx context.Context, actor policy.Actor, action policy.Action,
	res policy.Resource, d policy.Decision) {
	reason := "not_granted"
	switch {
	case errors.Is(d.Reason, policy.ErrUnauthenticated):
		reason = "unauthenticated"
	case errors.Is(d.Reason, policy.ErrSecondFactor):
		reason = "second_factor"
	case errors.Is(d.Reason, policy.ErrNoRelation):
		reason = "no_relation"
	case errors.Is(d.Reason, policy.ErrInviteRole):
		reason = "invite_role"
	case errors.Is(d.Reason, policy.ErrUnknownAction):
		reason = "unknown_action"
	}
	detail := map[string]string{
		"action": string(action),
		"kind":   string(res.Kind),
		"reason": reason,
		"role":   string(actor.Role),
	}
	s.record(ctx, "access.denied", actor, res.TargetID(), audit.OutcomeDenied, detail)
}

// Relations computes actor's relations to res from care teams and
// consultation participant lists; it implements policy.Resolver. A
// resource that does not exist, or whose ids contradict each other (a
// consultation of another patient than res.PatientID), yields no relation.
func (s *Service) Relations(_ context.Context, actor policy.Actor, res policy.Resource) (policy.Relation, error) {
	for _, id := range []string{res.ConsultationID, res.PatientID, res.UserID} {
		if id != "" && !validID(id) {
			return policy.RelNone, nil
		}
	}
	if res.ConsultationID != "" {
		c, err := s.db.Consultation(res.ConsultationID)
		if errors.Is(err, store.ErrNotFound) {
			return policy.RelNone, nil
		}
		if err != nil {
			return policy.RelNone, err
		}
		if res.PatientID != "" && res.PatientID != c.PatientID {
			return policy.RelNone, nil
		}
		return s.consultationRelations(actor, c)
	}
	var rel policy.Relation
	if res.PatientID != "" {
		r, err := s.patientRelations(actor, res.PatientID)
		if err != nil {
			return policy.RelNone, err
		}
		rel |= r
	}
	if res.UserID != "" {
		r, err := s.accountRelations(actor, res.UserID)
		if err != nil {
			return policy.RelNone, err
		}
		rel |= r
	}
	return rel, nil
}

// consultationRelations computes relations to a consultation. The patient
// owns it, every listed account is a participant and staff participants
// are hosts. The care team of the patient is its care team.
func (s *Service) consultationRelations(actor policy.Actor, c *store.Consultation) (policy.Relation, error) {
	var rel policy.Relation
	if c.PatientID == actor.UserID {
		rel |= policy.RelOwner
	}
	for _, p := range c.Participants {
		if p.UserID != actor.UserID {
			continue
		}
		rel |= policy.RelParticipant
		if p.Kind == KindClinician {
			rel |= policy.RelHost
		}
	}
	in, err := s.db.InCareTeam(c.PatientID, actor.UserID)
	if err != nil {
		return policy.RelNone, fmt.Errorf("care team of %s: %w", c.PatientID, err)
	}
	if in {
		rel |= policy.RelCareTeam
	}
	return rel, nil
}

func (s *Service) patientRelations(actor policy.Actor, patientID string) (policy.Relation, error) {
	var rel policy.Relation
	if patientID == actor.UserID {
		rel |= policy.RelOwner
	}
	in, err := s.db.InCareTeam(patientID, actor.UserID)
	if err != nil {
		return policy.RelNone, fmt.Errorf("care team of %s: %w", patientID, err)
	}
	if in {
		rel |= policy.RelCareTeam
	}
	return rel, nil
}

// accountRelations computes relations to an account. One's own account is
// owned, and the care team of a patient relates to his account. Accounts
// sharing a consultation or a care thread are correspondents.
func (s *Service) accountRelations(actor policy.Actor, userID string) (policy.Relation, error) {
	if userID == actor.UserID {
		return policy.RelOwner, nil
	}
	rel, err := s.patientRelations(actor, userID)
	if err != nil {
		return policy.RelNone, err
	}
	shared, err := s.db.SharesCareTeam(actor.UserID, userID)
	if err != nil {
		return policy.RelNone, fmt.Errorf("care threads of %s: %w", userID, err)
	}
	if !shared {
		shared, err = s.db.SharesConsultation(actor.UserID, userID)
		if err != nil {
			return policy.RelNone, fmt.Errorf("consultations of %s: %w", userID, err)
		}
	}
	if shared {
		rel |= policy.RelCorrespondent
	}
	return rel, nil
}
