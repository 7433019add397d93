package auth

import (
	"net/http"
	"time"

	"github.com/bedside-health/bedside/api"
	"github.com/bedside-health/bedside/policy"
)

// maxAuthBody bounds the JSON bodies of this package's endpoints; the
// largest field is a 128-character password.
const maxAuthBody = 4 << 10

// Register adds the account and session endpoints to rt. The routes that
// need a caller read the Actor that Middleware stored, so Middleware must
// wrap the router.
func (s *Service) Register(rt *api.Router) {
	rt.HandleFunc("POST /api/v1/auth/login", s.handleLogin)
	rt.HandleFunc("POST /api/v1/auth/login/second-factor", s.handleLoginSecondFactor)
	rt.HandleFunc("POST /api/v1/auth/logout", s.handleLogout)
	rt.HandleFunc("GET /api/v1/auth/sessions", s.handleSessions)
	rt.HandleFunc("DELETE /api/v1/auth/sessions/{id}", s.handleRevokeSession)

	rt.HandleFunc("GET /api/v1/me", s.handleMe)
	rt.HandleFunc("POST /api/v1/me/password", s.handleChangePassword)
	rt.HandleFunc("POST /api/v1/me/totp", s.handleStartTOTP)
	rt.HandleFunc("POST /api/v1/me/totp/confirm", s.handleConfirmTOTP)

	rt.HandleFunc("POST /api/v1/invitations", s.handleInvite)
	rt.HandleFunc("POST /api/v1/invitations/accept", s.handleAcceptInvitation)
	rt.HandleFunc("POST /api/v1/signup", s.handleSignup)
	rt.HandleFunc("POST /api/v1/password-reset", s.handlePasswordReset)

	rt.HandleFunc("GET /api/v1/admin/users", s.handleListUsers)
	rt.HandleFunc("POST /api/v1/admin/users/{id}/disable", s.adminAction(s.Disable))
	rt.HandleFunc("POST /api/v1/admin/users/{id}/enable", s.adminAction(s.Enable))
	rt.HandleFunc("POST /api/v1/admin/users/{id}/unlock", s.adminAction(s.Unlock))
	rt.HandleFunc("POST /api/v1/admin/users/{id}/reset-second-factor", s.adminAction(s.ResetSecondFactor))
	rt.HandleFunc("POST /api/v1/admin/users/{id}/role", s.handleChangeRole)
	rt.HandleFunc("POST /api/v1/admin/users/{id}/password-reset", s.handleIssueReset)
}

// fail writes err in the one error shape.
func (s *Service) fail(w http.ResponseWriter, r *http.Request, err error) {
	api.WriteError(w, r, s.log, toAPIError(w, err))
}

func clientOf(r *http.Request) client {
	return client{Address: api.ClientAddr(r), UserAgent: r.UserAgent()}
}

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// loginResponse is the response body of both sign-in steps. After the password
// step of an account with a second factor, only SecondFactorRequired,
// Challenge and ChallengeExpiresAt are set.
type loginResponse struct {
	SecondFactorRequired bool        `json:"second_factor_required"`
	Challenge            string      `json:"challenge,omitempty"`
	ChallengeExpiresAt   *time.Time  `json:"challenge_expires_at,omitempty"`
	Session              *NewSession `json:"session,omitempty"`
	Account              *Account    `json:"account,omitempty"`
	// EnrollmentRequired is true for a staff session without a second
	// factor: it may only enroll one (POST /api/v1/me/totp) or sign out.
	EnrollmentRequired bool `json:"second_factor_enrollment_required,omitempty"`
}

func (s *Service) writeLogin(w http.ResponseWriter, res loginResult) {
	if res.Challenge != "" {
		api.WriteJSON(w, http.StatusOK, loginResponse{
			SecondFactorRequired: true,
			Challenge:            res.Challenge,
			ChallengeExpiresAt:   &res.ChallengeExpiresAt,
		})
		return
	}
	acct := res.Account
	api.WriteJSON(w, http.StatusOK, loginResponse{
		Session:            res.Session,
		Account:            &acct,
		EnrollmentRequired: acct.Role.IsStaff() && !res.Session.SecondFactor,
	})
}

func (s *Service) handleLogin(w http.ResponseWriter, r *http.Request) {
	var req loginRequest
	if err := api.DecodeJSON(w, r, maxAuthBody, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	res, err := s.login(r.Context(), req.Email, req.Password, clientOf(r))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeLogin(w, res)
}

type secondFactorRequest struct {
	Challenge string `json:"challenge"`
	Code      string `json:"code"`
}

func (s *Service) handleLoginSecondFactor(w http.ResponseWriter, r *http.Request) {
	var req secondFactorRequest
	if err := api.DecodeJSON(w, r, maxAuthBody, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	res, err := s.loginSecondFactor(r.Context(), req.Challenge, req.Code, clientOf(r))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeLogin(w, res)
}

func (s *Service) handleLogout(w http.ResponseWriter, r *http.Request) {
	actor, err := authorizeSelf(r, policy.ActionAccountUpdateSelf)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.revokeSession(r.Context(), actor.UserID, actor.SessionID, revokeLogout, actor.UserID)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Service) handleSessions(w http.ResponseWriter, r *http.Request) {
	actor, err := authorizeSelf(r, policy.ActionAccountReadSelf)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	list, err := s.Sessions(r.Context(), actor.UserID, actor.SessionID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	api.WriteJSON(w, http.StatusOK, map[string]any{"sessions": list})
}

func (s *Service) handleRevokeSession(w http.ResponseWriter, r *http.Request) {
	actor, err := authorizeSelf(r, policy.ActionAccountUpdateSelf)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.RevokeSession(r.Context(), actor.UserID, r.PathValue("id")); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
