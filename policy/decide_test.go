package policy

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/bedside-health/bedside/api"
)

func staff(role Role) Actor {
	return Actor{UserID: "u-" + string(role), Role: role, SessionID: "s", SecondFactor: true}
}

func TestDecideExamples(t *testing.T) {
	patient := Actor{UserID: "p1", Role: RolePatient, SessionID: "s"}
	consultation := Consultation("c1")
	billing := Resource{Kind: KindBilling, ConsultationID: "c1"}
	tests := []struct {
		name   string
		actor  Actor
		action Action
		res    Resource
		rel    Relation
		want   bool
	}{
		{"nurse reads her patient's consultation", staff(RoleNurse), ActionConsultationRead, consultation, RelCareTeam, true},
		{"nurse reads her patient's billing", staff(RoleNurse), ActionBillingRead, billing, RelCareTeam, false},
		{"clinician host reads billing", staff(RoleClinician), ActionBillingRead, billing, RelCareTeam | RelParticipant | RelHost, false},
		{"patient reads own billing", patient, ActionBillingRead, billing, RelOwner | RelParticipant, true},
		{"guest patient reads billing", patient, ActionBillingRead, billing, RelParticipant, false},
		{"patient reads other consultation", patient, ActionConsultationRead, consultation, RelNone, false},
		{"billing reads billing", staff(RoleBilling), ActionBillingRead, billing, RelNone, true},
		{"billing reads consultation", staff(RoleBilling), ActionConsultationRead, consultation, RelNone, false},
		{"admin reads audit", staff(RoleAdmin), ActionAuditRead, Resource{Kind: KindAudit}, RelNone, true},
		{"admin listed as participant joins", staff(RoleAdmin), ActionConsultationJoin, consultation, RelParticipant | RelHost, false},
		{"admin reads conversation", staff(RoleAdmin), ActionConversationRead, Resource{Kind: KindConversation, ConsultationID: "c1"}, RelNone, false},
		{"nurse host admits", staff(RoleNurse), ActionConsultationAdmit, consultation, RelParticipant | RelHost, false},
		{"clinician host admits", staff(RoleClinician), ActionConsultationAdmit, consultation, RelParticipant | RelHost, true},
		{"clinician guest admits", staff(RoleClinician), ActionConsultationAdmit, consultation, RelParticipant, false},
		{"computed any is ignored", patient, ActionAuditRead, Resource{Kind: KindAudit}, RelAny, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Decide(tt.actor, tt.action, tt.res, tt.rel)
			if d.Allowed != tt.want {
				t.Errorf("got allowed %v (reason %v), want %v", d.Allowed, d.Reason, tt.want)
			}
			if d.Allowed != (d.Err() == nil) {
				t.Errorf("got Err %v for allowed %v", d.Err(), d.Allowed)
			}
		})
	}
}

func TestDecideDenialAnswers(t *testing.T) {
	tests := []struct {
		name       string
		actor      Actor
		action     Action
		res        Resource
		rel        Relation
		wantStatus int
		wantCode   string
	}{
		{"anonymous", Actor{}, ActionConsultationRead, Consultation("c"), RelOwner, http.StatusUnauthorized, "unauthenticated"},
		{"no relation to a specific resource", staff(RoleNurse), ActionConsultationRead, Consultation("c"), RelNone, http.StatusNotFound, "not_found"},
		{"known resource", staff(RoleNurse), ActionBillingRead, Resource{Kind: KindBilling, ConsultationID: "c"}, RelCareTeam, http.StatusForbidden, "forbidden"},
		{"collection", staff(RoleNurse), ActionAuditRead, Resource{Kind: KindAudit}, RelNone, http.StatusForbidden, "forbidden"},
		{"staff without second factor", Actor{UserID: "n", Role: RoleNurse}, ActionConsultationRead, Consultation("c"), RelCareTeam, http.StatusForbidden, "second_factor_required"},
		{"unknown action", staff(RoleAdmin), Action("account.delete-everything"), Resource{}, RelNone, http.StatusForbidden, "forbidden"},
		{"unknown role", Actor{UserID: "x", Role: "root", SecondFactor: true}, ActionAuditRead, Resource{}, RelNone, http.StatusForbidden, "forbidden"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Decide(tt.actor, tt.action, tt.res, tt.rel).Err()
			var e *api.Error
			if !errors.As(err, &e) {
				t.Fatalf("got error %v, want *api.Error", err)
			}
			if e.Status != tt.wantStatus || e.Code != tt.wantCode {
				t.Errorf("got %d %s, want %d %s", e.Status, e.Code, tt.wantStatus, tt.wantCode)
			}
		})
	}
}

