package auth

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/bedside-health/bedside/api"
	"github.com/bedside-health/bedside/policy"
	"github.com/bedside-health/bedside/store"
)

var (
	// ErrInvalidCredentials reports a wrong email, password or second
	// factor. Its message does not name which of them was wrong.
	ErrInvalidCredentials = errors.New("invalid credentials")
	// ErrSessionInvalid reports an unknown, expired or revoked session
	// token.
	ErrSessionInvalid = errors.New("session is invalid or expired")
	// ErrTokenInvalid reports an unknown, expired or already used
	// invitation, password-reset or challenge token.
	ErrTokenInvalid = errors.New("token is invalid, expired or already used")
	// ErrInvalidEmail reports an email address that is not a plain
	// address of at most 254 characters.
	ErrInvalidEmail = errors.New("invalid email address")
	// ErrInvalidDisplayName reports an empty, overlong or non-printable
	// display name.
	ErrInvalidDisplayName = errors.New("invalid display name")
	// ErrEmailTaken reports an email that already belongs to an account.
	ErrEmailTaken = errors.New("email address is already registered")
	// ErrWeakPassword reports a password that breaks a password rule. The
	// wrapping *PasswordError names the rule.
	ErrWeakPassword = errors.New("password rejected")
	// ErrAccountDisabled reports a disabled account.
	ErrAccountDisabled = errors.New("account is disabled")
	// ErrNotFound reports an unknown account or session.
	ErrNotFound = errors.New("not found")
	// ErrForbidden reports an operation the caller's role does not allow.
	ErrForbidden = errors.New("operation not permitted")
	// ErrSecondFactorRequired reports a staff session that has not yet
	// presented a second factor.
	ErrSecondFactorRequired = errors.New("second factor required")
	// ErrCodeInvalid reports a wrong, expired or replayed TOTP or recovery
	// code.
	ErrCodeInvalid = errors.New("code is invalid or already used")
	// ErrAlreadyEnrolled reports a TOTP enrollment on an account that has
	// a confirmed second factor.
	ErrAlreadyEnrolled = errors.New("second factor is already enrolled")
	// ErrNoEnrollment reports a confirmation without a started enrollment.
	ErrNoEnrollment = errors.New("no TOTP enrollment in progress")
	// ErrSignupDisabled reports a self sign-up while Config.SelfSignup is
	// off.
	ErrSignupDisabled = errors.New("self sign-up is disabled")
	// ErrBusy reports that the password hashing queue is full.
	ErrBusy = errors.New("too many password checks in progress")
	// ErrWrongPassword reports a wrong current password when changing it.
	ErrWrongPassword = errors.New("current password is wrong")
	// ErrInvalidState reports an admin operation that does not fit the
	// account's status, such as enabling an invited account.
	ErrInvalidState = errors.New("operation does not fit the account status")
)

// PasswordError names the password rule a password broke. It wraps
// ErrWeakPassword.
type PasswordError struct {
	Reason string
}

func (e *PasswordError) Error() string { return "password rejected: " + e.Reason }

// Unwrap returns ErrWeakPassword.
func (e *PasswordError) Unwrap() error { return ErrWeakPassword }

// ThrottledError reports an attempt rejected by throttling or lockout.
// RetryAfter is how long the client must wait.
type ThrottledError struct {
	RetryAfter time.Duration
	// Locked is true when the account is locked rather than backing off.
	Locked bool
}

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("too many attempts: retry after %s", e.RetryAfter.Round(time.Second))
}

// toAPIError maps an error of this package to the error a client receives,
// setting Retry-After or WWW-Authenticate on w when w is not nil. Errors
// it does not know pass through unchanged, so api.WriteError logs them and
// returns 500.
func toAPIError(w http.ResponseWriter, err error) error {
	var apiErr *api.Error
	var pwErr *PasswordError
	var thr *ThrottledError
	switch {
	case errors.As(err, &apiErr):
		return apiErr
	case errors.As(err, &thr):
		secs := int((thr.RetryAfter + time.Second - 1) / time.Second)
		setHeader(w, "Retry-After", strconv.Itoa(max(secs, 1)))
		msg := "too many failed attempts; wait before trying again"
		if thr.Locked {
			msg = "too many failed attempts: sign-in is locked for a while; wait or ask an administrator to unlock the account"
		}
		return &api.Error{
			Status:  http.StatusTooManyRequests,
			Code:    "rate_limited",
			Message: msg,
			Details: map[string]int{"retry_after_seconds": max(secs, 1)},
		}
	case errors.Is(err, ErrBusy):
		setHeader(w, "Retry-After", "1")
		return &api.Error{
			Status:  http.StatusServiceUnavailable,
			Code:    "busy",
			Message: "the server is checking too many passwords at once; retry in a second",
		}
	case errors.Is(err, ErrInvalidCredentials), errors.Is(err, ErrSessionInvalid):
		setHeader(w, "WWW-Authenticate", `Bearer realm="bedside"`)
		return api.Unauthorized()
	case errors.Is(err, ErrTokenInvalid):
		return &api.Error{
			Status:  http.StatusUnauthorized,
			Code:    "invalid_token",
			Message: "the token is invalid, expired or already used; ask for a new one",
		}
	case errors.As(err, &pwErr):
		return api.BadRequest("weak_password", pwErr.Reason)
	case errors.Is(err, ErrInvalidEmail):
		return api.BadRequest("invalid_email", "email must be a plain address such as name@example.org")
	case errors.Is(err, ErrInvalidDisplayName):
		return api.BadRequest("invalid_display_name",
			"display_name must be 1 to 100 printable characters")
	case errors.Is(err, ErrEmailTaken):
		return api.Conflict("email_taken", "an account with this email address already exists")
	case errors.Is(err, ErrAccountDisabled):
		return api.Forbidden("this account is disabled; contact the clinic's administrator")
	case errors.Is(err, ErrSecondFactorRequired):
		return policy.SecondFactorError()
	case errors.Is(err, ErrForbidden):
		return policy.ForbiddenError()
	case errors.Is(err, ErrCodeInvalid):
		return &api.Error{
			Status:  http.StatusUnauthorized,
			Code:    "invalid_code",
			Message: "the code is wrong, expired or already used; wait for the next code",
		}
	case errors.Is(err, ErrAlreadyEnrolled):
		return api.Conflict("already_enrolled",
			"a second factor is already enrolled; an administrator can reset it")
	case errors.Is(err, ErrNoEnrollment):
		return api.Conflict("no_enrollment", "start the enrollment first: POST /api/v1/me/totp")
	case errors.Is(err, ErrSignupDisabled):
		return api.Forbidden("self sign-up is disabled on this server; ask the clinic for an invitation")
	case errors.Is(err, ErrWrongPassword):
		return &api.Error{
			Status:  http.StatusForbidden,
			Code:    "wrong_password",
			Message: "current_password is wrong",
		}
	case errors.Is(err, ErrInvalidState):
		return api.Conflict("invalid_state", err.Error())
	case errors.Is(err, ErrNotFound), errors.Is(err, store.ErrNotFound):
		return api.NotFound()
	}
	return err
}

func setHeader(w http.ResponseWriter, key, value string) {
	if w != nil {
		w.Header().Set(key, value)
	}
}
