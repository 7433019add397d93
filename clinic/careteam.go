package clinic

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/bedside-health/bedside/api"
	"github.com/bedside-health/bedside/audit"
	"github.com/bedside-health/bedside/policy"
	"github.com/bedside-health/bedside/store"
)

// CareTeam returns the members of a patient's care team, empty when none
// are assigned. It does not check access: call Authorize first.
func (s *Service) CareTeam(_ context.Context, patientID string) ([]CareTeamMember, error) {
	if !validID(patientID) {
		return nil, ErrNotFound
	}
	members, err := s.db.CareTeam(patientID)
	if err != nil {
		return nil, fmt.Errorf("load care team: %w", err)
	}
	return viewCareTeam(members), nil
}

// AddInitialMember puts memberID into the care team of a patient whose
// team is still empty. It is meant for accepting an invitation: the
// clinician or nurse who invited a patient becomes his first care team
// member. It fails with ErrInvalid when the team already has members, so
// it cannot be used to join an existing team, and records a
// "careteam.changed" event.
func (s *Service) AddInitialMember(ctx context.Context, patientID, memberID string, role policy.Role) error {
	if !validID(patientID) || !validID(memberID) || patientID == memberID {
		return invalid("patient and member ids must be distinct valid ids")
	}
	if role != policy.RoleClinician && role != policy.RoleNurse {
		return invalid("care team members must be clinicians or nurses, not %q", role)
	}
	_, err := s.db.UpdateCareTeam(patientID, func(cur []store.CareTeamMember) ([]store.CareTeamMember, error) {
		if len(cur) > 0 {
			return nil, invalid("the care team of %s already has members; ask one of them or an admin", patientID)
		}
		return []store.CareTeamMember{{UserID: memberID, Role: string(role), AddedBy: memberID, AddedAt: s.now()}}, nil
	})
	if err != nil {
		return err
	}
	s.record(ctx, "careteam.changed", policy.Actor{UserID: memberID, Role: role}, patientID,
		audit.OutcomeSuccess, map[string]string{"operation": "initial", "added": memberID})
	return nil
}

type careTeamView struct {
	PatientID string           `json:"patient_id"`
	Members   []CareTeamMember `json:"members"`
}

type memberRequest struct {
	PatientID string      `json:"patient_id,omitempty"`
	UserID    string      `json:"user_id"`
	Role      policy.Role `json:"role,omitempty"`
}

type replaceRequest struct {
	PatientID string          `json:"patient_id,omitempty"`
	Members   []memberRequest `json:"members"`
}

func (s *Service) handleGetCareTeam(w http.ResponseWriter, r *http.Request, actor policy.Actor) error {
	patientID, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := s.Authorize(r.Context(), actor, policy.ActionCareTeamRead, policy.Patient(patientID)); err != nil {
		return err
	}
	if err := s.checkPatient(r.Context(), patientID); err != nil {
		return err
	}
	members, err := s.CareTeam(r.Context(), patientID)
	if err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusOK, careTeamView{PatientID: patientID, Members: members})
	return nil
}

func (s *Service) handleReplaceCareTeam(w http.ResponseWriter, r *http.Request, actor policy.Actor) error {
	patientID, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var req replaceRequest
	if err := api.DecodeJSON(w, r, 0, &req); err != nil {
		return err
	}
	if err := matchID(req.PatientID, patientID); err != nil {
		return err
	}
	return s.changeCareTeam(w, r, actor, patientID, "replace", req.Members,
		func(cur, add []store.CareTeamMember) ([]store.CareTeamMember, error) {
			next := make([]store.CareTeamMember, 0, len(add))
			for _, m := range add {
				if i := slices.IndexFunc(cur, func(c store.CareTeamMember) bool { return c.UserID == m.UserID }); i >= 0 {
					m = cur[i] // keep who added an existing member and when
				}
				next = append(next, m)
			}
			return next, nil
		})
}

func (s *Service) handleAddCareTeamMember(w http.ResponseWriter, r *http.Request, actor policy.Actor) error {
	patientID, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var req memberRequest
	if err := api.DecodeJSON(w, r, 0, &req); err != nil {
		return err
	}
	if err := matchID(req.PatientID, patientID); err != nil {
		return err
	}
	req.PatientID = ""
	return s.changeCareTeam(w, r, actor, patientID, "add", []memberRequest{req},
		func(cur, add []store.CareTeamMember) ([]store.CareTeamMember, error) {
			for _, c := range cur {
				if c.UserID == add[0].UserID {
					return nil, api.Conflict("exists", "the account is already in this care team")
				}
			}
			return append(cur, add[0]), nil
		})
}

func (s *Service) handleRemoveCareTeamMember(w http.ResponseWriter, r *http.Request, actor policy.Actor) error {
	patientID, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := s.Authorize(r.Context(), actor, policy.ActionCareTeamManage, policy.Patient(patientID)); err != nil {
		return err
	}
	userID := r.PathValue("user")
	team, err := s.db.UpdateCareTeam(patientID, func(cur []store.CareTeamMember) ([]store.CareTeamMember, error) {
		i := slices.IndexFunc(cur, func(c store.CareTeamMember) bool { return c.UserID == userID })
		if i < 0 {
			return nil, ErrNotFound
		}
		return slices.Delete(cur, i, i+1), nil
	})
	if err != nil {
		return err
	}
	s.record(r.Context(), "careteam.changed", actor, patientID, audit.OutcomeSuccess,
		map[string]string{"operation": "remove", "removed": userID})
	api.WriteJSON(w, http.StatusOK, careTeamView{PatientID: patientID, Members: viewCareTeam(team)})
	return nil
}

