package auth

import (
	"net/http"

	"github.com/bedside-health/bedside/api"
	"github.com/bedside-health/bedside/policy"
)

func (s *Service) handleMe(w http.ResponseWriter, r *http.Request) {
	actor, err := authorizeSelf(r, policy.ActionAccountReadSelf)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	acct, err := s.Account(r.Context(), actor.UserID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	api.WriteJSON(w, http.StatusOK, map[string]any{
		"account":               acct,
		"session_id":            actor.SessionID,
		"session_second_factor": actor.SecondFactor,
	})
}

type changePasswordRequest struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

func (s *Service) handleChangePassword(w http.ResponseWriter, r *http.Request) {
	actor, err := authorizeSelf(r, policy.ActionAccountUpdateSelf)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var req changePasswordRequest
	if err := api.DecodeJSON(w, r, maxAuthBody, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	err = s.changePassword(r.Context(), actor, req.CurrentPassword, req.NewPassword, clientOf(r))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Service) handleStartTOTP(w http.ResponseWriter, r *http.Request) {
	actor, err := authorizeSelf(r, policy.ActionAccountUpdateSelf)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	enr, err := s.startEnrollment(r.Context(), actor)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	api.WriteJSON(w, http.StatusOK, enr)
}

type confirmTOTPRequest struct {
	Code string `json:"code"`
}

func (s *Service) handleConfirmTOTP(w http.ResponseWriter, r *http.Request) {
	actor, err := authorizeSelf(r, policy.ActionAccountUpdateSelf)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var req confirmTOTPRequest
	if err := api.DecodeJSON(w, r, maxAuthBody, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	codes, err := s.confirmEnrollment(r.Context(), actor, req.Code)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	api.WriteJSON(w, http.StatusOK, map[string]any{"recovery_codes": codes})
}
