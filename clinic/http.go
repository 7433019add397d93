package clinic

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/bedside-health/bedside/api"
	"github.com/bedside-health/bedside/policy"
	"github.com/bedside-health/bedside/store"
)

// Register adds the clinic's routes to rt. Every route needs an actor in
// the request context (policy.WithActor, set by the auth middleware) and
// responds api.Unauthorized without one. docs/api.md describes them.
func (s *Service) Register(rt *api.Router) {
	rt.HandleFunc("GET /api/v1/patients/{id}/care-team", s.handle(s.handleGetCareTeam))
	rt.HandleFunc("PUT /api/v1/patients/{id}/care-team", s.handle(s.handleReplaceCareTeam))
	rt.HandleFunc("POST /api/v1/patients/{id}/care-team", s.handle(s.handleAddCareTeamMember))
	rt.HandleFunc("DELETE /api/v1/patients/{id}/care-team/{user}", s.handle(s.handleRemoveCareTeamMember))

	rt.HandleFunc("GET /api/v1/consultations", s.handle(s.handleListConsultations))
	rt.HandleFunc("POST /api/v1/consultations", s.handle(s.handleCreateConsultation))
	rt.HandleFunc("POST /api/v1/consultations/requests", s.handle(s.handleRequestConsultation))
	rt.HandleFunc("GET /api/v1/consultations/{id}", s.handle(s.handleGetConsultation))
	rt.HandleFunc("POST /api/v1/consultations/{id}/confirm", s.handle(s.handleConfirm))
	rt.HandleFunc("POST /api/v1/consultations/{id}/cancel", s.handle(s.handleCancel))
	rt.HandleFunc("POST /api/v1/consultations/{id}/reschedule", s.handle(s.handleReschedule))
	rt.HandleFunc("POST /api/v1/consultations/{id}/guests", s.handle(s.handleInviteGuest))

	rt.HandleFunc("GET /api/v1/consultations/{id}/billing", s.handle(s.handleListBilling))
	rt.HandleFunc("POST /api/v1/consultations/{id}/billing", s.handle(s.handleCreateBilling))
	rt.HandleFunc("PUT /api/v1/consultations/{id}/billing/{entry}", s.handle(s.handleUpdateBilling))
	rt.HandleFunc("GET /api/v1/billing", s.handle(s.handleBillingOverview))
}

// actorHandler is a handler that runs for an authenticated actor and
// returns its error instead of writing it.
type actorHandler func(w http.ResponseWriter, r *http.Request, actor policy.Actor) error

func (s *Service) handle(h actorHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		actor, ok := policy.ActorFrom(r.Context())
		if !ok {
			api.WriteError(w, r, s.log, api.Unauthorized())
			return
		}
		if err := h(w, r, actor); err != nil {
			api.WriteError(w, r, s.log, apiError(err))
		}
	}
}

// apiError maps the clinic's errors to the responses clients see. Errors it
// does not know reach api.WriteError unchanged and become internal errors.
func apiError(err error) error {
	var e *api.Error
	switch {
	case errors.As(err, &e):
		return e
	case errors.Is(err, ErrNotFound):
		return api.NotFound()
	case errors.Is(err, ErrInvalidTransition):
		return api.Conflict("invalid_status", err.Error())
	case errors.Is(err, ErrUnknownUser):
		return api.BadRequest("unknown_user", err.Error())
	case errors.Is(err, ErrInvalid):
		return api.BadRequest("invalid_request", err.Error())
	case errors.Is(err, store.ErrExists):
		return api.Conflict("exists", err.Error())
	}
	return err
}

// invalid returns an ErrInvalid error whose message names the rule the
// request broke.
func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// decodeOptional decodes a JSON body into v when the request has one; an
// empty body without a Content-Type leaves v as it is.
func decodeOptional(w http.ResponseWriter, r *http.Request, v any) error {
	if r.ContentLength == 0 && r.Header.Get("Content-Type") == "" {
		return nil
	}
	return api.DecodeJSON(w, r, 0, v)
}

// pathID returns the path value name, or ErrNotFound when it cannot be an
// id, which is the same error as for an unknown id.
func pathID(r *http.Request, name string) (string, error) {
	id := r.PathValue(name)
	if !validID(id) {
		return "", ErrNotFound
	}
	return id, nil
}

// matchID rejects a body id that contradicts the path: the answer is the
// one for an unknown id, so a tampered body learns nothing.
func matchID(bodyID, pathID string) error {
	if bodyID != "" && bodyID != pathID {
		return ErrNotFound
	}
	return nil
}

// parseTime parses an RFC 3339 time from a query parameter, or returns def
// when the parameter is absent.
func parseTime(r *http.Request, name string, def time.Time) (time.Time, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, invalid("query parameter %s must be an RFC 3339 time such as 2030-01-02T15:04:05Z", name)
	}
	return t, nil
}
