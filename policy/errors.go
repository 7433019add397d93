package policy

import (
	"errors"
	"net/http"

	"github.com/bedside-health/bedside/api"
)

// Sentinel reasons for a denial, matched with errors.Is on Decision.Reason.
var (
	// ErrUnauthenticated reports an anonymous actor.
	ErrUnauthenticated = errors.New("not authenticated")
	// ErrSecondFactor reports a staff session without a verified second
	// factor.
	ErrSecondFactor = errors.New("second factor required")
	// ErrNoRelation reports an actor with no relation to the resource, or
	// a resource that does not exist.
	ErrNoRelation = errors.New("no relation to the resource")
	// ErrNotGranted reports an actor whose role and relations do not grant
	// the action.
	ErrNotGranted = errors.New("action not granted to the role")
	// ErrInviteRole reports an invitation for a role the inviter may not
	// grant.
	ErrInviteRole = errors.New("role may not be invited by this role")
	// ErrUnknownAction reports an action missing from the rule table.
	ErrUnknownAction = errors.New("unknown action")
)

// The messages of the two denial responses. Every denial uses one of these
// exact bodies, so a denied caller learns nothing from the wording.
const (
	forbiddenMessage    = "you do not have permission to do this"
	secondFactorMessage = "this requires a session signed in with a second factor: " +
		"sign in again and enter your authenticator code"
)

// NotFoundError is the response to a denial on a resource the actor may not
// know exists. It is api.NotFound, the same response as for a missing id.
func NotFoundError() *api.Error { return api.NotFound() }

// ForbiddenError is the response to a denial on a resource the actor knows
// of, or on a collection.
func ForbiddenError() *api.Error { return api.Forbidden(forbiddenMessage) }

// SecondFactorError is the response to a staff session without a second
// factor. It is sent before any resource is looked up.
func SecondFactorError() *api.Error {
	return &api.Error{Status: http.StatusForbidden, Code: "second_factor_required",
		Message: secondFactorMessage}
}
