package policytest

import (
	"bytes"
	"context"
	"testing"

	"github.com/bedside-health/bedside/api"
	"github.com/bedside-health/bedside/policy"
)

// Stats counts what Run checked.
type Stats struct {
	Cells   int // role × relation cells tried
	Allowed int // of which the document allows
	Skipped int // relations a case's resource cannot have
}

// Run tries every case for every role and scenario relation and reports
// each cell whose outcome differs from the document. An allowed cell must
// respond 2xx, and a denied one must respond with exactly api.NotFound when the actor
// holds no relation to a specific resource, and exactly
// policy.ForbiddenError otherwise. It also checks that anonymous callers
// get api.Unauthorized and staff sessions without a second factor get
// policy.SecondFactorError on every case.
func Run(t *testing.T, m Matrix) Stats {
	t.Helper()
	table := LoadDoc(t, m.Doc)
	newActor := m.NewActor
	if newActor == nil {
		newActor = DefaultActor
	}
	srv := newServer(m.Handler, m.Authenticate)
	defer srv.Close()

	var stats Stats
	covered := map[policy.Action]bool{}
	for _, c := range m.Cases {
		grants, ok := table[c.Action]
		if !ok {
			t.Errorf("%s: action %s is missing from %s", c.Name, c.Action, m.Doc)
			continue
		}
		covered[c.Action] = true
		t.Run(c.Name, func(t *testing.T) {
			for _, role := range policy.Roles {
				runRole(t, m, srv, c, role, grants[role], newActor, &stats)
			}
			checkAnonymous(t, srv, c)
		})
	}
	for _, a := range m.Actions {
		if !covered[a] {
			t.Errorf("action %s has no case", a)
		}
	}
	return stats
}

func runRole(t *testing.T, m Matrix, srv *server, c Case, role policy.Role, grant policy.Relation,
	newActor func(*testing.T, policy.Role) policy.Actor, stats *Stats) {
	t.Helper()
	for _, scenario := range Scenarios {
		actor := newActor(t, role)
		a, held, ok := c.Build(t, actor, scenario)
		if !ok {
			stats.Skipped++
			continue
		}
		if !held.Has(scenario) {
			t.Fatalf("%s as %s: Build for %q reported relations %q", c.Name, role, scenario, held)
		}
		if m.Resolver != nil && a.Resource != nil {
			got, err := m.Resolver.Relations(context.Background(), actor, *a.Resource)
			if err != nil {
				t.Fatalf("%s as %s: resolve: %v", c.Name, role, err)
			}
			if got != held {
				t.Errorf("%s as %s, %q: resolver found %q, Build reported %q", c.Name, role, scenario, got, held)
			}
		}
		stats.Cells++
		want := grant&policy.RelAny != 0 || grant&held != 0
		if want {
			stats.Allowed++
		}
		got := srv.do(t, a, actor)
		checkCell(t, c, role, held, want, got)

		if role.IsStaff() {
			checkSecondFactor(t, m, srv, c, actor, scenario)
		}
	}
}

func checkCell(t *testing.T, c Case, role policy.Role, held policy.Relation, want bool, got Result) {
	t.Helper()
	if want {
		if got.Status < 200 || got.Status > 299 {
			t.Errorf("%s as %s with relation %q: got %s, want allowed (2xx)", c.Name, role, held, got)
		}
		return
	}
	wantRes := Render(policy.ForbiddenError())
	if !c.Collection && (held == policy.RelNone || c.HideAll) {
		wantRes = Render(api.NotFound())
	}
	if got.Status != wantRes.Status || !bytes.Equal(got.Body, wantRes.Body) {
		t.Errorf("%s as %s with relation %q: got %s, want denied with %s", c.Name, role, held, got, wantRes)
	}
}

// checkSecondFactor repeats a cell with a fresh resource for the same
// actor without a second factor.
func checkSecondFactor(t *testing.T, m Matrix, srv *server, c Case, actor policy.Actor, scenario policy.Relation) {
	t.Helper()
	for _, r := range policy.Rules() {
		if r.Action == c.Action && r.NoSecondFactor {
			return
		}
	}
	actor.SecondFactor = false
	a, _, ok := c.Build(t, actor, scenario)
	if !ok {
		return
	}
	got := srv.do(t, a, actor)
	want := Render(policy.SecondFactorError())
	if got.Status != want.Status || !bytes.Equal(got.Body, want.Body) {
		t.Errorf("%s as %s without second factor: got %s, want %s", c.Name, actor.Role, got, want)
	}
}

func checkAnonymous(t *testing.T, srv *server, c Case) {
	t.Helper()
	a, _, ok := c.Build(t, DefaultActor(t, policy.RolePatient), policy.RelNone)
	if !ok {
		return
	}
	got := srv.do(t, a, policy.Actor{})
	want := Render(api.Unauthorized())
	if got.Status != want.Status || !bytes.Equal(got.Body, want.Body) {
		t.Errorf("%s anonymous: got %s, want %s", c.Name, got, want)
	}
}