func TestSecondFactorExemptions(t *testing.T) {
	noFactor := Actor{UserID: "a", Role: RoleAdmin, SessionID: "s"}
	for _, r := range rules {
		d := Decide(noFactor, r.Action, Account("a"), RelOwner)
		if r.NoSecondFactor && !d.Allowed {
			t.Errorf("%s: got denied without a second factor, want allowed", r.Action)
		}
		if !r.NoSecondFactor && !errors.Is(d.Reason, ErrSecondFactor) {
			t.Errorf("%s: got reason %v, want ErrSecondFactor", r.Action, d.Reason)
		}
	}
	patient := Actor{UserID: "p", Role: RolePatient, SessionID: "s"}
	if d := Decide(patient, ActionConsultationRead, Consultation("c"), RelOwner); !d.Allowed {
		t.Errorf("patient without a second factor: got %v, want allowed", d.Reason)
	}
}

func TestInvitationRoles(t *testing.T) {
	for _, inviter := range Roles {
		for _, invitee := range Roles {
			want := inviter == RoleAdmin ||
				(invitee == RolePatient && (inviter == RoleClinician || inviter == RoleNurse))
			res := Resource{Kind: KindInvitation, Role: invitee}
			d := Decide(staffOrPatient(inviter), ActionInvitationCreate, res, RelNone)
			if d.Allowed != want {
				t.Errorf("%s invites %s: got %v, want %v", inviter, invitee, d.Allowed, want)
			}
		}
	}
}

func staffOrPatient(role Role) Actor {
	a := staff(role)
	a.SecondFactor = role.IsStaff()
	return a
}

type countingResolver struct {
	rel   Relation
	calls int
}

func (r *countingResolver) Relations(context.Context, Actor, Resource) (Relation, error) {
	r.calls++
	return r.rel, nil
}

func TestCheckResolvesOnlyWhenNeeded(t *testing.T) {
	r := &countingResolver{rel: RelOwner}
	ctx := context.Background()
	if d, _ := Check(ctx, r, staff(RoleBilling), ActionBillingRead, Resource{Kind: KindBilling, ConsultationID: "c"}); !d.Allowed {
		t.Fatalf("billing read by billing staff: got %v, want allowed", d.Reason)
	}
	if _, _ = Check(ctx, r, Actor{UserID: "n", Role: RoleNurse}, ActionConsultationRead, Consultation("c")); r.calls != 0 {
		t.Errorf("got %d resolver calls for grants of any and a missing second factor, want 0", r.calls)
	}
	if d, _ := Check(ctx, r, Actor{UserID: "p", Role: RolePatient}, ActionConsultationRead, Consultation("c")); !d.Allowed || r.calls != 1 {
		t.Errorf("got allowed %v after %d calls, want allowed after 1", d.Allowed, r.calls)
	}
}

func TestRelationStringRoundTrip(t *testing.T) {
	for rel := Relation(0); rel < 1<<5; rel++ {
		for _, extra := range []Relation{0, RelAny} {
			got, ok := ParseRelation((rel | extra).String())
			if !ok || got != rel|extra {
				t.Errorf("ParseRelation(%q): got %v %v, want %v", (rel | extra).String(), got, ok, rel|extra)
			}
		}
	}
}

func TestRulesCoverEveryRoleKnown(t *testing.T) {
	for _, r := range rules {
		for role := range r.Grants {
			if _, err := ParseRole(string(role)); err != nil {
				t.Errorf("%s grants unknown role %q", r.Action, role)
			}
		}
		if r.Summary == "" {
			t.Errorf("%s has no summary", r.Action)
		}
	}
}
