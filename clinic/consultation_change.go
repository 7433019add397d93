package clinic

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/bedside-health/bedside/api"
	"github.com/bedside-health/bedside/audit"
	"github.com/bedside-health/bedside/policy"
	"github.com/bedside-health/bedside/store"
)

// changeRequest is the body of confirm, cancel and reschedule. All fields
// are optional for confirm and cancel; ConsultationID, when present, must
// match the path.
type changeRequest struct {
	ConsultationID string    `json:"consultation_id,omitempty"`
	Start          time.Time `json:"start,omitzero"`
	End            time.Time `json:"end,omitzero"`
}

type guestRequest struct {
	ConsultationID string `json:"consultation_id,omitempty"`
	UserID         string `json:"user_id"`
}

// change is one consultation operation after the access check: it edits c
// in the write transaction and returns an error to abort.
type change func(c *store.Consultation) error

// applyChange decodes the body into req (optional when optionalBody),
// authorizes action, checks the body's consultation id against the path,
// runs prepare (when not nil) and then edit on the stored record in one
// transaction. The decision is taken again inside the transaction, on the
// record being changed, so a concurrent change of participants cannot slip
// past it.
//
// NOTE: edit and the re-check read care teams through their own read
// transactions inside the write transaction. bbolt allows this because
// each read transaction closes before the write transaction commits.
func (s *Service) applyChange(w http.ResponseWriter, r *http.Request, actor policy.Actor, action policy.Action,
	bodyID *string, optionalBody bool, req any, prepare func() error, edit change) (*store.Consultation, error) {
	var err error
	if optionalBody {
		err = decodeOptional(w, r, req)
	} else {
		err = api.DecodeJSON(w, r, 0, req)
	}
	if err != nil {
		return nil, err
	}
	if _, err := s.loadAuthorized(r, actor, action); err != nil {
		return nil, err
	}
	id := r.PathValue("id")
	if err := matchID(*bodyID, id); err != nil {
		return nil, err
	}
	if prepare != nil {
		if err := prepare(); err != nil {
			return nil, err
		}
	}
	c, err := s.db.UpdateConsultation(id, func(c *store.Consultation) error {
		rel, err := s.consultationRelations(actor, c)
		if err != nil {
			return err
		}
		if d := policy.Decide(actor, action, policy.Consultation(id), rel); !d.Allowed {
			return d.Err()
		}
		if err := edit(c); err != nil {
			return err
		}
		c.UpdatedAt = s.now()
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNotFound
	}
	return c, err
}

func (s *Service) handleConfirm(w http.ResponseWriter, r *http.Request, actor policy.Actor) error {
	var req changeRequest
	c, err := s.applyChange(w, r, actor, policy.ActionConsultationConfirm, &req.ConsultationID, true, &req, nil,
		func(c *store.Consultation) error {
			if err := transition(c, StatusScheduled, TriggerConfirm); err != nil {
				return err
			}
			if !req.Start.IsZero() || !req.End.IsZero() {
				if err := s.setTimes(c, req.Start, req.End); err != nil {
					return err
				}
			} else if c.Start.Before(s.now().Add(-clockSkew)) {
				return api.Conflict("start_passed",
					"the requested start has passed: confirm with new start and end times")
			}
			return s.addStaff(r.Context(), actor, c, actor.UserID)
		})
	if err != nil {
		return err
	}
	s.record(r.Context(), "consultation.confirmed", actor, c.ID, audit.OutcomeSuccess, nil)
	api.WriteJSON(w, http.StatusOK, viewConsultation(c))
	return nil
}

func (s *Service) handleCancel(w http.ResponseWriter, r *http.Request, actor policy.Actor) error {
	var req changeRequest
	var from Status
	c, err := s.applyChange(w, r, actor, policy.ActionConsultationCancel, &req.ConsultationID, true, &req, nil,
		func(c *store.Consultation) error {
			from = Status(c.Status)
			if !req.Start.IsZero() || !req.End.IsZero() {
				return invalid("cancel takes no start or end")
			}
			return transition(c, StatusCancelled, TriggerCancel)
		})
	if err != nil {
		return err
	}
	s.record(r.Context(), "consultation.cancelled", actor, c.ID, audit.OutcomeSuccess,
		map[string]string{"from": string(from)})
	api.WriteJSON(w, http.StatusOK, viewConsultation(c))
	return nil
}

func (s *Service) handleReschedule(w http.ResponseWriter, r *http.Request, actor policy.Actor) error {
	var req changeRequest
	var from Status
	c, err := s.applyChange(w, r, actor, policy.ActionConsultationReschedule, &req.ConsultationID, false, &req, nil,
		func(c *store.Consultation) error {
			from = Status(c.Status)
			by := TriggerRescheduleStaff
			if actor.Role == policy.RolePatient {
				by = TriggerReschedulePatient
			}
			to, ok := rescheduleTarget(from, by)
			if !ok {
				return fmt.Errorf("%w: a %s consultation cannot be rescheduled", ErrInvalidTransition, from)
			}
			if err := s.setTimes(c, req.Start, req.End); err != nil {
				return err
			}
			c.Status = string(to)
			return nil
		})
	if err != nil {
		return err
	}
	s.record(r.Context(), "consultation.rescheduled", actor, c.ID, audit.OutcomeSuccess,
		map[string]string{"from": string(from), "to": c.Status})
	api.WriteJSON(w, http.StatusOK, viewConsultation(c))
	return nil
}

func (s *Service) handleInviteGuest(w http.ResponseWriter, r *http.Request, actor policy.Actor) error {
	var req guestRequest
	var role policy.Role
	lookup := func() error {
		var err error
		role, err = s.guestRole(r.Context(), req.UserID)
		return err
	}
	c, err := s.applyChange(w, r, actor, policy.ActionConsultationInviteGuest, &req.ConsultationID, false, &req,
		lookup, func(c *store.Consultation) error {
			return s.addGuest(actor, c, req.UserID, role)
		})
	if err != nil {
		return err
	}
	s.record(r.Context(), "consultation.guest_invited", actor, c.ID, audit.OutcomeSuccess,
		map[string]string{"guest": req.UserID, "participants": strconv.Itoa(len(c.Participants))})
	api.WriteJSON(w, http.StatusOK, viewConsultation(c))
	return nil
}

// guestRole checks a guest's id and returns his role from Deps.Users, or
// the empty role without Users. Guests may hold any role but billing and
// admin, which never take part in consultations. Without Users the role is
// not known here, and the policy still denies those roles every
// consultation action.
func (s *Service) guestRole(ctx context.Context, id string) (policy.Role, error) {
	if !validID(id) {
		return "", invalid("user_id %q is not a valid account id", id)
	}
	if s.users == nil {
		return "", nil
	}
	role, err := s.userRole(ctx, id)
	if err != nil {
		return "", err
	}
	if role == policy.RoleAdmin || role == policy.RoleBilling {
		return "", invalid("account %s has role %s, which cannot take part in consultations", id, role)
	}
	return role, nil
}

// addGuest lists id as a guest of c.
func (s *Service) addGuest(actor policy.Actor, c *store.Consultation, id string, role policy.Role) error {
	if Status(c.Status).Final() {
		return fmt.Errorf("%w: a %s consultation takes no more guests", ErrInvalidTransition, c.Status)
	}
	for _, p := range c.Participants {
		if p.UserID == id {
			return api.Conflict("exists", "the account already takes part in this consultation")
		}
	}
	if len(c.Participants) >= s.cfg.MaxParticipants {
		return invalid("a consultation has at most %d participants", s.cfg.MaxParticipants)
	}
	c.Participants = append(c.Participants, store.Participant{UserID: id, Kind: KindGuest, Role: string(role),
		AddedBy: actor.UserID, AddedAt: s.now()})
	return nil
}

// transition moves c to status by trigger or fails with
// ErrInvalidTransition.
func transition(c *store.Consultation, to Status, by Trigger) error {
	if !CanTransition(Status(c.Status), to, by) {
		return fmt.Errorf("%w: a %s consultation cannot be moved to %s by %s", ErrInvalidTransition, c.Status, to, by)
	}
	c.Status = string(to)
	return nil
}

func (s *Service) setTimes(c *store.Consultation, start, end time.Time) error {
	if err := s.checkTimes(start, end); err != nil {
		return err
	}
	c.Start, c.End = start.UTC(), end.UTC()
	return nil
}

func itoa(n int) string { return strconv.Itoa(n) }
