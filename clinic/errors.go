package clinic

import "errors"

var (
	// ErrNotFound reports a consultation, patient or entry that does not
	// exist or that the caller may not know exists. Callers cannot tell
	// the two apart.
	ErrNotFound = errors.New("not found")
	// ErrOutsideWindow reports a participant joining before the join
	// window opens or after it closes.
	ErrOutsideWindow = errors.New("outside the consultation's join window")
	// ErrNotJoinable reports a participant joining a consultation that is
	// requested, cancelled, completed or marked as a no-show.
	ErrNotJoinable = errors.New("consultation cannot be joined in its status")
	// ErrSecondFactor reports a staff session without a second factor.
	ErrSecondFactor = errors.New("second factor required")
	// ErrInvalidTransition reports a status change the state machine does
	// not allow.
	ErrInvalidTransition = errors.New("invalid status transition")
	// ErrInvalid reports a request that breaks a validation rule. The
	// wrapping message names the rule.
	ErrInvalid = errors.New("invalid request")
	// ErrUnknownUser reports a referenced account that Deps.Users does not
	// know.
	ErrUnknownUser = errors.New("unknown user")
)