// changeCareTeam authorizes a care team change, validates the requested
// members and applies merge to the current team in one transaction.
func (s *Service) changeCareTeam(w http.ResponseWriter, r *http.Request, actor policy.Actor, patientID, operation string,
	reqs []memberRequest, merge func(cur, add []store.CareTeamMember) ([]store.CareTeamMember, error)) error {
	ctx := r.Context()
	if err := s.Authorize(ctx, actor, policy.ActionCareTeamManage, policy.Patient(patientID)); err != nil {
		return err
	}
	if err := s.checkPatient(ctx, patientID); err != nil {
		return err
	}
	add, err := s.validateMembers(ctx, actor, patientID, reqs)
	if err != nil {
		return err
	}
	var before []store.CareTeamMember
	team, err := s.db.UpdateCareTeam(patientID, func(cur []store.CareTeamMember) ([]store.CareTeamMember, error) {
		before = cur
		next, err := merge(cur, add)
		if err != nil {
			return nil, err
		}
		if len(next) > s.cfg.MaxCareTeam {
			return nil, invalid("a care team has at most %d members", s.cfg.MaxCareTeam)
		}
		return next, nil
	})
	if err != nil {
		return err
	}
	added, removed := diffMembers(before, team)
	s.record(ctx, "careteam.changed", actor, patientID, audit.OutcomeSuccess, map[string]string{
		"operation": operation,
		"added":     strings.Join(added, ","),
		"removed":   strings.Join(removed, ","),
		"members":   strconv.Itoa(len(team)),
	})
	api.WriteJSON(w, http.StatusOK, careTeamView{PatientID: patientID, Members: viewCareTeam(team)})
	return nil
}

// validateMembers checks the requested members: valid distinct ids other
// than the patient, and the role clinician or nurse, taken from Deps.Users
// when set.
func (s *Service) validateMembers(ctx context.Context, actor policy.Actor, patientID string,
	reqs []memberRequest) ([]store.CareTeamMember, error) {
	if len(reqs) > s.cfg.MaxCareTeam {
		return nil, invalid("a care team has at most %d members", s.cfg.MaxCareTeam)
	}
	out := make([]store.CareTeamMember, 0, len(reqs))
	seen := make(map[string]bool, len(reqs))
	for _, m := range reqs {
		if !validID(m.UserID) {
			return nil, invalid("user_id %q is not a valid account id", m.UserID)
		}
		if m.UserID == patientID {
			return nil, invalid("a patient cannot be in his own care team")
		}
		if seen[m.UserID] {
			return nil, invalid("user_id %s is listed twice", m.UserID)
		}
		seen[m.UserID] = true
		role, err := s.memberRole(ctx, m)
		if err != nil {
			return nil, err
		}
		out = append(out, store.CareTeamMember{UserID: m.UserID, Role: string(role), AddedBy: actor.UserID, AddedAt: s.now()})
	}
	return out, nil
}

func (s *Service) memberRole(ctx context.Context, m memberRequest) (policy.Role, error) {
	role := m.Role
	if s.users != nil {
		known, err := s.userRole(ctx, m.UserID)
		if err != nil {
			return "", err
		}
		if role != "" && role != known {
			return "", invalid("account %s has role %s, not %s", m.UserID, known, role)
		}
		role = known
	}
	if role != policy.RoleClinician && role != policy.RoleNurse {
		if role == "" {
			return "", invalid("role of %s is missing: set clinician or nurse", m.UserID)
		}
		return "", invalid("account %s has role %s: care team members must be clinicians or nurses", m.UserID, role)
	}
	return role, nil
}

// userRole returns the role of id from Deps.Users, which must be set.
func (s *Service) userRole(ctx context.Context, id string) (policy.Role, error) {
	role, err := s.users.UserRole(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return "", fmt.Errorf("%w: no account has id %s; check the id", ErrUnknownUser, id)
	}
	if err != nil {
		return "", fmt.Errorf("look up account %s: %w", id, err)
	}
	return role, nil
}

// checkPatient returns ErrNotFound when Deps.Users is set and patientID is
// not a patient account. Without Users every valid id passes.
func (s *Service) checkPatient(ctx context.Context, patientID string) error {
	if s.users == nil {
		return nil
	}
	role, err := s.users.UserRole(ctx, patientID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && role != policy.RolePatient) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("look up patient %s: %w", patientID, err)
	}
	return nil
}

func diffMembers(before, after []store.CareTeamMember) (added, removed []string) {
	in := func(list []store.CareTeamMember, id string) bool {
		return slices.ContainsFunc(list, func(m store.CareTeamMember) bool { return m.UserID == id })
	}
	for _, m := range after {
		if !in(before, m.UserID) {
			added = append(added, m.UserID)
		}
	}
	for _, m := range before {
		if !in(after, m.UserID) {
			removed = append(removed, m.UserID)
		}
	}
	return added, removed
}
