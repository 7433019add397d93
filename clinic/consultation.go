package clinic

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/bedside-health/bedside/api"
	"github.com/bedside-health/bedside/audit"
	"github.com/bedside-health/bedside/policy"
	"github.com/bedside-health/bedside/store"
)

// clockSkew is how far in the past a new start time may lie, so a client
// whose clock is slightly behind can still book "now".
const clockSkew = time.Minute

// bookRequest is the body of POST /api/v1/consultations and
// POST /api/v1/consultations/requests. It has no free-text field: the
// reason for the visit travels as an encrypted message.
type bookRequest struct {
	PatientID string    `json:"patient_id"`
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
	// StaffIDs are care team members who take part (kind clinician).
	StaffIDs []string `json:"staff_ids"`
}

func (s *Service) handleCreateConsultation(w http.ResponseWriter, r *http.Request, actor policy.Actor) error {
	var req bookRequest
	if err := api.DecodeJSON(w, r, 0, &req); err != nil {
		return err
	}
	// The checks that need no lookup come first, so a staff session
	// without a second factor is told so whatever patient id it sends.
	if d, ok := policy.Precheck(actor, policy.ActionConsultationCreate, policy.Resource{}); !ok {
		return d.Err()
	}
	if !validID(req.PatientID) {
		return ErrNotFound
	}
	if err := s.Authorize(r.Context(), actor, policy.ActionConsultationCreate, policy.Patient(req.PatientID)); err != nil {
		return err
	}
	// The creator takes part: a clinician or nurse booking is a care team
	// member (the policy checked it) and hosts.
	staff := append([]string{actor.UserID}, req.StaffIDs...)
	c, err := s.book(r.Context(), actor, req, staff, StatusScheduled)
	if err != nil {
		return err
	}
	s.record(r.Context(), audit.TypeConsultationCreate, actor, c.ID, audit.OutcomeSuccess,
		map[string]string{"patient": c.PatientID, "participants": itoa(len(c.Participants))})
	api.WriteJSON(w, http.StatusCreated, viewConsultation(c))
	return nil
}

func (s *Service) handleRequestConsultation(w http.ResponseWriter, r *http.Request, actor policy.Actor) error {
	var req bookRequest
	if err := api.DecodeJSON(w, r, 0, &req); err != nil {
		return err
	}
	if req.PatientID == "" {
		req.PatientID = actor.UserID
	}
	if d, ok := policy.Precheck(actor, policy.ActionConsultationRequest, policy.Resource{}); !ok {
		return d.Err()
	}
	if !validID(req.PatientID) {
		return ErrNotFound
	}
	if err := s.Authorize(r.Context(), actor, policy.ActionConsultationRequest, policy.Patient(req.PatientID)); err != nil {
		return err
	}
	c, err := s.book(r.Context(), actor, req, req.StaffIDs, StatusRequested)
	if err != nil {
		return err
	}
	s.record(r.Context(), "consultation.requested", actor, c.ID, audit.OutcomeSuccess,
		map[string]string{"patient": c.PatientID})
	api.WriteJSON(w, http.StatusCreated, viewConsultation(c))
	return nil
}

// book validates and stores a new consultation of req.PatientID with the
// patient and the given staff as participants.
func (s *Service) book(ctx context.Context, actor policy.Actor, req bookRequest, staff []string,
	status Status) (*store.Consultation, error) {
	if err := s.checkPatient(ctx, req.PatientID); err != nil {
		return nil, err
	}
	if err := s.checkTimes(req.Start, req.End); err != nil {
		return nil, err
	}
	now := s.now()
	c := &store.Consultation{
		ID:        newID(),
		PatientID: req.PatientID,
		Participants: []store.Participant{{UserID: req.PatientID, Kind: KindPatient,
			Role: string(policy.RolePatient), AddedBy: actor.UserID, AddedAt: now}},
		Start:     req.Start.UTC(),
		End:       req.End.UTC(),
		Status:    string(status),
		CreatedBy: actor.UserID,
		CreatedAt: now,
		UpdatedAt: now,
	}
	for _, id := range staff {
		if err := s.addStaff(ctx, actor, c, id); err != nil {
			return nil, err
		}
	}
	if err := s.db.CreateConsultation(c); err != nil {
		return nil, err
	}
	return c, nil
}

// addStaff lists a care team member of the consultation's patient as a
// participant of kind clinician; listing the same account twice is a
// no-op.
func (s *Service) addStaff(ctx context.Context, actor policy.Actor, c *store.Consultation, id string) error {
	if !validID(id) {
		return invalid("staff id %q is not a valid account id", id)
	}
	for _, p := range c.Participants {
		if p.UserID == id {
			return nil
		}
	}
	if len(c.Participants) >= s.cfg.MaxParticipants {
		return invalid("a consultation has at most %d participants", s.cfg.MaxParticipants)
	}
	team, err := s.db.CareTeam(c.PatientID)
	if err != nil {
		return err
	}
	role := ""
	for _, m := range team {
		if m.UserID == id {
			role = m.Role
		}
	}
	if role == "" {
		return invalid("account %s is not in the patient's care team: add it to the care team first", id)
	}
	c.Participants = append(c.Participants, store.Participant{UserID: id, Kind: KindClinician, Role: role,
		AddedBy: actor.UserID, AddedAt: s.now()})
	return nil
}

// checkTimes enforces start < end, the maximum duration, and a start
// between now (less clock skew) and Config.MaxLeadTime ahead.
func (s *Service) checkTimes(start, end time.Time) error {
	now := s.now()
	switch {
	case start.IsZero() || end.IsZero():
		return invalid("start and end are required RFC 3339 times")
	case !end.After(start):
		return invalid("end must be after start")
	case end.Sub(start) > s.cfg.MaxDuration:
		return invalid("a consultation lasts at most %s", s.cfg.MaxDuration)
	case start.Before(now.Add(-clockSkew)):
		return invalid("start lies in the past: choose a time after %s", now.UTC().Format(time.RFC3339))
	case start.After(now.Add(s.cfg.MaxLeadTime)):
		return invalid("start may lie at most %s ahead", s.cfg.MaxLeadTime)
	}
	return nil
}

func (s *Service) handleGetConsultation(w http.ResponseWriter, r *http.Request, actor policy.Actor) error {
	c, err := s.loadAuthorized(r, actor, policy.ActionConsultationRead)
	if err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusOK, viewConsultation(c))
	return nil
}

// loadAuthorized loads the consultation named by the path and checks
// action on it. A missing consultation and a denied one without relation
// give the same ErrNotFound error.
func (s *Service) loadAuthorized(r *http.Request, actor policy.Actor, action policy.Action) (*store.Consultation, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return nil, s.denyUnknown(r.Context(), actor, action, "invalid-id")
	}
	c, err := s.loadConsultation(id)
	if errors.Is(err, ErrNotFound) {
		return nil, s.denyUnknown(r.Context(), actor, action, id)
	}
	if err != nil {
		return nil, err
	}
	if _, err := s.decideLoaded(r.Context(), actor, action, c); err != nil {
		return nil, err
	}
	return c, nil
}

// denyUnknown rejects an action on a consultation that does not exist in
// the same way the policy rejects one the actor has no relation to: a second factor
// missing from a staff session is reported first, then "not found". The
// attempt is audited like any denial.
func (s *Service) denyUnknown(ctx context.Context, actor policy.Actor, action policy.Action, id string) error {
	res := policy.Consultation(id)
	d := policy.Decide(actor, action, res, policy.RelNone)
	if d.Allowed {
		return ErrNotFound
	}
	s.recordDenial(ctx, actor, action, res, d)
	return d.Err()
}
