package policy

import (
	"context"
	"errors"
	"fmt"

	"github.com/bedside-health/bedside/api"
)

// Decision is the outcome of one access check.
type Decision struct {
	Allowed bool
	// Relations the actor was found to hold; RelNone when the check
	// stopped before resolving them.
	Relations Relation
	// Reason is nil when Allowed, otherwise one of the Err sentinels.
	Reason error
	// Hidden is true when the denial must look like a missing resource:
	// the resource is specific and the actor has no relation to it.
	Hidden bool
}

// Err returns nil for an allowed decision and otherwise the *api.Error the
// caller must respond with:
//
//   - api.Unauthorized for an anonymous actor;
//   - SecondFactorError for a staff session without a second factor;
//   - api.NotFound when the actor has no relation to the specific
//     resource, whether or not it exists;
//   - ForbiddenError when the actor has a relation to the resource but may
//     not perform the action, or when the resource is a collection.
func (d Decision) Err() error {
	switch {
	case d.Allowed:
		return nil
	case errors.Is(d.Reason, ErrUnauthenticated):
		return api.Unauthorized()
	case errors.Is(d.Reason, ErrSecondFactor):
		return SecondFactorError()
	case d.Hidden:
		return NotFoundError()
	default:
		return ForbiddenError()
	}
}

// Precheck applies the checks that need no lookup: an authenticated actor
// with a known role, a known action, the second factor for staff, and for
// invitations the role to be granted. It returns the denial, or ok true
// when the relations must be resolved next.
func Precheck(actor Actor, action Action, res Resource) (Decision, bool) {
	if actor.Anonymous() {
		return Decision{Reason: ErrUnauthenticated}, false
	}
	rule, known := ruleIndex[action]
	if !known {
		return Decision{Reason: fmt.Errorf("%w %q", ErrUnknownAction, action)}, false
	}
	if _, err := ParseRole(string(actor.Role)); err != nil {
		return Decision{Reason: ErrNotGranted}, false
	}
	if actor.Role.IsStaff() && !actor.SecondFactor && !rule.NoSecondFactor {
		return Decision{Reason: ErrSecondFactor}, false
	}
	if action == ActionInvitationCreate && !MayInvite(actor.Role, res.Role) {
		return Decision{Reason: ErrInviteRole}, false
	}
	return Decision{}, true
}

// Decide returns the decision for actor performing action on res, given the
// actor's relations to res. It is deny by default: an unknown action or role,
// or a role absent from the action's rule, is denied.
func Decide(actor Actor, action Action, res Resource, rel Relation) Decision {
	if d, ok := Precheck(actor, action, res); !ok {
		return d
	}
	rel &^= RelAny // RelAny is a grant, never a computed relation
	grant := Grant(actor.Role, action)
	d := Decision{Relations: rel}
	if grant&RelAny != 0 || grant&rel != 0 {
		d.Allowed = true
		return d
	}
	d.Hidden = res.Specific() && rel == RelNone
	if d.Hidden {
		d.Reason = ErrNoRelation
	} else {
		d.Reason = ErrNotGranted
	}
	return d
}

// Resolver computes an actor's relations to a resource from stored state
// (care teams, consultation participants). A resource that does not exist
// yields RelNone and no error; an error means the lookup itself failed.
type Resolver interface {
	Relations(ctx context.Context, actor Actor, res Resource) (Relation, error)
}

// Check runs Precheck, resolves the relations with r only when needed, and
// decides. A resolver error is returned as is, with a denied decision.
func Check(ctx context.Context, r Resolver, actor Actor, action Action, res Resource) (Decision, error) {
	if d, ok := Precheck(actor, action, res); !ok {
		return d, nil
	}
	var rel Relation
	if res.Specific() && Grant(actor.Role, action)&RelAny == 0 {
		var err error
		rel, err = r.Relations(ctx, actor, res)
		if err != nil {
			return Decision{Reason: err}, fmt.Errorf("resolve relations for %s: %w", action, err)
		}
	}
	return Decide(actor, action, res, rel), nil
}
