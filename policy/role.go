package policy

import (
	"context"
	"fmt"
)

// Role is the single role an account holds. Its string form is the value
// stored in the database and used in the API.
type Role string

// The roles of a clinic. Staff roles are every role except RolePatient.
const (
	RolePatient   Role = "patient"
	RoleClinician Role = "clinician"
	RoleNurse     Role = "nurse"
	RoleBilling   Role = "billing"
	RoleAdmin     Role = "admin"
)

// Roles lists every role in a stable order, for validation, help text and
// matrix tests.
var Roles = []Role{RolePatient, RoleClinician, RoleNurse, RoleBilling, RoleAdmin}

// ParseRole returns the role named s, or an error naming the accepted values.
func ParseRole(s string) (Role, error) {
	for _, r := range Roles {
		if string(r) == s {
			return r, nil
		}
	}
	return "", fmt.Errorf("invalid role %q: use one of patient, clinician, nurse, billing, admin", s)
}

// IsStaff reports whether r is a clinic staff role. Staff accounts must use a
// second factor before any health data is reachable.
func (r Role) IsStaff() bool {
	switch r {
	case RoleClinician, RoleNurse, RoleBilling, RoleAdmin:
		return true
	}
	return false
}

// Actor is an authenticated caller: the account acting and the session it
// acts through. The zero Actor is anonymous and is denied everything.
type Actor struct {
	UserID    string
	Role      Role
	SessionID string
	// SecondFactor is true when the session was established with a verified
	// second factor (TOTP or a recovery code).
	SecondFactor bool
}

// Anonymous reports whether a is the zero Actor.
func (a Actor) Anonymous() bool { return a.UserID == "" }

type actorKey struct{}

// WithActor returns a copy of ctx carrying a.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFrom returns the Actor stored in ctx by WithActor, and false when the
// request is not authenticated.
func ActorFrom(ctx context.Context) (Actor, bool) {
	a, ok := ctx.Value(actorKey{}).(Actor)
	return a, ok && !a.Anonymous()
}
