package auth

import (
	"net/http"

	"github.com/bedside-health/bedside/api"
	"github.com/bedside-health/bedside/policy"
)

type inviteRequest struct {
	Email       string `json:"email"`
	Role        string `json:"role"`
	DisplayName string `json:"display_name"`
}

func (s *Service) handleInvite(w http.ResponseWriter, r *http.Request) {
	actor, err := RequireActor(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var req inviteRequest
	if err := api.DecodeJSON(w, r, maxAuthBody, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	role, err := policy.ParseRole(req.Role)
	if err != nil {
		s.fail(w, r, api.BadRequest("invalid_role", err.Error()))
		return
	}
	inv, err := s.Invite(r.Context(), actor, req.Email, role, req.DisplayName)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	api.WriteJSON(w, http.StatusCreated, inv)
}

type acceptRequest struct {
	Token       string `json:"token"`
	Password    string `json:"password"`
	DisplayName string `json:"display_name"`
}

func (s *Service) handleAcceptInvitation(w http.ResponseWriter, r *http.Request) {
	var req acceptRequest
	if err := api.DecodeJSON(w, r, maxAuthBody, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	acct, err := s.acceptInvitation(r.Context(), req.Token, req.Password, req.DisplayName, clientOf(r))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	api.WriteJSON(w, http.StatusOK, map[string]any{"account": acct})
}

type signupRequest struct {
	Email       string `json:"email"`
	Password    string `json:"password"`
	DisplayName string `json:"display_name"`
}

func (s *Service) handleSignup(w http.ResponseWriter, r *http.Request) {
	if !s.cfg.SelfSignup {
		s.fail(w, r, ErrSignupDisabled)
		return
	}
	var req signupRequest
	if err := api.DecodeJSON(w, r, maxAuthBody, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	acct, err := s.signup(r.Context(), req.Email, req.Password, req.DisplayName, clientOf(r))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	api.WriteJSON(w, http.StatusCreated, map[string]any{"account": acct})
}

type passwordResetRequest struct {
	Token    string `json:"token"`
	Password string `json:"password"`
}

func (s *Service) handlePasswordReset(w http.ResponseWriter, r *http.Request) {
	var req passwordResetRequest
	if err := api.DecodeJSON(w, r, maxAuthBody, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.consumeReset(r.Context(), req.Token, req.Password, clientOf(r)); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
