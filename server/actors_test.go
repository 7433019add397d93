package server

import (
	"sync"
	"testing"

	"github.com/bedside-health/bedside/policy"
	"github.com/bedside-health/bedside/policy/policytest"
)

// sourceKind selects the actors a matrix case needs.
type sourceKind int

const (
	// sharedActors serve every cell with one account per role. Each cell
	// builds fresh resources, and the routes served this way change
	// nothing on the actor's own account, so the cells stay independent.
	sharedActors sourceKind = iota
	// freshActors serve each cell that runs with a new account, for routes
	// that end sessions or change the account.
	freshActors
	// unenrolledActors are fresh accounts without a second factor, for the
	// TOTP enrollment routes. Staff among them act without it.
	unenrolledActors
)

// actorSource creates the matrix's actors with real sessions.
type actorSource struct {
	tc   *testClinic
	kind sourceKind

	mu     sync.Mutex
	shared map[policy.Role]policy.Actor
	// spare holds fresh actors whose cell did not run, because the case
	// has no resource for the relation; they serve the next cell.
	spare map[policy.Role][]policy.Actor
	made  map[string]policy.Actor
}

func newActorSource(tc *testClinic, kind sourceKind) *actorSource {
	return &actorSource{tc: tc, kind: kind, shared: map[policy.Role]policy.Actor{},
		spare: map[policy.Role][]policy.Actor{}, made: map[string]policy.Actor{}}
}

// newActor implements policytest.Matrix.NewActor.
func (s *actorSource) newActor(t *testing.T, role policy.Role) policy.Actor {
	t.Helper()
	s.mu.Lock()
	if a, ok := s.shared[role]; ok && s.kind == sharedActors {
		s.mu.Unlock()
		return a
	}
	if n := len(s.spare[role]); n > 0 {
		a := s.spare[role][n-1]
		s.spare[role] = s.spare[role][:n-1]
		s.mu.Unlock()
		return a
	}
	s.mu.Unlock()

	var a policy.Actor
	if s.kind == unenrolledActors {
		_, a = s.tc.newUnenrolledUser(t, role)
	} else {
		a = s.tc.newActor(t, role)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.made[a.UserID] = a
	if s.kind == sharedActors {
		s.shared[role] = a
	}
	return a
}

// release returns an actor whose cell did not run to the spare list.
func (s *actorSource) release(actor policy.Actor) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.made[actor.UserID]
	if !ok || s.kind == sharedActors {
		return
	}
	s.spare[a.Role] = append(s.spare[a.Role], a)
}

// recycle wraps build so that an actor it finds no resource for goes back
// to the source.
func (s *actorSource) recycle(b build) build {
	return func(t *testing.T, actor policy.Actor, rel policy.Relation) (policytest.Attempt, policy.Relation, bool) {
		a, held, ok := b(t, actor, rel)
		if !ok {
			s.release(actor)
		}
		return a, held, ok
	}
}

type build = func(t *testing.T, actor policy.Actor, rel policy.Relation) (policytest.Attempt, policy.Relation, bool)
