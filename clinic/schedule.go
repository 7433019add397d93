package clinic

import (
	"net/http"
	"slices"
	"time"

	"github.com/bedside-health/bedside/api"
	"github.com/bedside-health/bedside/policy"
	"github.com/bedside-health/bedside/store"
)

// Default range of a schedule query without from or to.
const (
	defaultListPast   = 30 * 24 * time.Hour
	defaultListFuture = 90 * 24 * time.Hour
)

type scheduleView struct {
	From          time.Time      `json:"from"`
	To            time.Time      `json:"to"`
	Consultations []Consultation `json:"consultations"`
	// Truncated is true when more consultations start in the range than
	// Config.MaxListItems; query a shorter range to see them all.
	Truncated bool `json:"truncated"`
}

// handleListConsultations returns the consultations starting in [from, to)
// that the actor may read: those he takes part in and, for clinicians and
// nurses, those of the patients in their care.
func (s *Service) handleListConsultations(w http.ResponseWriter, r *http.Request, actor policy.Actor) error {
	ctx := r.Context()
	if err := s.Authorize(ctx, actor, policy.ActionConsultationList,
		policy.Resource{Kind: policy.KindConsultation}); err != nil {
		return err
	}
	from, to, err := s.listRange(r)
	if err != nil {
		return err
	}
	limit := s.cfg.MaxListItems + 1
	found, err := s.db.ConsultationsOfUser(actor.UserID, from, to, limit)
	if err != nil {
		return err
	}
	if actor.Role == policy.RoleClinician || actor.Role == policy.RoleNurse {
		patients, err := s.db.CareTeamPatients(actor.UserID)
		if err != nil {
			return err
		}
		for _, p := range patients {
			more, err := s.db.ConsultationsOfPatient(p, from, to, limit)
			if err != nil {
				return err
			}
			found = append(found, more...)
		}
	}

	view := scheduleView{From: from, To: to, Consultations: []Consultation{}}
	seen := make(map[string]bool, len(found))
	for _, c := range found {
		if seen[c.ID] {
			continue
		}
		seen[c.ID] = true
		ok, err := s.mayRead(actor, c)
		if err != nil {
			return err
		}
		if ok {
			view.Consultations = append(view.Consultations, viewConsultation(c))
		}
	}
	slices.SortFunc(view.Consultations, func(a, b Consultation) int {
		if c := a.Start.Compare(b.Start); c != 0 {
			return c
		}
		return compareStrings(a.ID, b.ID)
	})
	if len(view.Consultations) > s.cfg.MaxListItems {
		view.Consultations = view.Consultations[:s.cfg.MaxListItems]
		view.Truncated = true
	}
	api.WriteJSON(w, http.StatusOK, view)
	return nil
}

// mayRead applies the policy to one listed consultation; a listing filter
// records no denial.
func (s *Service) mayRead(actor policy.Actor, c *store.Consultation) (bool, error) {
	rel, err := s.consultationRelations(actor, c)
	if err != nil {
		return false, err
	}
	return policy.Decide(actor, policy.ActionConsultationRead, policy.Consultation(c.ID), rel).Allowed, nil
}

// listRange parses from and to, defaulting to 30 days back and 90 days
// ahead, and bounds the range by Config.MaxListSpan.
func (s *Service) listRange(r *http.Request) (time.Time, time.Time, error) {
	now := s.now().UTC()
	from, err := parseTime(r, "from", now.Add(-defaultListPast))
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	to, err := parseTime(r, "to", from.Add(defaultListPast+defaultListFuture))
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	if !to.After(from) {
		return time.Time{}, time.Time{}, invalid("to must be after from")
	}
	if to.Sub(from) > s.cfg.MaxListSpan {
		return time.Time{}, time.Time{}, invalid("the range from to to may span at most %s", s.cfg.MaxListSpan)
	}
	if from.Unix() < 0 {
		return time.Time{}, time.Time{}, invalid("from must not lie before 1970")
	}
	return from.UTC(), to.UTC(), nil
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
